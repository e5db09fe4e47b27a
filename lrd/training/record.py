"""Run records: ``results/runs/<run_id>/record.json``, which appears atomically with its folder.

A run writes everything (per-step metrics, analysis files) into a staging folder
``<out>/.staging/<run_id>-<pid>/`` and, when it is over, writes ``record.json`` there and
renames the whole folder to ``<out>/<run_id>``. So a run folder either holds a complete record
or does not exist: a run killed at any point leaves only staging debris, never a partial record
that reads as complete. ``record.json`` is the completion marker sweeps use to skip done runs.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

STAGING = ".staging"
SKIPPED = "skipped"   # the status of a run the horizon search did not run (lrd.sweeps)


def staging_dir(out: Path, run_id: str) -> Path:
    path = Path(out) / STAGING / f"{run_id}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def finish(staging: Path, record: dict) -> Path:
    """Write the record into ``staging`` and move the folder to its final place."""
    final = staging.parent.parent / record["run_id"]
    (staging / "record.json").write_text(json.dumps(clean(record), indent=2, sort_keys=True)
                                         + "\n")
    trash = staging.parent / f"{record['run_id']}-old-{os.getpid()}"
    if final.exists():
        final.rename(trash)
    staging.rename(final)
    shutil.rmtree(trash, ignore_errors=True)
    return final


def write_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader sees the
    old file or the new one, never half of one (also when processes write at once)."""
    return replace_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_atomic(path, write) -> Path:
    """``write(tmp)`` writes the new contents to ``tmp``, a file beside ``path`` (its name ends
    in ``.tmp``: give writers that read the format from the name the format), then ``tmp``
    replaces ``path`` by a rename: a reader sees the old file or the new one, never half of
    one, and a failed write leaves the old file and no debris."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read(run_dir: Path) -> dict | None:
    """The record of a finished run, or None if the folder holds no complete record."""
    path = Path(run_dir) / "record.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def clean(value):
    """JSON-safe: non-finite floats become null (diverged runs report NaN losses)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def environment(device: str) -> dict:
    """Versions, device and git commit: what is needed to rerun and trust a number."""
    import numpy
    import pytorch_lightning
    import torch

    import lrd

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": pytorch_lightning.__version__,
        "numpy": numpy.__version__,
        "lrd": lrd.__version__,
        "platform": platform.platform(),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "argv": sys.argv,
        **git_state(),
    }


def git_state(root: Path | None = None) -> dict:
    """The commit of the checkout holding lrd (or ``root``) and whether it is dirty: a tracked
    file changed, outside ``results/``. Run records are data: a study that rewrites a committed
    record (a skipped run trained by a later sweep) leaves the code as committed."""
    root = root or Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ":/", ":(top,exclude)results"],
                               cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}
    if commit.returncode != 0:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}
