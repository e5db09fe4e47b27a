"""Running sweeps offline: ``lrd sweep FILE [FILE ...] [--workers N] [--profile P] [--out DIR]
[--retry-failed] [--full-grid]``.

``run`` checks everything first (the options, every file, every run's config of every sweep:
see ``spec``), so bad input writes nothing. Then, sweep after sweep in the order given, it lists
the sweep's run ids in ``<out>/_sweeps/<name>.txt`` and trains the runs not yet recorded in N
worker processes (one pool for all), with one progress bar for all of them. The bar counts
runs; its ``eta`` is the work left (each pending run's step budget × sequence length, its
``work``) over the rate at which budgeted work has been done so far in this call: an estimate,
not a bound. Runs that stop early (solved) or are skipped make it shrink faster than the
clock; long unsolved runs late in the study make it grow.

Where runs go: ``--out``, else the runs' own ``log.out`` (the defaults' ``.lrd/runs``, or a
profile's, such as smoke's ``.lrd/smoke/runs``); relative paths are from the repository root.
``make reproduce`` passes ``--out results/runs``; nothing else writes into ``results/``.

Resume and safety. A run's id is the hash of its resolved config, and its folder appears
atomically with its record (``lrd.training.record``), so a run whose record exists is skipped:
rerunning a sweep after an interruption redoes only what was unfinished. Each run holds an
exclusive file lock while it trains, so two workers (or two ``lrd sweep`` processes) never run
the same config. A run that raises is recorded as failed, one whose loss diverges as diverged,
and the sweep goes on. ``--retry-failed`` reruns the runs recorded as failed. A run stopped from
outside (a time limit's SIGTERM or Ctrl-C, which ``lrd.training.run`` records as failed with a
``SIGTERMException`` or ``SystemExit``) is rerun by the next ``lrd sweep`` anyway: it is no
result, so a sweep run in time-limited slices resumes. SIGTERM stops ``lrd sweep`` as Ctrl-C
does, and the sweep kills its worker processes on the way out, so none is left training.

Horizon search. A sweep file that opts in (``lrd: {horizon_search: {always: [...]}}``, see
``lrd.sweeps.spec``) runs in waves, one length (``task.length``) at a time in increasing
order, in the same worker pool. After each wave, a group (the runs that differ only in length
and seed: same model, init, regime, ...) whose every seed failed at that length is cut there:
every seed trained to its end (complete or diverged) and none solved. Its runs at longer
lengths are not trained but recorded as skipped (``status: "skipped"``, ``reason: "not run:
every seed failed at T=50"``, ``failed_at``, the ``evidence`` run ids, the full resolved config,
``steps: 0``, no metrics), except at the anchor lengths ``always``, which every group runs; a
seed solved at an anchor above the cut lifts it. A failed (crashed) seed is no evidence: it
does not cut its group. The rule is the one of the issue (a model that fails at T in every seed
almost surely fails at 2T); ``--full-grid`` runs every grid point for anyone who doubts it.

Skipped records and resume. A skipped record is a record (its folder appears atomically), but
never a finished run: every later ``lrd sweep`` looks at it again. The search rewrites it if
its reason changed, or trains it if its group is no longer cut (a crashed seed retried with
``--retry-failed`` solved, say); ``--full-grid``, or a sweep without the search, trains it
(the record is replaced when the run ends). A real record, from any sweep, is kept and counts
as evidence. The counts: ``skipped`` runs were recorded before (not rerun), ``not_run`` runs
are left recorded as skipped by the search.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

from lrd import config as cfglib
from lrd.errors import ConfigError
from lrd.sweeps.spec import Job, load, plan
from lrd.training import record
from lrd.training.threads import usable_cores, worker_env, worker_threads

MEMBERS = "_sweeps"   # <out>/_sweeps/<sweep>.txt: the run ids of each sweep (lrd.results reads)


def run(paths, workers: int | None = None, profile: str | None = None,
        out: str | None = None, retry_failed: bool = False, progress: bool = True,
        full_grid: bool = False) -> dict:
    """Run every run of the sweep file(s) ``paths`` not yet recorded, sweep after sweep; return
    counts by status (over all sweeps), the errors of failed runs and the run folder.
    ``workers`` defaults to one per CPU core. A sweep that opts in to the horizon search runs
    in waves, one length at a time, unless ``full_grid``; ``not_run`` then counts the runs
    recorded as skipped."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    sweeps = [load(p, profile) for p in paths]
    plans = [plan(s, out) for s in sweeps]            # every config checked before any run
    out_dir = run_folder([j for jobs in plans for j in jobs])
    clean_staging(out_dir)
    redo = (SKIPPED, "failed") if retry_failed else (SKIPPED,)
    seen: set[str] = set()
    todo = []                # pending runs, each once (a config two sweeps share runs once)
    for jobs in plans:
        for j in jobs:
            if j.run_id not in seen and redone(record.read(out_dir / j.run_id), redo):
                todo.append(j)
            seen.add(j.run_id)
    workers = workers or default_workers()
    counts = {"complete": 0, "diverged": 0, "failed": 0, "skipped": len(seen) - len(todo)}
    searched = [s.horizon_search for s in sweeps if not full_grid]
    if any(h is not None for h in searched):
        counts["not_run"] = 0
    names = sweeps[0].name if len(sweeps) == 1 else f"{len(sweeps)} sweeps"
    desc = f"{names} [{sweeps[0].profile}]"
    for sweep, jobs in zip(sweeps, plans):   # every sweep's plan, before any run: the report
        write_members(out_dir, sweep.name, [j.run_id for j in jobs])   # counts what is to run
    with _stop_on_sigterm(), _Pool(workers, todo, counts, desc, progress, redo) as pool:
        for sweep, jobs in zip(sweeps, plans):
            # looked at again now: an earlier sweep of this call may have recorded a shared
            # run as skipped, which a sweep without the search (or the full grid) trains
            pending = {j.run_id for j in jobs if redone(record.read(out_dir / j.run_id), redo)}
            for j in jobs:
                if j.run_id in pending:
                    pool.add(j)
            search = sweep.horizon_search if not full_grid else None
            pool.bar.set_description(f"{sweep.name} [{sweep.profile}]"
                                     + (" horizon search" if search else ""), refresh=False)
            if search is None:   # short lengths first
                pool.train(sorted((j for j in jobs if j.run_id in pending),
                                  key=lambda j: j.length))
            else:
                _horizon_search(jobs, pending, search.always, out_dir, pool)
    return {**counts, "total": len(seen), "errors": pool.errors, "out": str(out_dir)}


def work(job: Job) -> float:
    """A run's budgeted work: its step budget times its sequence length in time steps."""
    from lrd.tasks import TASKS

    task = job.config["task"]
    params = {k: v for k, v in task.items() if k not in ("name", "length")}
    return float(job.config["train"]["max_steps"]) * TASKS.make(task["name"], **params) \
        .sequence_length(task["length"])


@contextlib.contextmanager
def _stop_on_sigterm():
    """SIGTERM (``timeout``, a scheduler) stops the sweep as Ctrl-C does: the pool kills its
    workers on the way out, instead of this process dying and leaving them training, orphaned,
    through the jobs already queued to them."""
    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)


# -- horizon search -----------------------------------------------------------------------------

SKIPPED = record.SKIPPED


def _horizon_search(jobs: list[Job], todo: set[str], always, out_dir: Path, pool) -> None:
    """Waves, one length at a time in increasing order: a wave trains its pending runs in the
    pool, then each group whose every seed failed at that length (no seed solved, every seed
    measured: complete or diverged) is cut there. Runs of a cut group at longer lengths are
    recorded as skipped, except at the anchor lengths ``always``; a seed solved at an anchor
    above the cut lifts it. A run that already has a record (not a skipped one) keeps it and
    counts as evidence like a run of this wave."""
    cut: dict[str, int] = {}   # group -> the length where every seed failed
    for length in sorted({j.length for j in jobs}):
        wave = [j for j in jobs if j.length == length]
        run_now = [j for j in wave if j.group not in cut or length in always]
        skip = [j for j in wave if j.group in cut and length not in always]
        for job in skip:
            pool.not_run(job, cut[job.group], [j.run_id for j in jobs if j.group == job.group
                                               and j.length == cut[job.group]])
        pool.train([j for j in run_now if j.run_id in todo])
        for group in sorted({j.group for j in run_now}):
            recs = [record.read(out_dir / j.run_id) for j in wave if j.group == group]
            cut[group] = next_cut(cut.get(group), length, recs)
            if cut[group] is None:
                del cut[group]


MEASURED = ("complete", "diverged")   # a run that trained to its end: its failure is evidence


def next_cut(cut: int | None, length: int, recs: list[dict | None]) -> int | None:
    """A group's cut (the length where every seed failed, or None) after the wave at
    ``length``, whose records of the group's seeds are ``recs`` (None: not recorded): lifted
    if a seed solved, set at ``length`` if every seed was measured and failed, else kept."""
    if any(r and r.get("solved") for r in recs):
        return None
    if recs and all(r and r.get("status") in MEASURED for r in recs):
        return length if cut is None else cut
    return cut


def skipped_record(job: Job, failed_at: int, evidence: list[str]) -> dict:
    """The record of a run the horizon search did not run: its run id and full resolved
    config (so resume, ``--full-grid`` and ``lrd results`` know it), why, and no metrics."""
    return {"run_id": job.run_id, "config": job.config,
            "config_hash": cfglib.config_hash(job.config), "status": SKIPPED,
            "reason": f"not run: every seed failed at T={failed_at}", "failed_at": failed_at,
            "evidence": sorted(evidence), "solved": False, "diverged": False, "steps": 0,
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "env": record.git_state()}


def write_skipped(job: Job, failed_at: int, evidence: list[str],
                  redo: tuple[str, ...] = (SKIPPED,)) -> bool:
    """Record ``job`` as skipped (atomically, under its run lock) unless it has a record
    already: a real one is kept (but one that is to be trained again, ``redone``: a run
    stopped from outside, or a failed one under ``--retry-failed``, is no result and is
    replaced), a skipped one with the same reason too. True if written."""
    from filelock import FileLock

    locks = job.out / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    rec = skipped_record(job, failed_at, evidence)
    with FileLock(str(locks / f"{job.run_id}.lock")):
        old = record.read(job.out / job.run_id)
        if old is not None and (old.get("status") != SKIPPED
                                or old.get("reason") == rec["reason"]) \
                and not (old.get("status") != SKIPPED and redone(old, redo)):
            return False
        record.finish(record.staging_dir(job.out, job.run_id), rec)
    return True


class _Pool:
    """The sweep's worker processes (none if ``workers`` is 1), kept across waves, and its
    one progress bar over ``todo``; counts into ``counts``."""

    def __init__(self, workers: int, todo: list[Job], counts: dict, desc: str, progress: bool,
                 redo: tuple[str, ...]):
        self.workers, self.counts, self.redo, self.errors = workers, counts, redo, []
        self.threads = worker_threads(workers)   # workers x threads <= usable cores
        self.desc, self.total, self.progress = desc, len(todo), progress
        self.work = {j.run_id: work(j) for j in todo}   # run id -> budgeted work, while pending
        self.pending = set(self.work)
        self.left, self.done_work, self.start = sum(self.work.values()), 0.0, None
        self.executor = None

    def __enter__(self) -> "_Pool":
        from tqdm import tqdm

        # OMP/MKL thread counts in the environment the spawned workers inherit: their OpenMP
        # pools have ``threads`` threads from the moment torch is imported (lrd.training.threads)
        self.env = worker_env(self.threads)
        self.env.__enter__()
        self.bar = tqdm(total=self.total, desc=self.desc, unit="run", disable=not self.progress,
                        dynamic_ncols=True, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                        "[{elapsed}{postfix}]")
        self.start = time.monotonic()
        self._postfix()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.executor is not None:
            if exc_type is not None:   # stopped (SIGTERM, Ctrl-C) or failed: no orphans
                procs = {*(getattr(self.executor, "_processes", None) or {}).values(),
                         *mp.active_children()}
                for proc in procs:
                    proc.kill()   # never records: a run in flight leaves staging debris only
            self.executor.shutdown(wait=exc_type is None, cancel_futures=True)
        self.bar.close()
        self.env.__exit__(None, None, None)

    def _postfix(self) -> None:
        c = self.counts
        extra = {"not_run": c["not_run"]} if "not_run" in c else {}
        self.bar.set_postfix(done=c["complete"] + c["diverged"], failed=c["failed"], **extra,
                             left=self.bar.total - self.bar.n, eta=self.eta(), refresh=False)

    def add(self, job: Job) -> None:
        """Count ``job`` as pending again if an earlier sweep of this call finished it."""
        if job.run_id not in self.pending:
            self.pending.add(job.run_id)
            self.work[job.run_id] = work(job)
            self.left += self.work[job.run_id]
            self.bar.total += 1

    def eta(self) -> str:
        """The work left over the rate of work done so far: "?" before the first run ends."""
        elapsed = time.monotonic() - self.start if self.start else 0.0
        if not self.done_work or elapsed <= 0:
            return "?"
        seconds = int(self.left / (self.done_work / elapsed))
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"

    def _finished(self, rid: str, ran: bool) -> None:
        w = self.work.pop(rid, 0.0)
        self.pending.discard(rid)
        self.left -= w
        if ran:
            self.done_work += w

    def note(self, rid: str, status: str, err: str | None) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if err:
            self.errors.append(f"{rid}: {err}")
        self._finished(rid, ran=status != "skipped")
        self.bar.update(1)
        self._postfix()

    def not_run(self, job: Job, failed_at: int, evidence: list[str]) -> None:
        """Record ``job`` as skipped by the horizon search (a real record is kept: it was
        not pending, so it is neither counted nor a step of the bar)."""
        write_skipped(job, failed_at, evidence, self.redo)
        if record.read(job.out / job.run_id).get("status") == SKIPPED \
                and job.run_id in self.pending:
            self.counts["not_run"] += 1
            self._finished(job.run_id, ran=False)
            self.bar.update(1)
        self._postfix()

    def train(self, jobs: list[Job]) -> None:
        """Train ``jobs`` (in this process if one worker) and wait for all of them."""
        if not jobs:
            return
        if self.workers == 1:
            _init_worker()
            for job in jobs:
                self.note(*_run_job(job, self.threads, self.redo))
            return
        if self.executor is None:
            ctx = mp.get_context("spawn")
            self.executor = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                                initializer=_init_pool_worker)
        futures = [self.executor.submit(_run_job, j, self.threads, self.redo) for j in jobs]
        for fut in as_completed(futures):
            self.note(*fut.result())


def run_folder(jobs: list[Job]) -> Path:
    """The one folder the runs of a sweep go to: their config's ``log.out`` (``--out`` if
    given, else a config file's or the profile's, else ``lrd.config.Log().out``), from the
    repository root if relative."""
    folders = sorted({str(j.out) for j in jobs})
    if len(folders) != 1:
        raise ConfigError(f"the runs of one sweep go to one folder; log.out takes "
                          f"{len(folders)} values: {', '.join(folders) or 'none'}")
    return Path(folders[0])


def _init_pool_worker() -> None:
    _die_with_parent()
    _init_worker()


def _init_worker() -> None:
    os.environ.setdefault("WANDB_SILENT", "true")
    import warnings
    warnings.filterwarnings("ignore")


# Errors of a run stopped from outside, not by its config: Lightning turns SIGTERM into
# SIGTERMException, and Ctrl-C (or lrd's SIGTERM handler) in a fit into sys.exit(1).
STOPPED = ("SIGTERMException", "KeyboardInterrupt", "SystemExit")


def redone(rec: dict | None, redo: tuple[str, ...]) -> bool:
    """Whether a run with record ``rec`` is to be trained: no record, a status in ``redo``, or
    a run stopped from outside (SIGTERM from a time limit or a scheduler, Ctrl-C: Lightning
    raises SIGTERMException or exits, which ``lrd.training.run`` records as failed), which is
    no result."""
    return (rec is None or rec.get("status") in redo
            or (rec.get("status") == "failed" and str(rec.get("error")).startswith(STOPPED)))


def _die_with_parent() -> None:
    """On Linux, a worker is killed when the sweep process dies, however it dies (SIGKILL
    too), so no worker goes on training runs nobody waits for; elsewhere, nothing."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _run_job(job: Job, threads: int, redo: tuple[str, ...] = (SKIPPED,)
             ) -> tuple[str, str, str | None]:
    """Train one run in a worker, under its lock, unless it has a record whose status is not
    in ``redo`` (then another process ran it first: "skipped"); return (run_id, status,
    error)."""
    from filelock import FileLock

    from lrd.training.run import train

    locks = job.out / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{job.run_id}.lock")):
        if not redone(record.read(job.out / job.run_id), redo):
            return job.run_id, "skipped", None
        overrides = [*job.overrides, f"train.threads={threads}", "train.progress_bar=false"]
        try:
            rec = train(cfglib.load(job.files, overrides, job.profile))
        except Exception as err:  # recorded as failed by train(); the sweep goes on
            return job.run_id, "failed", f"{type(err).__name__}: {err}"
    return job.run_id, rec["status"], None


def write_members(out: Path, name: str, run_ids: list[str]) -> Path:
    """``<out>/_sweeps/<name>.txt``: the run ids of the sweep, one a line. A run whose config
    two sweeps share runs once (same id) but belongs to both; lrd.results reads these lists."""
    path = Path(out) / MEMBERS / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return record.write_atomic(path, "".join(f"{rid}\n" for rid in sorted(run_ids)))


def default_workers() -> int:
    """One per CPU core this process may use."""
    return usable_cores()


def clean_staging(out: Path) -> None:
    """Remove staging folders left by runs whose process is gone (killed mid-run)."""
    for path in (Path(out) / record.STAGING).glob("*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (killed, not yet reaped by a parent that may never reap
    it) is dead, and so is its staging folder."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # Linux: the state after the command name in /proc/<pid>/stat
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
