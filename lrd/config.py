"""The run config: typed sections validated by pydantic, composed in one documented order.

Precedence, lowest first (later layers win, key by key)::

    1. built-in defaults      the sections below, and each class's constructor defaults
    2. --profile P            configs/profiles/P.yaml ``config:``: machine scale only
    3. --config FILE ...      YAML files, left to right
    4. key.sub=value ...      command-line overrides (``--key.sub=value`` too, as W&B passes them)

A profile scales the machine (steps, batch and set sizes, width, accelerator, logging) and so sits
below every file: a value written in a config file or on the command line is the value that runs.
A profile may set only the keys in ``PROFILE_KEYS``.

Why pydantic: the config is a validation problem, not a composition one. pydantic gives typed
sections that reject unknown keys (``extra="forbid"``) and non-finite numbers
(``allow_inf_nan=False``), range constraints where the field is defined, structured errors
(``ValidationError.errors()``) for one-line messages, and a model of any constructor's typed
signature (``lrd.registry``), so each task, model and regime declares its parameters once.
Composition is a dict merge. It is already a dependency of wandb.

``build(cfg)`` validates everything, then builds the task, the regime and the model (from
``cfg.seed``) once; ``resolve(cfg)`` is its full config as plain data, whose hash names the run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import pydantic
import torch
import yaml
from pydantic import Field

from lrd.errors import ConfigError
from lrd.registry import STRICT, describe

ROOT = Path(__file__).resolve().parents[1]   # the repository: configs/ and .lrd/ live here
PROFILE_DIR = ROOT / "configs" / "profiles"


class Section(pydantic.BaseModel):
    model_config = STRICT


class Optim(Section):
    name: Literal["adam", "adamw", "sgd"] = "adam"   # sgd: plain SGD (no momentum)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine", "linear"] = "constant"  # cosine/linear: to 0 at max_steps
    warmup_steps: int = Field(0, ge=0)      # linear warm-up from 0 before the schedule
    grad_clip: Optional[float] = Field(1.0, gt=0)  # clip the global gradient norm; null: never


class Train(Section):
    # Optimiser steps; fewer if the task is solved first. Either one number, or a budget by
    # length, {min_length: steps}: a run at length T gets the steps of the largest key <= T
    # (e.g. {0: 4000, 100: 8000}: 4000 below T=100, 8000 from T=100). The resolved config (and
    # the run id) records the number that runs.
    max_steps: int | dict[int, int] = 2000
    batch_size: int = Field(64, ge=1)       # fresh sequences per step
    val_every: int = Field(100, ge=1)       # validate (and test for "solved") every N steps
    val_size: int = Field(512, ge=1)        # sequences in the fixed validation set
    test_size: int = Field(1024, ge=1)      # sequences in the fixed test set (final metrics)
    eval_size: Optional[int] = Field(None, ge=1)  # ... at each eval_lengths; null: test_size
    early_stop: bool = True                 # stop once validation counts as solved ...
    solve_patience: int = Field(2, ge=1)    # ... at this many consecutive validations
    eval_lengths: list[int] = Field(default_factory=list)  # extra test lengths after training
    accelerator: Literal["cpu", "gpu", "cuda", "auto"] = "cpu"  # Lightning's names
    devices: int = Field(1, ge=1)
    precision: str = "32-true"              # Lightning precision; 32-true for exact reproducibility
    deterministic: bool = True              # torch deterministic algorithms
    threads: Optional[int] = Field(None, ge=1)  # torch intra-op threads; null: the usable cores
    progress_bar: bool = True

    @pydantic.field_validator("max_steps", mode="before")
    @classmethod
    def _budget(cls, value):
        def whole(v):
            if isinstance(v, bool) or not isinstance(v, (int, str)) or not str(v).isdigit():
                raise ValueError("must be an integer >= 1 or a table {min_length: steps}")
            return int(v)
        if isinstance(value, dict):   # keys may come back as strings from a record's JSON
            value = {whole(k): whole(v) for k, v in value.items()}
        else:
            value = whole(value)
        table = value if isinstance(value, dict) else {0: value}
        if not table:
            raise ValueError("a budget by length needs at least one {min_length: steps} entry")
        if min(table) < 0 or min(table.values()) < 1:
            raise ValueError("lengths must be >= 0 and steps >= 1")
        return value

    def steps_for(self, length: int) -> int:
        """The step budget of a run at ``length``: ``max_steps``, or its entry for the largest
        min_length <= ``length``."""
        if isinstance(self.max_steps, int):
            return self.max_steps
        keys = [k for k in self.max_steps if k <= length]
        if not keys:
            raise ConfigError(f"train.max_steps: no budget for length {length} (the smallest "
                              f"min_length is {min(self.max_steps)})")
        return self.max_steps[max(keys)]


class Log(Section):
    out: str = ".lrd/runs"      # run folders go here (relative: from the repository root);
    #                             make reproduce writes results/runs
    wandb: bool = True          # log to W&B (offline unless WANDB_MODE says otherwise)
    project: str = "lrd"
    group: Optional[str] = None  # W&B group; sweeps set it to the sweep name
    every: int = Field(10, ge=1)  # log training metrics (metrics.csv) every N steps (each
    #                               logged step costs ~2.5 ms of self.log on the CPU)
    wandb_every: int = Field(10, ge=1)  # ... and to W&B every N steps (each wandb.log ~3 ms)


class Analysis(Section):
    enabled: bool = True        # spectra, gradient decay, Lyapunov exponents at init and end
    every: int = Field(250, ge=0)  # log spectral radius and sigma_max every N steps; 0: never
    batch_size: int = Field(16, ge=1)  # task sequences used for Jacobians and gradient decay


class RunConfig(Section):
    task: dict[str, Any] = Field(default_factory=lambda: {"name": "copy", "length": 20})
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "lstm"})
    regime: dict[str, Any] = Field(default_factory=lambda: {"name": "full"})
    optim: Optim = Field(default_factory=Optim)
    train: Train = Field(default_factory=Train)
    log: Log = Field(default_factory=Log)
    analysis: Analysis = Field(default_factory=Analysis)
    seed: int = Field(0, ge=0)


# Sections that change where a run is logged, not what it computes: left out of the hash.
UNHASHED = ("log", "analysis")
UNHASHED_TRAIN = ("progress_bar", "threads")
# What a profile may set: the machine's scale, never the science.
PROFILE_KEYS = {"train": {"max_steps", "batch_size", "val_every", "val_size", "test_size",
                          "eval_size",
                          "accelerator", "devices", "precision", "deterministic", "threads",
                          "progress_bar"},
                "model": {"hidden_size"}, "log": set(Log.model_fields),
                "analysis": set(Analysis.model_fields)}


# -- reading ----------------------------------------------------------------------------------

def find(path) -> Path:
    """A file named on the command line or in a sweep: as given (from the working directory),
    else from the repository root."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    return ROOT / path if (ROOT / path).exists() else path


def read_yaml(path) -> dict:
    """A YAML mapping from ``path``, or a one-line ConfigError saying what is wrong."""
    path = find(path)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping")
    return data


def profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def read_profile(name: str) -> dict:
    """``configs/profiles/<name>.yaml``: ``config`` (machine scale, ``PROFILE_KEYS`` only) and
    ``sweeps`` (per-sweep parameter specs; see lrd/sweeps/)."""
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown profile '{name}'; available: {', '.join(profiles())}")
    data = read_yaml(path)
    unknown = sorted(set(data) - {"config", "sweeps"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {', '.join(unknown)}; allowed: config, sweeps")
    for section, values in (data.get("config") or {}).items():
        allowed = PROFILE_KEYS.get(section, set())
        bad = sorted(set(values or {}) - allowed) if isinstance(values, dict) else [section]
        if bad:
            raise ConfigError(f"{path}: a profile sets machine scale only; "
                              f"'{section}.{bad[0]}' is not a scale key (scale keys: "
                              + ", ".join(f"{s}.{k}" for s in PROFILE_KEYS
                                          for k in sorted(PROFILE_KEYS[s])) + ")")
    return data


def parse_override(item: str) -> dict:
    """``a.b=value`` -> ``{"a": {"b": value}}``, the value read as YAML."""
    item = item[2:] if item.startswith("--") else item
    key, sep, text = item.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{item}' must look like key.sub=value")
    try:
        value = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        value = text
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


# Keys whose value is replaced whole by a later layer, never merged key by key: a number or a
# table (train.max_steps: a budget by length; a later number or table is the whole budget).
WHOLE = {"train.max_steps"}


def merge(base: dict, top: dict, where: str = "config", path: str = "") -> dict:
    """``top`` over ``base``, key by key; a mapping never replaces a plain value or back
    (except at the ``WHOLE`` keys, which a later layer replaces whole)."""
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        if f"{path}{key}" in WHOLE:
            out[key] = value
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge(old, value, where, f"{path}{key}.")
        elif isinstance(old, dict) != isinstance(value, dict) and key in out and old is not None:
            raise ConfigError(f"{where}: '{path}{key}' must be "
                              f"{'a mapping' if isinstance(old, dict) else 'a value'}")
        else:
            out[key] = value
    return out


def load(paths=(), overrides=(), profile: str | None = None) -> RunConfig:
    """The run config of ``paths`` and ``overrides`` over ``profile`` (see the precedence)."""
    defaults = RunConfig()  # the name-keyed sections start from their defaults too
    data: dict = {"task": defaults.task, "model": defaults.model, "regime": defaults.regime}
    layers = []
    if profile:
        layers.append((f"profile '{profile}'", read_profile(profile).get("config") or {}))
    layers += [(str(p), read_yaml(p)) for p in paths]
    layers += [("command line", parse_override(o)) for o in overrides]
    for where, layer in layers:
        data = merge(data, layer, where)
    try:
        cfg = validate(data)
        check_names(cfg)
        return cfg
    except ConfigError as err:
        where = _source(getattr(err, "loc", ()), layers)
        text = str(err).removeprefix("config: ")
        raise (ConfigError(f"{where}: {text}") if where else err) from None


def check_names(cfg: RunConfig) -> None:
    """The task, model and regime names and parameters of ``cfg`` (their constructors' typed
    signatures; ranges are checked when ``build`` constructs them). A ConfigError's ``loc``
    says which key, so ``load`` can name the file or override that set it."""
    from lrd.models import MODELS
    from lrd.tasks import TASKS
    from lrd.training.regimes import REGIMES

    for section, registry, drop in (("task", TASKS, ("name", "length")),
                                    ("model", MODELS, ("name",)), ("regime", REGIMES, ("name",))):
        values = getattr(cfg, section)
        try:
            registry.parameters(values["name"], {k: v for k, v in values.items()
                                                 if k not in drop})
        except ConfigError as err:
            err.loc = (section, *getattr(err, "loc", ()))
            raise


def validate(data: dict) -> RunConfig:
    """A RunConfig from plain data, or a one-line ConfigError naming the key."""
    try:
        cfg = RunConfig.model_validate(data)
    except pydantic.ValidationError as err:
        error = _explain(err)
        error.loc = err.errors()[0]["loc"]
        raise error from None
    for section in ("task", "model", "regime"):
        if "name" not in getattr(cfg, section):
            raise ConfigError(f"config section '{section}' needs a 'name'")
    if "length" not in cfg.task:
        raise ConfigError("config section 'task' needs a 'length'")
    return cfg


def _source(loc: tuple, layers: list[tuple[str, dict]]) -> str | None:
    """The last layer (file, profile or command line) that set the key at ``loc``."""
    for where, layer in reversed(layers):
        node = layer
        for part in loc:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return where
    return None


def _explain(err: pydantic.ValidationError) -> ConfigError:
    first = err.errors()[0]
    if first["type"] == "extra_forbidden" and len(first["loc"]) == 1:
        return ConfigError(f"config: unknown key '{first['loc'][0]}' (sections: "
                           f"{', '.join(RunConfig.model_fields)})")
    if first["type"] == "extra_forbidden":
        section = first["loc"][0]
        fields = getattr(RunConfig.model_fields[section].annotation, "model_fields", {})
        return ConfigError(f"config: unknown key '{'.'.join(map(str, first['loc']))}' "
                           f"(allowed in {section}: {', '.join(fields)})")
    return describe(err, "config")


# -- building ---------------------------------------------------------------------------------

@dataclass
class Built:
    """A validated run: its resolved config (plain data) and its task, regime and model."""
    resolved: dict[str, Any]
    task: Any
    regime: Any
    model: torch.nn.Module

    @property
    def run_id(self) -> str:
        return run_id(self.resolved)


def build(cfg: RunConfig) -> Built:
    """Validate every parameter, then build the task, the regime and (seeded with
    ``cfg.seed``, which fixes its initial weights) the model, each once."""
    from lrd.models import MODELS
    from lrd.tasks import TASKS
    from lrd.training.regimes import REGIMES

    def params(section: dict, *drop: str) -> dict:
        return {k: v for k, v in section.items() if k not in ("name", *drop)}

    out = cfg.model_dump()
    out["train"]["max_steps"] = cfg.train.steps_for(cfg.task["length"])
    task_name = cfg.task["name"]
    out["task"] = {"name": task_name, "length": cfg.task["length"],
                   **TASKS.parameters(task_name, params(cfg.task, "length"))}
    out["model"] = {"name": cfg.model["name"],
                    **MODELS.parameters(cfg.model["name"], params(cfg.model))}
    out["regime"] = {"name": cfg.regime["name"],
                     **REGIMES.parameters(cfg.regime["name"], params(cfg.regime))}
    task = TASKS.make(task_name, **params(out["task"], "length"))
    for length in [out["task"]["length"], *cfg.train.eval_lengths]:
        task.check_length(length)
    regime = REGIMES.make(out["regime"]["name"], **params(out["regime"]))
    torch.manual_seed(cfg.seed)
    model = MODELS.make(out["model"]["name"], regime.model_sizes(task), **params(out["model"]))
    regime.check(task, model)
    return Built(out, task, regime, model)


def resolve(cfg: RunConfig) -> dict[str, Any]:
    """The full config as plain data, every default filled in; raises on anything invalid."""
    return build(cfg).resolved


def config_hash(resolved: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that changes the numbers a run computes."""
    data = {k: v for k, v in resolved.items() if k not in UNHASHED}
    data["train"] = {k: v for k, v in data["train"].items() if k not in UNHASHED_TRAIN}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def run_id(resolved: dict[str, Any]) -> str:
    """``<task>-<model>-<length>-s<seed>-<hash[:10]>``: readable, and unique per config."""
    return (f"{resolved['task']['name']}-{resolved['model']['name']}-{resolved['task']['length']}"
            f"-s{resolved['seed']}-{config_hash(resolved)[:10]}")


def out_dir(cfg: RunConfig) -> Path:
    """Where the run folders of ``cfg`` go: ``log.out``, from the repository root if relative."""
    out = Path(cfg.log.out)
    return out if out.is_absolute() else ROOT / out
