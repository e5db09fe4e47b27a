"""One run end to end: the record, determinism, divergence, failure, W&B (and how it sees a
run end), the Trainer it fits, and every config."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lrd.models
import lrd.tasks
from lrd.training import record
from lrd.errors import ConfigError

from conftest import CONFIGS, ROOT, TINY

TASK_PARTS = sorted(p.name for p in (CONFIGS / "task").glob("*.yaml"))
MODEL_PARTS = sorted(p.name for p in (CONFIGS / "model").glob("*.yaml"))
REGIME_PARTS = sorted(p.name for p in (CONFIGS / "regime").glob("*.yaml"))
EXPERIMENTS = sorted(p.relative_to(CONFIGS).as_posix()
                     for p in (CONFIGS / "experiments").glob("*.yaml"))
SHORT = {"copy.yaml": 3, "adding.yaml": 6, "delayed_recall.yaml": 3, "prefix_sum.yaml": 6}


def test_record_holds_everything_a_rerun_needs(run_tiny):
    rec = run_tiny("task/adding.yaml", "model/lstm.yaml",
                   overrides=["train.eval_lengths=[8,12]", "task.length=6"])
    run_dir = Path(rec["run_dir"])
    on_disk = json.loads((run_dir / "record.json").read_text())
    assert on_disk["run_id"] == rec["run_id"] == run_dir.name
    assert on_disk["status"] == "complete" and on_disk["steps"] == 3
    assert on_disk["config"]["model"]["hidden_size"] == 8
    assert len(on_disk["config_hash"]) == 64
    assert on_disk["seeds"] == {"seed": 0, "model_init": 0, "train_stream": 0,
                                "val_stream": 1, "test_stream": 2}
    for key in ("python", "torch", "lightning", "device", "git_commit"):
        assert key in on_disk["env"]
    assert set(on_disk["metrics"]["test"]) == {"loss", "mse"}
    assert set(on_disk["metrics"]["lengths"]) == {"8", "12"}
    assert on_disk["solved"] is lrd.tasks.make("adding").solved(on_disk["metrics"]["test"])
    assert on_disk["diverged"] is False
    # training is timed inside the run's wall time, which also covers the final evaluation
    assert 0 < on_disk["train_time_s"] < on_disk["wall_time_s"]
    assert on_disk["length_schedule"] == [] and on_disk["final_train_length"] == 6
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    logged = {k for row in rows for k, v in row.items() if v}
    assert {"train/loss", "train/mse", "train/loss_ratio", "train/grad_norm"} <= logged
    assert {"val/loss", "val/mse"} <= logged
    assert not any((run_dir.parent / record.STAGING).iterdir()), "staging is left clean"


def test_a_run_fits_the_trainer_make_trainer_builds(run_tiny, monkeypatch):
    """One function builds the Trainer: train() fits make_trainer's, with the run's length
    schedule among its callbacks and the config's steps, validation and logging rates."""
    import lrd.training.trainer
    from lrd.training.schedule import LengthSchedule

    built = []
    make = lrd.training.trainer.make_trainer
    monkeypatch.setattr(lrd.training.trainer, "make_trainer",
                        lambda *a, **k: built.append(make(*a, **k)) or built[-1])
    rec = run_tiny("task/adding.yaml", overrides=["task.length=4", "train.max_steps=5",
                                                  "train.val_every=2", "log.every=2"])
    (trainer,) = built
    assert (trainer.max_steps, trainer.val_check_interval, trainer.log_every_n_steps) == (5, 2, 2)
    assert trainer.global_step == rec["steps"] == 5
    assert sum(isinstance(c, LengthSchedule) for c in trainer.callbacks) == 1


def test_same_config_same_numbers(run_tiny):
    a = run_tiny("task/copy.yaml", "model/gru.yaml", overrides=["task.length=3"])
    b = run_tiny("task/copy.yaml", "model/gru.yaml", overrides=["task.length=3"])
    assert a["run_id"] == b["run_id"]
    assert a["metrics"]["test"] == b["metrics"]["test"]


def test_loss_ratio_is_loss_over_baseline(run_tiny):
    rec = run_tiny("task/copy.yaml", "model/rnn.yaml", overrides=["task.length=4"])
    rows = [r for r in csv.DictReader((Path(rec["run_dir"]) / "metrics.csv").open())
            if r["train/loss"]]
    baseline = lrd.tasks.make("copy").baseline_loss(4)
    for r in rows:
        assert float(r["train/loss_ratio"]) == pytest.approx(float(r["train/loss"]) / baseline,
                                                             rel=1e-5)


# A ReLU RNN with N(0, 100²/H) recurrent weights grows ~100x per step and overflows float32
# within 20 steps, so the loss is non-finite at the first step.
DIVERGING = ["model.name=rnn", "model.nonlinearity=relu", "model.init=gaussian",
             "model.init_gain=100.0", "task.length=60", "optim.grad_clip=null"]


def test_divergence_is_recorded(run_tiny):
    rec = run_tiny("task/adding.yaml", overrides=DIVERGING)
    assert rec["status"] == "diverged" and rec["diverged"] and not rec["solved"]
    assert json.loads((Path(rec["run_dir"]) / "record.json").read_text())["diverged"]


def test_failure_is_recorded_and_raised(run_tiny, monkeypatch, tmp_path):
    from lrd.training.module import LitRun

    def boom(self, batch, idx):
        raise RuntimeError("boom")

    monkeypatch.setattr(LitRun, "training_step", boom)
    with pytest.raises(RuntimeError, match="boom"):
        run_tiny("task/adding.yaml", overrides=["task.length=4"])
    (rec_path,) = (tmp_path / "runs").glob("*/record.json")
    rec = json.loads(rec_path.read_text())
    assert rec["status"] == "failed" and "boom" in rec["error"]


def test_bad_config_writes_nothing(run_tiny, tmp_path):
    with pytest.raises(ConfigError):
        run_tiny("task/adding.yaml", overrides=["regime.name=teacher_forcing"])
    assert not (tmp_path / "runs").exists()


def test_wandb_offline_gets_full_config_and_summary(run_tiny, tmp_path, monkeypatch):
    """The live W&B run (offline) holds the resolved config, and its summary the test metric."""
    import lrd.training.run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    seen = {}
    original = lrd.training.run._wandb_summary

    def spy(logger, rec):
        original(logger, rec)
        run = logger.experiment
        seen.update(config=dict(run.config), summary=dict(run.summary), group=run.group,
                    name=run.name, offline=run.offline)

    monkeypatch.setattr(lrd.training.run, "_wandb_summary", spy)
    rec = run_tiny("task/adding.yaml", overrides=["task.length=4", "log.wandb=true",
                                                  "log.group=g1"])
    assert seen["offline"] and seen["group"] == "g1" and seen["name"] == rec["run_id"]
    assert seen["config"]["model"] == rec["config"]["model"]
    assert seen["config"]["task"] == rec["config"]["task"]
    assert seen["summary"]["test/mse"] == pytest.approx(rec["metrics"]["test"]["mse"])
    assert seen["summary"]["solved"] == int(rec["solved"])
    assert list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))


def wandb_state(wandb_dir: Path) -> dict:
    """What W&B recorded of the one offline run under ``wandb_dir``, read back from its
    transaction log (``run-*.wandb``) by W&B's own reader: ``wandb leet inspect --summary
    --json`` (state, exit_code, summary, ...)."""
    (log,) = wandb_dir.glob("offline-run-*/run-*.wandb")
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--summary",
                          "--json", str(log)], capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("case", ["complete", "diverged", "failed"])
def test_wandb_sees_how_the_run_ended(run_tiny, tmp_path, monkeypatch, case):
    """A failed or diverged run ends its (offline) W&B run as failed with exit code 1 and its
    status in the summary; a complete one as finished with exit code 0. ``failed``: asking for
    a GPU on a machine without one, which Lightning refuses after the W&B run has started."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    over = ["log.wandb=true", "task.length=4"]
    if case == "diverged":
        over += DIVERGING
    if case == "failed":
        if torch.cuda.is_available():
            pytest.skip("needs a machine without a GPU")
        over.append("train.accelerator=gpu")
        with pytest.raises(Exception, match="gpu|GPU|CUDA|cuda"):
            run_tiny("task/adding.yaml", overrides=over)
        (rec_path,) = (tmp_path / "runs").glob("*/record.json")
        assert json.loads(rec_path.read_text())["status"] == "failed"
    else:
        assert run_tiny("task/adding.yaml", overrides=over)["status"] == case
    state = wandb_state(tmp_path / "wandb")
    assert state["exit_code"] == (0 if case == "complete" else 1)
    assert state["state"] == ("finished" if case == "complete" else "failed")
    assert state["summary"]["status"] == case


def test_wandb_gets_training_rows_every_wandb_every_steps(run_tiny, tmp_path, monkeypatch):
    """metrics.csv gets every step; W&B the training rows of every 2nd step (Lightning's steps
    1 and 3 of 0..4), and every validation row."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    rec = run_tiny("task/adding.yaml", overrides=[
        "log.wandb=true", "log.wandb_every=2", "task.length=4", "train.max_steps=5",
        "analysis.enabled=false"])
    (log,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json",
                          str(log)], capture_output=True, text=True, timeout=120, check=True)
    rows = [json.loads(line)["history"]["item"] for line in out.stdout.splitlines()
            if '"type":"history"' in line]
    assert [r["trainer/global_step"] for r in rows if "train/loss" in r] == [1, 3]
    assert [r["trainer/global_step"] for r in rows if "val/loss" in r] == [1, 3]
    csv_rows = list(csv.DictReader((Path(rec["run_dir"]) / "metrics.csv").open()))
    assert [int(r["step"]) for r in csv_rows if r["train/loss"]] == [0, 1, 2, 3, 4]


def test_cli_train_bad_key_is_one_line_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "lrd.cli", "train", "--config",
                          str(CONFIGS / "task/copy.yaml"), "train.max_stepz=3",
                          f"log.out={tmp_path}"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 2
    err = out.stderr.strip()
    assert err.startswith("lrd: error: command line: unknown key 'train.max_stepz'")
    assert "allowed in train: max_steps" in err and "\n" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("path", EXPERIMENTS)
def test_every_experiment_config_runs_tiny(run_tiny, path):
    rec = run_tiny(path)
    assert rec["status"] == "complete"


def _combination_error(task: str, model: str, regime: str):
    if regime == "teacher_forcing.yaml" and task == "adding.yaml":
        return "needs a task whose output feeds back"
    if regime in ("truncated.yaml", "teacher_forcing.yaml") and model == "attention.yaml":
        return "needs a recurrent model"
    return None


@pytest.mark.parametrize("task", TASK_PARTS)
@pytest.mark.parametrize("model", MODEL_PARTS)
@pytest.mark.parametrize("regime", REGIME_PARTS)
def test_every_regime_model_task(run_tiny, task, model, regime):
    overrides = [f"task.length={SHORT[task]}"]
    if regime == "truncated.yaml":
        overrides.append("regime.window=2")
    if regime == "curriculum.yaml":
        overrides.append(f"regime.start={2 if task == 'adding.yaml' else 1}")
    parts = (f"task/{task}", f"model/{model}", f"regime/{regime}")
    error = _combination_error(task, model, regime)
    if error:
        with pytest.raises(ConfigError, match=error):
            run_tiny(*parts, overrides=overrides)
    else:
        assert run_tiny(*parts, overrides=overrides)["status"] == "complete"


def test_the_progress_bar_hides_v_num_and_redraws_rarely_off_a_terminal():
    from lrd import config
    from lrd.training.trainer import Bar, make_trainer

    trainer = make_trainer(config.load([], ["train.progress_bar=true"]), "/tmp")
    bars = [c for c in trainer.callbacks if isinstance(c, Bar)]
    assert len(bars) == 1 and bars[0].refresh_rate == 100   # pytest's stderr is no terminal
    assert not any(isinstance(c, Bar) for c in make_trainer(
        config.load([], ["train.progress_bar=false"]), "/tmp").callbacks)
