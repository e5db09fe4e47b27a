"""Sweeps from one W&B sweep file: ``lrd sweep FILE [--workers N] [--profile P]``.

A sweep file under ``configs/sweeps/`` is plain W&B sweep YAML (``method``, ``metric``,
``parameters``, ``command`` with ``${args}``), so ``wandb sweep FILE`` then ``wandb agent ID``
runs it unchanged. This module runs the same file offline: it expands the parameters (grid, or
random with ``run_cap`` draws), builds and validates every run's config before any run starts,
and trains the runs in N worker processes with one progress bar.

Profiles. A sweep file is written for the default ``cpu`` profile; its command names it
(``lrd train --profile cpu ...``). ``configs/profiles/<P>.yaml`` holds ``config:`` (a run-config
overlay applied after the sweep's config files and before its parameters) and ``sweeps:``
(parameter specs that replace the file's, per sweep name; ``"*"`` applies to every sweep).
``--profile P`` applies both; ``--export FILE`` writes the resolved W&B file for ``wandb sweep``.

Resume and safety. A run's id is the hash of its resolved config, and its folder appears
atomically with its record (``lrd.training.record``), so a run whose record exists is skipped: rerunning a
sweep after an interruption redoes only what was unfinished. Each run holds an exclusive file
lock while it trains, so two workers (or two ``lrd sweep`` processes) never run the same config.
A run that raises is recorded as failed, one whose loss diverges as diverged, and the sweep goes on.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import re
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lrd import config as cfglib
from lrd.training import record
from lrd.errors import ConfigError

# Top-level keys of W&B's sweep schema (wandb/sweeps: config/schema.json).
WANDB_KEYS = {"apiVersion", "kind", "controller", "description", "program", "job", "image_uri",
              "entity", "project", "method", "command", "name", "run_cap", "metric", "metrics",
              "scheduler", "early_terminate", "parameters"}
OFFLINE_METHODS = ("grid", "random")


@dataclass
class Sweep:
    path: Path
    name: str
    method: str
    metric: dict
    command: list[str]
    parameters: dict[str, dict]
    run_cap: int | None = None
    profile: str = "cpu"
    configs: list[str] = field(default_factory=list)   # --config files from the command
    raw: dict = field(default_factory=dict)


# -- loading ------------------------------------------------------------------------------------

def load(path, profile: str | None = None) -> Sweep:
    """Read and check a sweep file, with ``profile`` (default: the one its command names)."""
    path = Path(path)
    raw = cfglib.read_yaml(path)
    unknown = sorted(set(raw) - WANDB_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown sweep key {', '.join(map(repr, unknown))}; "
                          f"W&B allows: {', '.join(sorted(WANDB_KEYS))}")
    for key in ("method", "command", "parameters", "metric"):
        if key not in raw:
            raise ConfigError(f"{path}: a sweep needs '{key}'")
    command = [str(c) for c in raw["command"]]
    if "${args}" not in command:
        raise ConfigError(f"{path}: command must end with ${{args}} so agents pass parameters")
    configs, named_profile = _command_options(path, command)
    sweep = Sweep(path=path, name=str(raw.get("name", path.stem)), method=raw["method"],
                  metric=raw["metric"], command=command, parameters=dict(raw["parameters"]),
                  run_cap=raw.get("run_cap"), profile=profile or named_profile or "cpu",
                  configs=configs, raw=raw)
    overlay = cfglib.read_profile(sweep.profile)
    for scope in ("*", sweep.name):
        sweep.parameters.update((overlay.get("sweeps") or {}).get(scope) or {})
    return sweep


def _command_options(path: Path, command: list[str]) -> tuple[list[str], str | None]:
    """The --config files and --profile named in a ``lrd train`` command."""
    if command[:2] != ["lrd", "train"]:
        raise ConfigError(f"{path}: command must start with 'lrd train', got {command[:2]}")
    configs, profile, rest = [], None, command[2:]
    i = 0
    while i < len(rest):
        item = rest[i]
        if item in ("--config", "--profile") and i + 1 < len(rest):
            (configs.append(rest[i + 1]) if item == "--config" else None)
            profile = rest[i + 1] if item == "--profile" else profile
            i += 2
        elif item.startswith("${"):
            i += 1
        else:
            raise ConfigError(f"{path}: unexpected '{item}' in command; use --config, "
                              f"--profile and ${{args}}")
    return configs, profile


# -- expansion ----------------------------------------------------------------------------------

class _Quantized:
    """A scipy distribution rounded to multiples of q, as W&B's q_* distributions are."""

    def __init__(self, dist, q: float):
        self.dist, self.q = dist, q

    def rvs(self, random_state=None):
        return float(round(self.dist.rvs(random_state=random_state) / self.q) * self.q)


class _Weighted:
    """W&B's categorical_w_probabilities."""

    def __init__(self, values, probabilities):
        total = sum(probabilities)
        self.values, self.p = list(values), [p / total for p in probabilities]

    def rvs(self, random_state=None):
        return self.values[random_state.choice(len(self.values), p=self.p)]


def _distribution(name: str, spec: dict):
    """A W&B parameter spec as a list of values or a scipy distribution (for random search)."""
    from scipy import stats

    if "value" in spec:
        return [spec["value"]]
    kind = spec.get("distribution", "categorical" if "values" in spec else
                    "int_uniform" if all(isinstance(spec.get(k), int) for k in ("min", "max"))
                    else "uniform")
    lo, hi = spec.get("min"), spec.get("max")
    mu, sigma, q = spec.get("mu", 0.0), spec.get("sigma", 1.0), spec.get("q", 1.0)
    table = {
        "categorical": lambda: list(spec["values"]),
        "constant": lambda: [spec["value"]],
        "categorical_w_probabilities": lambda: _Weighted(spec["values"], spec["probabilities"]),
        "int_uniform": lambda: stats.randint(lo, hi + 1),
        "uniform": lambda: stats.uniform(lo, hi - lo),
        "q_uniform": lambda: _Quantized(stats.uniform(lo, hi - lo), q),
        "log_uniform_values": lambda: stats.loguniform(lo, hi),
        "q_log_uniform_values": lambda: _Quantized(stats.loguniform(lo, hi), q),
        "log_uniform": lambda: stats.loguniform(math.exp(lo), math.exp(hi)),
        "q_log_uniform": lambda: _Quantized(stats.loguniform(math.exp(lo), math.exp(hi)), q),
        "normal": lambda: stats.norm(mu, sigma),
        "q_normal": lambda: _Quantized(stats.norm(mu, sigma), q),
        "log_normal": lambda: stats.lognorm(s=sigma, scale=math.exp(mu)),
        "q_log_normal": lambda: _Quantized(stats.lognorm(s=sigma, scale=math.exp(mu)), q),
        "beta": lambda: stats.beta(spec.get("a", 1.0), spec.get("b", 1.0)),
    }
    if "parameters" in spec:
        raise ConfigError(f"parameter '{name}': nested parameters are not supported; "
                          f"use dotted names such as 'model.hidden_size'")
    if kind not in table:
        raise ConfigError(f"parameter '{name}': distribution '{kind}' is not supported offline; "
                          f"supported: {', '.join(sorted(table))}")
    try:
        return table[kind]()
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"parameter '{name}': bad spec {spec} ({err})") from None


def expand(sweep: Sweep, seed: int = 0) -> list[dict[str, Any]]:
    """Every parameter set of the sweep: the grid's product, or run_cap random draws."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if sweep.method not in OFFLINE_METHODS:
        raise ConfigError(f"{sweep.path}: method '{sweep.method}' cannot run offline (it needs "
                          f"W&B's server); use {' or '.join(OFFLINE_METHODS)}, or run it with "
                          f"`wandb sweep` and `wandb agent`")
    for name, spec in sweep.parameters.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"parameter '{name}': expected a mapping such as "
                              f"{{values: [...]}}, got {spec!r}")
    space = {name: _distribution(name, spec) for name, spec in sweep.parameters.items()}
    if sweep.method == "grid":
        bad = [n for n, d in space.items() if not isinstance(d, list)]
        if bad:
            raise ConfigError(f"{sweep.path}: grid search needs 'values' or 'value' for every "
                              f"parameter; {', '.join(bad)} is a distribution")
        return list(ParameterGrid(space))
    if not isinstance(sweep.run_cap, int) or sweep.run_cap < 1:
        raise ConfigError(f"{sweep.path}: random search offline needs 'run_cap' (how many runs)")
    return list(ParameterSampler(space, n_iter=sweep.run_cap, random_state=seed))


# -- planning -----------------------------------------------------------------------------------

@dataclass
class Job:
    run_id: str
    files: list[str]
    profile: str
    overrides: list[str]


def _arg(key: str, value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    text = re.sub(r"\n\.\.\.$", "", text)
    return f"{key}={text}"


def plan(sweep: Sweep, out: str | None = None) -> list[Job]:
    """Build and validate every run's config; one Job per distinct run id."""
    files = list(sweep.configs)
    extra = [f"log.group={sweep.name}", *([f"log.out={out}"] if out else [])]
    jobs: dict[str, Job] = {}
    for i, params in enumerate(expand(sweep)):
        overrides = [_arg(k, v) for k, v in sorted(params.items())] + extra
        try:
            resolved = cfglib.resolve(cfglib.load(files, overrides, sweep.profile))
        except ConfigError as err:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
            raise ConfigError(f"{sweep.path}: run {i + 1} ({shown}): {err}") from None
        rid = cfglib.run_id(resolved)
        jobs.setdefault(rid, Job(rid, files, sweep.profile, overrides))
    return list(jobs.values())


def export(sweep: Sweep, dest: Path) -> Path:
    """Write the profile-resolved W&B sweep file for ``wandb sweep``."""
    raw = dict(sweep.raw)
    raw["parameters"] = sweep.parameters
    cmd = list(sweep.command)
    if "--profile" in cmd:
        cmd[cmd.index("--profile") + 1] = sweep.profile
    else:
        cmd[2:2] = ["--profile", sweep.profile]
    raw["command"] = cmd
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(raw, sort_keys=False))
    return dest


# -- running ------------------------------------------------------------------------------------

def _init_worker() -> None:
    os.environ.setdefault("WANDB_SILENT", "true")
    import warnings
    warnings.filterwarnings("ignore")


def _run_job(job: Job, out: str, threads: int) -> tuple[str, str, str | None]:
    """Train one run in a worker, under its lock; return (run_id, status, error)."""
    from filelock import FileLock

    from lrd.training.run import train

    locks = Path(out) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{job.run_id}.lock")):
        done = record.read(Path(out) / job.run_id)
        if done is not None:
            return job.run_id, "skipped", None
        overrides = [*job.overrides, f"train.threads={threads}", "train.progress_bar=false"]
        try:
            rec = train(cfglib.load(job.files, overrides, job.profile))
        except Exception as err:  # recorded as failed by train(); the sweep goes on
            return job.run_id, "failed", f"{type(err).__name__}: {err}"
    return job.run_id, rec["status"], None


MEMBERS = "_sweeps"


def run_folder(profile: str) -> str:
    """Where a profile's runs go when no --out is given: its ``log.out`` (the smoke profile keeps
    its runs out of the committed results/), else the default ``results/runs``."""
    config = cfglib.read_profile(profile).get("config") or {}
    out = Path((config.get("log") or {}).get("out") or cfglib.Log().out)
    return str(out if out.is_absolute() else cfglib.ROOT / out)


def write_members(out: Path, name: str, run_ids: list[str]) -> Path:
    """``<out>/_sweeps/<name>.txt``: the run ids of the sweep, one a line. A run whose config
    two sweeps share runs once (same id) but belongs to both; results.py reads these lists."""
    path = Path(out) / MEMBERS / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return record.write_atomic(path, "".join(f"{rid}\n" for rid in sorted(run_ids)))


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def clean_staging(out: Path) -> None:
    """Remove staging folders left by runs whose process is gone (killed mid-run)."""
    for path in (out / record.STAGING).glob("*"):
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


def run(path, workers: int | None = None, profile: str | None = None,
        out: str | None = None, retry_failed: bool = False, progress: bool = True) -> dict:
    """Run every run of the sweep not yet recorded; return counts by status."""
    from tqdm import tqdm

    sweep = load(path, profile)
    jobs = plan(sweep, out)
    out_dir = Path(out or run_folder(sweep.profile))
    clean_staging(out_dir)
    write_members(out_dir, sweep.name, [j.run_id for j in jobs])

    def pending(job: Job) -> bool:
        rec = record.read(out_dir / job.run_id)
        return rec is None or (retry_failed and rec.get("status") == "failed")

    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    todo = [j for j in jobs if pending(j)]
    workers = workers or default_workers()
    threads = max(1, default_workers() // workers)
    counts = {"complete": 0, "diverged": 0, "failed": 0, "skipped": len(jobs) - len(todo)}
    errors = []
    bar = tqdm(total=len(todo), desc=f"{sweep.name} [{sweep.profile}]", unit="run",
               disable=not progress, dynamic_ncols=True)

    def note(rid: str, status: str, err: str | None) -> None:
        counts[status] = counts.get(status, 0) + 1
        if err:
            errors.append(f"{rid}: {err}")
        bar.set_postfix(done=counts["complete"] + counts["diverged"], failed=counts["failed"],
                        left=bar.total - bar.n - 1, refresh=False)
        bar.update(1)

    bar.set_postfix(done=0, failed=0, left=len(todo))
    if workers == 1:
        _init_worker()
        for job in todo:
            note(*_run_job(job, str(out_dir), threads))
    elif todo:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
            futures = [pool.submit(_run_job, j, str(out_dir), threads) for j in todo]
            for fut in as_completed(futures):
                note(*fut.result())
    bar.close()
    counts["total"] = len(jobs)
    counts["errors"] = errors
    counts["out"] = str(out_dir)
    return counts
