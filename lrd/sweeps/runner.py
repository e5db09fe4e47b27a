"""Running a sweep offline: ``lrd sweep FILE [--workers N] [--profile P] [--out DIR]``.

``run`` checks everything first (the options, the file, every run's config: see ``spec``), so
bad input writes nothing. Then it lists the sweep's run ids in ``<out>/_sweeps/<name>.txt`` and
trains the runs not yet recorded in N worker processes, with one progress bar.

Where runs go: ``--out``, else the runs' own ``log.out`` (the defaults' ``.lrd/runs``, or a
profile's, such as smoke's ``.lrd/smoke/runs``); relative paths are from the repository root.
``make reproduce`` passes ``--out results/runs``; nothing else writes into ``results/``.

Resume and safety. A run's id is the hash of its resolved config, and its folder appears
atomically with its record (``lrd.training.record``), so a run whose record exists is skipped:
rerunning a sweep after an interruption redoes only what was unfinished. Each run holds an
exclusive file lock while it trains, so two workers (or two ``lrd sweep`` processes) never run
the same config. A run that raises is recorded as failed, one whose loss diverges as diverged,
and the sweep goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from lrd import config as cfglib
from lrd.errors import ConfigError
from lrd.sweeps.spec import Job, load, plan
from lrd.training import record
from lrd.training.threads import worker_env, worker_threads

MEMBERS = "_sweeps"   # <out>/_sweeps/<sweep>.txt: the run ids of each sweep (lrd.results reads)


def run(path, workers: int | None = None, profile: str | None = None,
        out: str | None = None, retry_failed: bool = False, progress: bool = True) -> dict:
    """Run every run of the sweep not yet recorded; return counts by status, the errors of
    failed runs and the run folder. ``workers`` defaults to one per CPU core."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    sweep = load(path, profile)
    jobs = plan(sweep, out)
    out_dir = run_folder(jobs)
    clean_staging(out_dir)
    write_members(out_dir, sweep.name, [j.run_id for j in jobs])

    def pending(job: Job) -> bool:
        rec = record.read(out_dir / job.run_id)
        return rec is None or (retry_failed and rec.get("status") == "failed")

    todo = [j for j in jobs if pending(j)]
    workers = workers or default_workers()
    counts = {"complete": 0, "diverged": 0, "failed": 0, "skipped": len(jobs) - len(todo)}
    errors = _train(todo, workers, counts, f"{sweep.name} [{sweep.profile}]", progress)
    return {**counts, "total": len(jobs), "errors": errors, "out": str(out_dir)}


def run_folder(jobs: list[Job]) -> Path:
    """The one folder the runs of a sweep go to: their config's ``log.out`` (``--out`` if
    given, else a config file's or the profile's, else ``lrd.config.Log().out``), from the
    repository root if relative."""
    folders = sorted({str(j.out) for j in jobs})
    if len(folders) != 1:
        raise ConfigError(f"the runs of one sweep go to one folder; log.out takes "
                          f"{len(folders)} values: {', '.join(folders) or 'none'}")
    return Path(folders[0])


def _train(todo: list[Job], workers: int, counts: dict, desc: str, progress: bool) -> list[str]:
    """Train ``todo`` in ``workers`` processes (in this one if 1), counting into ``counts``."""
    from tqdm import tqdm

    threads = worker_threads(workers, default_workers())   # workers x threads <= cores
    errors: list[str] = []
    bar = tqdm(total=len(todo), desc=desc, unit="run", disable=not progress, dynamic_ncols=True)
    bar.set_postfix(done=0, failed=0, left=len(todo))

    def note(rid: str, status: str, err: str | None) -> None:
        counts[status] = counts.get(status, 0) + 1
        if err:
            errors.append(f"{rid}: {err}")
        bar.set_postfix(done=counts["complete"] + counts["diverged"], failed=counts["failed"],
                        left=bar.total - bar.n - 1, refresh=False)
        bar.update(1)

    if workers == 1:
        _init_worker()
        for job in todo:
            note(*_run_job(job, threads))
    elif todo:
        ctx = mp.get_context("spawn")
        # OMP/MKL thread counts in the environment the spawned workers inherit: their OpenMP
        # pools have ``threads`` threads from the moment torch is imported (lrd.training.threads)
        with worker_env(threads), ProcessPoolExecutor(workers, mp_context=ctx,
                                                      initializer=_init_worker) as pool:
            for fut in as_completed([pool.submit(_run_job, j, threads) for j in todo]):
                note(*fut.result())
    bar.close()
    return errors


def _init_worker() -> None:
    os.environ.setdefault("WANDB_SILENT", "true")
    import warnings
    warnings.filterwarnings("ignore")


def _run_job(job: Job, threads: int) -> tuple[str, str, str | None]:
    """Train one run in a worker, under its lock; return (run_id, status, error)."""
    from filelock import FileLock

    from lrd.training.run import train

    locks = job.out / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{job.run_id}.lock")):
        if record.read(job.out / job.run_id) is not None:
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
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def clean_staging(out: Path) -> None:
    """Remove staging folders left by runs whose process is gone (killed mid-run)."""
    for path in (Path(out) / record.STAGING).glob("*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
