"""The run config: typed sections, composed from YAML parts, overridable from the command line.

A run is described by one ``RunConfig``. YAML files are merged left to right (later files
override earlier ones, key by key), then ``key.sub=value`` overrides are applied; OmegaConf does
the merge and rejects unknown keys and wrong types in the typed sections. The ``task``, ``model``
and ``regime`` sections are dicts with a ``name``; their other keys are checked against the named
class's constructor (``lrd.registry.resolve``), so each task, model and regime declares its own
parameters in exactly one place.

``resolve(cfg)`` returns the full resolved config (every default filled in) as plain data; its
hash names the run, so the same config always maps to the same ``results/runs/<run_id>``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lrd.errors import ConfigError


@dataclass
class Optim:
    name: str = "adam"            # adam | adamw
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"    # constant | cosine (to 0 at max_steps) | linear (to 0)
    warmup_steps: int = 0         # linear warm-up from 0 before the schedule
    grad_clip: Optional[float] = 1.0  # clip the global gradient norm to this; null: no clipping


@dataclass
class Train:
    max_steps: int = 2000         # optimiser steps; fewer if the task is solved first
    batch_size: int = 64          # fresh sequences per step
    val_every: int = 100          # validate (and test for "solved") every N steps
    val_size: int = 512           # sequences in the fixed validation set
    test_size: int = 1024         # sequences in the fixed test set (final metrics)
    early_stop: bool = True       # stop once validation counts as solved ...
    solve_patience: int = 2       # ... at this many consecutive validations (also for curricula)
    eval_lengths: list[int] = field(default_factory=list)  # extra test lengths after training
    accelerator: str = "cpu"      # cpu | gpu | auto (Lightning's names)
    devices: int = 1
    precision: str = "32-true"    # Lightning precision; 32-true for exact reproducibility
    deterministic: bool = True    # torch deterministic algorithms
    threads: Optional[int] = None  # torch intra-op threads on CPU; null: torch's default
    progress_bar: bool = True


@dataclass
class Log:
    out: str = "results/runs"     # run directories go under here (relative to the cwd)
    wandb: bool = True            # log to W&B (offline unless WANDB_MODE says otherwise)
    project: str = "lrd"
    group: Optional[str] = None   # W&B group; sweeps set it to the sweep name
    every: int = 1                # log training metrics (metrics.csv) every N steps
    wandb_every: int = 10         # ... and to W&B every N steps (each wandb.log costs ~3 ms)


@dataclass
class Analysis:
    enabled: bool = True          # spectra, gradient decay, Lyapunov exponents at init and end
    every: int = 250              # log spectral radius and sigma_max every N steps; 0: never
    batch_size: int = 16          # sequences of the task used for Jacobians and gradient decay


@dataclass
class RunConfig:
    task: dict[str, Any] = field(default_factory=lambda: {"name": "copy", "length": 20})
    model: dict[str, Any] = field(default_factory=lambda: {"name": "lstm"})
    regime: dict[str, Any] = field(default_factory=lambda: {"name": "full"})
    optim: Optim = field(default_factory=Optim)
    train: Train = field(default_factory=Train)
    log: Log = field(default_factory=Log)
    analysis: Analysis = field(default_factory=Analysis)
    seed: int = 0


# Sections that change where a run is logged, not what it computes: left out of the hash.
UNHASHED = ("log", "analysis")
UNHASHED_TRAIN = ("progress_bar", "threads")


def _one_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    key = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("full_key:")), None)
    first = lines[0].replace("not in 'RunConfig'", "is not a config section (sections: "
                             + ", ".join(RunConfig.__dataclass_fields__) + ")")
    return f"{first} (at '{key}')" if key else first


PROFILE_DIR = Path("configs/profiles")


def read_yaml(path) -> dict:
    """A YAML mapping from ``path``, or a one-line ConfigError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    return data


def read_profile(name: str) -> dict:
    """``configs/profiles/<name>.yaml``: ``config`` (a run-config overlay) and ``sweeps``
    (per-sweep parameter specs; see lrd/sweep.py)."""
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown profile '{name}'; available: {', '.join(have) or '(none)'}"
                          f" (run from the repository root)")
    data = read_yaml(path)
    unknown = sorted(set(data) - {"config", "sweeps"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {', '.join(unknown)}; allowed: config, sweeps")
    return data


def load(paths=(), overrides=(), profile: str | None = None) -> RunConfig:
    """Merge over the defaults: YAML files left to right, then the profile's ``config``
    overlay, then ``key=value`` overrides. Returns a typed RunConfig."""
    parts = [OmegaConf.structured(RunConfig)]
    layers = [(str(p), read_yaml(p)) for p in paths]
    if profile:
        layers.append((f"profile '{profile}'", read_profile(profile).get("config") or {}))
    for where, data in layers:
        parts.append(_checked(OmegaConf.create, data, where=where))
    dotlist = []
    for item in overrides:
        item = item[2:] if item.startswith("--") else item
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key.sub=value")
        dotlist.append(item)
    parts.append(_checked(OmegaConf.from_dotlist, dotlist, where="command line"))
    merged = _checked(OmegaConf.merge, *parts, where="config")
    cfg = OmegaConf.to_object(merged)
    for section in ("task", "model", "regime"):
        if "name" not in getattr(cfg, section):
            raise ConfigError(f"config section '{section}' needs a 'name'")
    return cfg


def _checked(fn, *args, where: str):
    try:
        return fn(*args)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{where}: {_one_line(err)}") from None


def resolve(cfg: RunConfig) -> dict[str, Any]:
    """The full config as plain data, with every task, model and regime default filled in.

    Validates everything a run needs before it starts: names, parameters, types, the length.
    """
    from lrd import registry, regimes

    out = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)
    task_params = {k: v for k, v in cfg.task.items() if k not in ("name", "length")}
    task = registry.build("task", registry.TASKS, cfg.task["name"], task_params)
    if "length" not in cfg.task:
        raise ConfigError("config section 'task' needs a 'length'")
    task.check_length(cfg.task["length"])
    out["task"] = {"name": cfg.task["name"], "length": cfg.task["length"],
                   **registry.resolve(f"task '{task.name}'", type(task), task_params)}
    model_params = {k: v for k, v in cfg.model.items() if k != "name"}
    model_cls = registry.lookup("model", registry.MODELS, cfg.model["name"])
    out["model"] = {"name": cfg.model["name"],
                    **registry.resolve(f"model '{cfg.model['name']}'", model_cls, model_params,
                                       skip=1)}
    regime_params = {k: v for k, v in cfg.regime.items() if k != "name"}
    regime_cls = registry.lookup("regime", regimes.REGIMES, cfg.regime["name"])
    out["regime"] = {"name": cfg.regime["name"],
                     **registry.resolve(f"regime '{cfg.regime['name']}'", regime_cls,
                                        regime_params)}
    _check_numbers(cfg)
    for length in cfg.train.eval_lengths:
        task.check_length(length)
    build(out)  # constructors check ranges and combinations (e.g. regime x model)
    return out


def build(resolved: dict[str, Any]):
    """Task, regime and model of a resolved config (model weights from the global RNG)."""
    import lrd.models
    import lrd.tasks
    from lrd import regimes

    def params(section, *drop):
        return {k: v for k, v in resolved[section].items() if k not in ("name", *drop)}

    task = lrd.tasks.make(resolved["task"]["name"], **params("task", "length"))
    regime = regimes.make(resolved["regime"]["name"], **params("regime"))
    model = lrd.models.make(resolved["model"]["name"], regime.model_sizes(task),
                            **params("model"))
    regime.check(task, model)
    return task, regime, model


def _check_numbers(cfg: RunConfig) -> None:
    t, o = cfg.train, cfg.optim
    for name, value, low in [("train.max_steps", t.max_steps, 1), ("train.batch_size", t.batch_size, 1),
                             ("train.val_every", t.val_every, 1),
                             ("train.solve_patience", t.solve_patience, 1), ("train.val_size", t.val_size, 1),
                             ("train.test_size", t.test_size, 1), ("train.devices", t.devices, 1),
                             ("optim.warmup_steps", o.warmup_steps, 0), ("log.every", cfg.log.every, 1),
                             ("log.wandb_every", cfg.log.wandb_every, 1),
                             ("analysis.every", cfg.analysis.every, 0),
                             ("analysis.batch_size", cfg.analysis.batch_size, 1)]:
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")
    if o.name not in ("adam", "adamw"):
        raise ConfigError(f"optim.name must be adam or adamw, got '{o.name}'")
    if o.schedule not in ("constant", "cosine", "linear"):
        raise ConfigError(f"optim.schedule must be constant, cosine or linear, got '{o.schedule}'")
    if o.lr <= 0:
        raise ConfigError(f"optim.lr must be > 0, got {o.lr}")
    if o.grad_clip is not None and o.grad_clip <= 0:
        raise ConfigError(f"optim.grad_clip must be > 0 or null, got {o.grad_clip}")
    if cfg.seed < 0:
        raise ConfigError(f"seed must be >= 0, got {cfg.seed}")


def config_hash(resolved: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that changes the numbers a run computes."""
    data = {k: v for k, v in resolved.items() if k not in UNHASHED}
    data["train"] = {k: v for k, v in data["train"].items() if k not in UNHASHED_TRAIN}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def run_id(resolved: dict[str, Any]) -> str:
    """``<task>-<model>-<length>-s<seed>-<hash[:10]>``: readable, and unique per config."""
    return (f"{resolved['task']['name']}-{resolved['model']['name']}-{resolved['task']['length']}"
            f"-s{resolved['seed']}-{config_hash(resolved)[:10]}")
