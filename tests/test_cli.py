"""The `lrd` command: bad input is one line on stderr, exit status 2, no traceback."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lrd(*args):
    return subprocess.run([sys.executable, "-m", "lrd.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_tasks_lists_every_task():
    out = lrd("tasks", "--lengths", "10")
    assert out.returncode == 0, out.stderr
    for name in ("copy", "adding", "delayed_recall", "prefix_sum"):
        assert re.search(rf"^{name}\s+10\s", out.stdout, re.M)


@pytest.mark.parametrize("args,message", [
    (["tasks", "cpy"], "unknown task 'cpy'"),
    (["tasks", "copy", "--lengths", "0"], "length (the delay T) must be an integer >= 1"),
    (["tasks", "adding", "--lengths", "1"], "must be an integer >= 2"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    out = lrd(*args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert out.stderr.startswith("lrd: error: ") and message in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args,message", [
    (["optim.lr=nan"], "command line: 'optim.lr': input should be a finite number"),
    (["optim.lr=inf"], "command line: 'optim.lr': input should be a finite number"),
    (["--model.init_gain=-.inf"], "'init_gain': input should be a finite number"),
    (["train.max_stepz=3"], "unknown key 'train.max_stepz'"),
    (["model.name=transformer"], "unknown model 'transformer'"),
    (["task.length=-5"], "must be an integer >= 1, got -5"),
    (["--profile", "huge"], "unknown profile 'huge'"),
    (["--config", "nowhere.yaml"], "file not found: nowhere.yaml"),
])
def test_bad_train_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = subprocess.run([sys.executable, "-m", "lrd.cli", "train", "--config",
                          str(ROOT / "configs/task/copy.yaml"), f"log.out={tmp_path / 'runs'}",
                          "log.wandb=false", *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("lrd: error: ") and message in out.stderr, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == [], "a refused run must write nothing"


def test_train_exit_status_says_whether_the_run_completed(tmp_path):
    """0 for a complete run, 1 for a diverged one (W&B marks it failed too); both recorded."""
    base = [sys.executable, "-m", "lrd.cli", "train", "--config",
            str(ROOT / "configs/task/adding.yaml"), f"log.out={tmp_path}", "log.wandb=false",
            "analysis.enabled=false", "train.max_steps=2", "train.progress_bar=false",
            "model.hidden_size=8", "train.val_size=8", "train.test_size=8"]
    ok = subprocess.run(base, capture_output=True, text=True, timeout=120)
    diverged = subprocess.run(base + ["model.name=rnn", "model.nonlinearity=relu",
                                      "model.init=gaussian", "model.init_gain=100.0",
                                      "task.length=60", "optim.grad_clip=null"],
                              capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ": complete," in ok.stdout, ok.stderr
    assert diverged.returncode == 1 and ": diverged," in diverged.stdout, diverged.stderr
    assert len(list(tmp_path.glob("*/record.json"))) == 2
