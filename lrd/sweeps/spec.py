"""A sweep file: plain W&B sweep YAML, read, checked, resolved for a profile, planned, exported.

A sweep file under ``configs/sweeps/`` has ``project``, ``method``, ``metric``, ``parameters``
and a ``command`` ending in ``${args}``, so ``wandb sweep FILE`` then ``wandb agent ID`` runs it
unchanged. Its command names the profile it is written for
(``lrd train --profile literature ...``).

Profiles. ``configs/profiles/<P>.yaml`` may hold ``sweeps:``, parameter specs that replace the
file's, per sweep name (``"*"``: every sweep), for example fewer lengths for ``smoke`` or five
seeds for ``paper``; its ``config:`` (machine scale) applies to every run through
``lrd.config.load``. ``load(FILE, P)`` applies profile P (default: the one the command names);
``export`` writes the result as a W&B file for ``wandb sweep``.

Checks. ``load`` refuses, with one line, what W&B would refuse or a run could not use: keys
outside W&B's schema, a command that is not ``lrd train ... ${args}``, a parameter that is not
a mapping, an empty or non-list ``values``, ``min`` above ``max``, and a non-finite number
anywhere (in the file or the profile's specs). ``plan`` then builds and validates every run's
config, so a sweep fails before its first run, never halfway.

Horizon search (opt-in). A sweep file may hold one key outside W&B's schema, ``lrd:``, for
settings of lrd's offline runner that W&B has no notion of::

    lrd:
      horizon_search:        # lengths in increasing order per group; stop a group at the
        always: [100, 200]   # first length where every seed failed; anchors always run

``lrd sweep`` then runs the lengths (``task.length``) in increasing order per group (every
parameter but ``task.length`` and ``seed``) and does not run the lengths above the first one
where every seed failed, except the ``always`` lengths (``horizon_search: true``: no anchors);
``lrd sweep --full-grid`` runs every grid point anyway (``lrd.sweeps.runner``). Why a key of
its own there: W&B's validator checks the top-level keys against its schema (``wandb sweep``
may warn about or refuse unknown ones), and W&B's own ``early_terminate`` only takes
hyperband, whose rule (stop a run by its metric at an iteration) is not this one (skip runs
that have not started, by other runs' results). So the setting lives under one namespaced key
that ``export`` removes: the file ``export`` writes (``make sweep`` passes it to ``wandb sweep``)
holds W&B keys only, and a W&B agent runs the full grid. ``load`` refuses any other unknown
key, and anything under ``lrd:`` but ``horizon_search``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lrd import config as cfglib
from lrd.errors import ConfigError
from lrd.sweeps.space import expand

# Top-level keys of W&B's sweep schema (wandb/sweeps: config/schema.json).
WANDB_KEYS = {"apiVersion", "kind", "controller", "description", "program", "job", "image_uri",
              "entity", "project", "method", "command", "name", "run_cap", "metric", "metrics",
              "scheduler", "early_terminate", "parameters"}
REQUIRED = ("method", "command", "parameters", "metric")
LRD_KEY = "lrd"   # lrd's offline-runner settings; never exported (module docstring)


@dataclass(frozen=True)
class HorizonSearch:
    """The horizon-search mode of a sweep: ``always`` lists anchor lengths, never skipped."""
    always: tuple[int, ...] = ()


@dataclass
class Sweep:
    path: Path
    name: str                        # the file's ``name``, else its stem; the runs' log.group
    method: str
    metric: dict
    command: list[str]
    parameters: dict[str, dict]      # the file's specs with the profile's replacing them
    run_cap: int | None = None       # random search: how many runs
    profile: str = "literature"      # --profile, else the command's, else literature
    configs: list[str] = field(default_factory=list)   # --config files from the command
    raw: dict = field(default_factory=dict)             # the file as read
    horizon_search: HorizonSearch | None = None         # lrd.horizon_search, if it opts in


# -- reading and checking -----------------------------------------------------------------------

def load(path, profile: str | None = None) -> Sweep:
    """Read and check a sweep file, with ``profile`` (default: the one its command names)."""
    raw = cfglib.read_yaml(path)
    path = cfglib.find(path)
    _check_finite(path, raw)
    unknown = sorted(set(raw) - WANDB_KEYS - {LRD_KEY})
    if unknown:
        raise ConfigError(f"{path}: unknown sweep key {', '.join(map(repr, unknown))}; "
                          f"W&B allows: {', '.join(sorted(WANDB_KEYS))} (and '{LRD_KEY}' for "
                          f"lrd's own settings)")
    search = _horizon_search(path, raw.get(LRD_KEY))
    for key in REQUIRED:
        if key not in raw:
            raise ConfigError(f"{path}: a sweep needs '{key}'")
    if not isinstance(raw["parameters"], dict) or not isinstance(raw["command"], list):
        raise ConfigError(f"{path}: 'parameters' must be a mapping and 'command' a list")
    command = [str(c) for c in raw["command"]]
    if "${args}" not in command:
        raise ConfigError(f"{path}: command must end with ${{args}} so agents pass parameters")
    configs, named_profile = _command_options(path, command)
    sweep = Sweep(path=path, name=str(raw.get("name", path.stem)), method=raw["method"],
                  metric=raw["metric"], command=command, parameters=dict(raw["parameters"]),
                  run_cap=raw.get("run_cap"),
                  profile=profile or named_profile or "literature",
                  configs=configs, raw=raw, horizon_search=search)
    _check_parameters(path, sweep.parameters)
    specs = cfglib.read_profile(sweep.profile).get("sweeps") or {}
    where = cfglib.PROFILE_DIR / f"{sweep.profile}.yaml"
    for scope in ("*", sweep.name):
        overlay = specs.get(scope) or {}
        _check_finite(where, overlay, f"sweeps.{scope}.")
        _check_parameters(where, overlay)
        sweep.parameters.update(overlay)
    return sweep


def _horizon_search(path: Path, lrd) -> HorizonSearch | None:
    """The ``lrd:`` key: ``{horizon_search: true | {always: [lengths]}}``, or None."""
    if lrd is None:
        return None
    if not isinstance(lrd, dict) or set(lrd) - {"horizon_search"}:
        raise ConfigError(f"{path}: '{LRD_KEY}' takes only 'horizon_search', got {lrd!r}")
    spec = lrd.get("horizon_search")
    if spec is None or spec is False:
        return None
    if spec is True:
        return HorizonSearch()
    if not isinstance(spec, dict) or set(spec) - {"always"}:
        raise ConfigError(f"{path}: '{LRD_KEY}.horizon_search' is true or a mapping with "
                          f"'always' (anchor lengths), got {spec!r}")
    always = spec.get("always") or []
    if not isinstance(always, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in always):
        raise ConfigError(f"{path}: '{LRD_KEY}.horizon_search.always' must be a list of "
                          f"lengths, got {always!r}")
    return HorizonSearch(tuple(sorted(set(always))))


def _check_finite(path: Path, data, where: str = "") -> None:
    """Refuse NaN and infinities anywhere in ``data``, naming the first one's key."""
    if isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(f"{path}: '{where.rstrip('.')}' is {data}; a sweep takes finite "
                          f"numbers only")
    items = data.items() if isinstance(data, dict) else (
        enumerate(data) if isinstance(data, list) else ())
    for key, value in items:
        _check_finite(path, value, f"{where}{key}.")


def _check_parameters(path: Path, parameters) -> None:
    """Each parameter a W&B spec: a mapping; ``values`` a non-empty list; ``min`` <= ``max``."""
    if not isinstance(parameters, dict):
        raise ConfigError(f"{path}: parameters must be a mapping of name to spec")
    for name, spec in parameters.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: parameter '{name}': expected a mapping such as "
                              f"{{values: [...]}}, got {spec!r}")
        if "values" in spec and (not isinstance(spec["values"], list) or not spec["values"]):
            raise ConfigError(f"{path}: parameter '{name}': 'values' must be a non-empty list, "
                              f"got {spec['values']!r}")
        lo, hi = spec.get("min"), spec.get("max")
        if lo is not None and hi is not None:
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)):
                raise ConfigError(f"{path}: parameter '{name}': min and max must be numbers")
            if lo > hi:
                raise ConfigError(f"{path}: parameter '{name}': min {lo} is above max {hi}")


def _command_options(path: Path, command: list[str]) -> tuple[list[str], str | None]:
    """The --config files and --profile named in a ``lrd train`` command."""
    if command[:2] != ["lrd", "train"]:
        raise ConfigError(f"{path}: command must start with 'lrd train', got {command[:2]}")
    configs, profile, rest = [], None, command[2:]
    i = 0
    while i < len(rest):
        item = rest[i]
        if item in ("--config", "--profile") and i + 1 < len(rest):
            if item == "--config":
                configs.append(rest[i + 1])
            else:
                profile = rest[i + 1]
            i += 2
        elif item.startswith("${"):
            i += 1
        else:
            raise ConfigError(f"{path}: unexpected '{item}' in command; use --config, "
                              f"--profile and ${{args}}")
    return configs, profile


# -- planning -----------------------------------------------------------------------------------

@dataclass
class Job:
    """One run of a sweep: what ``lrd.config.load`` needs to rebuild its config in a worker,
    and what the horizon search groups it by."""
    run_id: str
    files: list[str]
    profile: str
    overrides: list[str]
    out: Path          # its run folder's parent: the config's log.out, from the repository root
    length: int = 0    # the resolved task.length
    group: str = ""    # its parameters but task.length and seed (horizon search's group)
    config: dict = field(default_factory=dict, repr=False)   # the resolved config


GROUP_FREE = ("task.length", "seed")   # what varies inside one horizon-search group


def _arg(key: str, value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    text = re.sub(r"\n\.\.\.$", "", text)
    return f"{key}={text}"


def plan(sweep: Sweep, out: str | None = None) -> list[Job]:
    """Build and validate every run's config; one Job per distinct run id. ``out`` (a folder,
    relative paths from the repository root, like ``log.out``) overrides where runs go."""
    files = list(sweep.configs)
    extra = [f"log.group={sweep.name}", *([_arg("log.out", str(out))] if out else [])]
    jobs: dict[str, Job] = {}
    for i, params in enumerate(expand(sweep)):
        overrides = [_arg(k, v) for k, v in sorted(params.items())] + extra
        try:
            cfg = cfglib.load(files, overrides, sweep.profile)
            resolved = cfglib.resolve(cfg)
            rid = cfglib.run_id(resolved)
        except ConfigError as err:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
            raise ConfigError(f"{sweep.path}: run {i + 1} ({shown}): {err}") from None
        group = json.dumps({k: v for k, v in params.items() if k not in GROUP_FREE},
                           sort_keys=True, default=str)
        jobs.setdefault(rid, Job(rid, files, sweep.profile, overrides, cfglib.out_dir(cfg),
                                 int(resolved["task"]["length"]), group, resolved))
    return list(jobs.values())


def export(sweep: Sweep, dest) -> Path:
    """Write the profile-resolved W&B sweep file for ``wandb sweep``: the file's W&B keys (its
    ``project`` too; not ``lrd:``, which W&B does not know), the profile's parameters, and
    ``--profile`` in the command."""
    raw = {k: v for k, v in sweep.raw.items() if k in WANDB_KEYS}
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
