"""The speed choices keep behaviour: logging only the logged rows writes what logging every step
wrote, W&B's own rate, metrics reuse the loss, the optimiser choice, determinism settings, and the
benchmark helpers (no timing is asserted anywhere)."""

import csv
import json
import math
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest
import torch

import lrd.models
import lrd.tasks
from lrd import data
from lrd.training import regimes
from lrd.config import Optim
from lrd.training.module import LitRun, fused_optimizer

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


class EveryStepLitRun(LitRun):
    """The reference: every training metric logged on every step, logged row or not (the
    step itself as LitRun takes it: manual optimisation)."""

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        outputs = self.regime.train_outputs(self.model, self.task, batch)
        loss = self.task.loss(outputs, batch)
        opt.zero_grad()
        if not torch.isfinite(loss):
            self.diverged = True
            self.trainer.should_stop = True
            opt.step()
            return None
        metrics = self.task.metrics(outputs, batch)
        logged = {f"train/{k}": v for k, v in metrics.items()}
        logged["train/loss_ratio"] = loss.detach() / self._baseline()
        logged["train/length"] = float(self.trainer.datamodule.length)
        self.log_dict(logged, on_step=True, on_epoch=False, batch_size=len(batch))
        self.manual_backward(loss)
        opt.step()
        if self.lr_schedulers() is not None:
            self.lr_schedulers().step()
        return loss

    def on_before_optimizer_step(self, optimizer):
        clip = self.optim.grad_clip if self.optim.grad_clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.parameters(), clip)
        self.log("train/grad_norm", norm, on_step=True, on_epoch=False)


class AutomaticLitRun(LitRun):
    """The reference for manual optimisation: LitRun's step under Lightning's automatic
    optimisation, as lrd ran it before (Lightning zeroes the gradients, runs backward, calls
    ``on_before_optimizer_step`` (clipping), steps the optimiser, steps the LR schedule every
    step; a ``training_step`` returning None skips backward)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.automatic_optimization = True

    def training_step(self, batch, batch_idx):
        outputs = self.regime.train_outputs(self.model, self.task, batch)
        loss = self.task.loss(outputs, batch)
        self.logging_step = False
        if not math.isfinite(loss.item()):
            self.diverged = True
            self.trainer.should_stop = True
            return None
        self._log_training(outputs, batch, loss)
        return loss   # clipping: LitRun's on_before_optimizer_step, which Lightning calls

    def configure_optimizers(self):
        conf = super().configure_optimizers()
        if isinstance(conf, dict):
            conf["lr_scheduler"] = {"scheduler": conf["lr_scheduler"], "interval": "step"}
        return conf


def test_litrun_steps_by_hand():
    """LitRun steps the optimiser itself (manual optimisation: Lightning's automatic loop
    costs ~0.1-0.4 ms a step of hook and closure machinery; benchmarks/README.md)."""
    task = lrd.tasks.make("adding")
    lit = LitRun(task, lrd.models.make("rnn", task, hidden_size=4), regimes.make("full"),
                 Optim(), 10)
    assert lit.automatic_optimization is False


IDENTITY = {   # parts, overrides: what each case exercises
    "lstm copy, clip 0.01, log every step, analysis": (
        ("task/copy.yaml", "model/lstm.yaml"),
        ["task.length=5", "train.max_steps=9", "train.val_every=4", "log.every=1",
         "optim.grad_clip=0.01", "analysis.enabled=true", "analysis.every=4",
         "analysis.batch_size=4"]),
    "rnn adding, cosine with warm-up, log every 10": (
        ("task/adding.yaml", "model/rnn.yaml"),
        ["task.length=6", "train.max_steps=25", "train.val_every=10", "log.every=10",
         "optim.schedule=cosine", "optim.warmup_steps=3"]),
    "gru adding, linear schedule, no clipping, log every 3": (
        ("task/adding.yaml", "model/gru.yaml"),
        ["task.length=5", "train.max_steps=8", "train.val_every=4", "log.every=3",
         "optim.schedule=linear", "optim.grad_clip=null"]),
    "rnn adding, diverges (lr 1e18)": (
        ("task/adding.yaml", "model/rnn.yaml"),
        ["task.length=5", "train.max_steps=20", "train.val_every=3", "log.every=1",
         "optim.lr=1e18", "optim.grad_clip=null"]),
    "curriculum (the length grows)": (
        ("task/prefix_sum.yaml", "model/lstm.yaml", "regime/curriculum.yaml"),
        ["task.length=8", "regime.start=1", "train.max_steps=40", "train.val_every=10",
         "log.every=10", "optim.lr=0.03", "model.hidden_size=16"]),
}


@pytest.mark.parametrize("case", IDENTITY)
def test_manual_optimisation_trains_as_lightnings_automatic_loop(run_tiny, monkeypatch, case):
    """Same metrics.csv, byte for byte, and the same record as under Lightning's automatic
    optimisation: gradient clipping, the LR schedule (warm-up, cosine, linear), divergence
    (the step count and the stop), the gradient norm on logged rows, the length schedule."""
    parts, over = IDENTITY[case]
    over = [*over, "analysis.enabled=false"] if "analysis.enabled=true" not in over else over
    new = run_tiny(*parts, overrides=over)
    monkeypatch.setattr("lrd.training.module.LitRun", AutomaticLitRun)
    ref = run_tiny(*parts, overrides=over + ["log.out=" + str(Path(new["run_dir"]).parent
                                                              .parent / "ref")])
    text = (Path(new["run_dir"]) / "metrics.csv").read_text()
    assert text == (Path(ref["run_dir"]) / "metrics.csv").read_text()
    def same(a, b):   # NaN equals NaN (a diverged run's metrics)
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

    for key in ("metrics", "steps", "diverged", "status", "length_schedule",
                "final_train_length", "held_out_rows_replaced"):
        assert same(new[key], ref[key]), key
    if "analysis" in ref:
        def untimed(d):
            return {k: {kk: vv for kk, vv in v.items() if kk != "time_s"}
                    if isinstance(v, dict) else v for k, v in d.items()}
        assert same(untimed(new["analysis"]), untimed(ref["analysis"]))
    rows = list(csv.DictReader(text.splitlines()))
    if "diverges" in case:
        assert new["diverged"] and new["steps"] < 20
    else:
        assert not new["diverged"]
        assert all(r["train/grad_norm"] for r in rows if r["train/loss"])
    if "curriculum" in case:
        assert new["length_schedule"], "the length grew at least once"


@pytest.mark.parametrize("every", [1, 2, 3])
@pytest.mark.parametrize("parts", [("task/copy.yaml", "model/lstm.yaml"),
                                   ("task/adding.yaml", "model/gru.yaml")])
def test_logging_only_logged_steps_writes_what_logging_every_step_wrote(run_tiny, monkeypatch,
                                                                        every, parts):
    """LitRun computes and logs training metrics only on the rows Lightning writes; metrics.csv
    byte for byte as when every step is logged: rows, steps, epoch column, values, validation
    rows."""
    over = ["train.max_steps=7", "train.val_every=3", f"log.every={every}", "task.length=6"]
    new = run_tiny(*parts, overrides=over)
    monkeypatch.setattr("lrd.training.module.LitRun", EveryStepLitRun)
    ref = run_tiny(*parts, overrides=over + ["log.out=" + str(Path(new["run_dir"]).parent
                                                              .parent / "ref")])
    text = (Path(new["run_dir"]) / "metrics.csv").read_text()
    assert text == (Path(ref["run_dir"]) / "metrics.csv").read_text()
    assert "train/grad_norm" in text.splitlines()[0]
    steps = [int(r["step"]) for r in csv.DictReader(text.splitlines()) if r["train/loss"]]
    assert steps == [s for s in range(7) if (s + 1) % every == 0]
    assert new["metrics"]["test"] == ref["metrics"]["test"]


def test_wandb_gets_training_rows_every_n_steps_and_every_other_row(monkeypatch):
    from pytorch_lightning.loggers import WandbLogger

    from lrd.training.trainer import WandbEvery

    sent = []
    monkeypatch.setattr(WandbLogger, "log_metrics",
                        lambda self, metrics, step=None: sent.append((step, next(iter(metrics)))))
    wb = WandbEvery(3, project="x", mode="disabled")
    for step in range(7):
        wb.log_metrics({"train/loss": 1.0, "epoch": 0}, step)
    wb.log_metrics({"val/loss": 1.0, "epoch": 0}, 3)
    wb.log_metrics({"analysis/weight_radius": 1.0}, 0)
    assert sent == [(2, "train/loss"), (5, "train/loss"), (3, "val/loss"),
                    (0, "analysis/weight_radius")]


@pytest.mark.parametrize("name", lrd.tasks.available())
def test_metrics_with_the_loss_given_equal_metrics_recomputed(name):
    task = lrd.tasks.make(name)
    b = task.sample(6, 5, torch.Generator().manual_seed(0))
    out = torch.randn(6, task.sequence_length(5), task.output_size)
    loss = task.loss(out, b)
    a, c = task.metrics(out, b), task.metrics(out, b, loss)
    assert a.keys() == c.keys()
    for k in a:
        assert torch.equal(a[k], c[k]), k


def test_accuracy_counts_only_metric_mask_positions():
    task = lrd.tasks.make("copy", n_copy=2)
    b = task.sample(3, 2, torch.Generator().manual_seed(1))
    out = torch.nn.functional.one_hot(b.targets, task.output_size).float()
    out[0, -1] = out[0, -1].roll(1, 0)          # one scored token wrong
    out[1, 0] = out[1, 0].roll(1, 0)           # an unscored token wrong: no effect on accuracy
    m = task.metrics(out, b)
    assert m["accuracy"].item() == pytest.approx(5 / 6)
    assert m["sequence_accuracy"].item() == pytest.approx(2 / 3)


def test_fused_optimizer_on_cpu_floats_only():
    assert fused_optimizer([torch.zeros(2, requires_grad=True)]) is True
    assert fused_optimizer([torch.zeros(2, dtype=torch.float64)]) is True
    assert fused_optimizer([]) is None
    assert fused_optimizer([torch.zeros(2, device="meta")]) is None


@pytest.mark.parametrize("schedule,warmup,has_scheduler", [
    ("constant", 0, False), ("constant", 5, True), ("cosine", 0, True), ("linear", 0, True)])
def test_scheduler_only_when_the_lr_changes(schedule, warmup, has_scheduler):
    task = lrd.tasks.make("adding")
    lit = LitRun(task, lrd.models.make("rnn", task, hidden_size=4), regimes.make("full"),
                 Optim(schedule=schedule, warmup_steps=warmup), 10)
    conf = lit.configure_optimizers()
    opt = conf["optimizer"] if isinstance(conf, dict) else conf
    assert isinstance(conf, dict) == has_scheduler
    assert opt.defaults["fused"] is True


@pytest.mark.parametrize("name,cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                      ("sgd", torch.optim.SGD)])
def test_each_optimiser_name_builds_its_torch_optimiser(name, cls):
    task = lrd.tasks.make("adding")
    lit = LitRun(task, lrd.models.make("rnn", task, hidden_size=4), regimes.make("full"),
                 Optim(name=name, lr=0.5, weight_decay=0.1), 10)
    opt = lit.configure_optimizers()
    assert type(opt) is cls
    assert opt.defaults["lr"] == 0.5 and opt.defaults["weight_decay"] == 0.1
    if name == "sgd":         # plain SGD: p - lr * (grad + weight_decay * p), no momentum
        assert opt.defaults["momentum"] == 0
        p = next(lit.parameters())
        before, p.grad = p.detach().clone(), torch.full_like(p, 2.0)
        opt.step()
        torch.testing.assert_close(p.detach(), before - 0.5 * (2.0 + 0.1 * before))


def test_fused_adam_matches_the_default_loop():
    task = lrd.tasks.make("copy")
    torch.manual_seed(0)
    a = lrd.models.make("lstm", task, hidden_size=8)
    b = lrd.models.make("lstm", task, hidden_size=8)
    b.load_state_dict(a.state_dict())
    oa = torch.optim.Adam(a.parameters(), lr=1e-2)
    ob = torch.optim.Adam(b.parameters(), lr=1e-2, fused=fused_optimizer(b.parameters()))
    x = torch.randn(4, 7, task.input_size)
    for _ in range(10):
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            m(x).square().mean().backward()
            o.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


# -- benchmark helpers ----------------------------------------------------------------------
def test_fit_exponent_recovers_power_laws():
    import bench
    ls = [10, 30, 100, 300, 1000]
    assert bench.fit_exponent(ls, [3e-4 * x for x in ls]) == pytest.approx(1.0)
    assert bench.fit_exponent(ls, [2e-6 * x ** 2 for x in ls]) == pytest.approx(2.0)


def test_flop_counts():
    import bench
    B, L, H, I, O = 4, 10, 8, 3, 3
    lstm = bench.flops("lstm", H, B, L, I, O)
    assert lstm == 3 * L * (2 * B * 4 * H * (I + H) + 2 * B * H * O)
    assert bench.flops("rnn", H, B, L, I, O) < bench.flops("gru", H, B, L, I, O) < lstm
    assert bench.flops("rnn", H, B, L, I, O, layers=2) == \
        3 * L * (2 * B * H * (I + H) + 2 * B * H * (H + H) + 2 * B * H * O)
    # attention: every block counted (the default model has 2), the quadratic term present
    a1, a2 = bench.flops("attention", H, B, L, I, O), bench.flops("attention", H, B, 2 * L, I, O)
    blocks = lrd.models.make("attention", lrd.tasks.make("copy"), hidden_size=H).num_layers
    assert a1 == 3 * B * L * (blocks * (24 * H * H + 4 * L * H) + 2 * H * (I + O))
    assert a2 > 2 * a1


def memory_point(*args) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory.py"), *args,
                          "--steps", "1"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_memory_script_sees_the_activations_of_a_long_sequence():
    """A GRU step at L=1000, B=64, H=64 keeps at least its hidden states for backward
    (L·B·H float32 = 15.6 MiB); a tiny step needs far less."""
    small, big = memory_point("gru", "5", "8", "2"), memory_point("gru", "1000", "64", "64")
    assert (small["model"], small["length"], small["hidden"], small["batch"]) == \
        ("gru", 5, 8, 2)
    assert big["method"] in ("VmHWM-reset", "ru_maxrss")
    assert big["peak_mib"] >= 1000 * 64 * 64 * 4 / 2 ** 20
    assert big["peak_mib"] > small["peak_mib"] + 10


def test_lightning_vs_bare_times_lrds_own_trainer(monkeypatch):
    """The benchmark fits the Trainer ``make_trainer`` builds (the one ``lrd train`` fits), and
    its ratio is t_bare / t_lightning."""
    import lightning_vs_bare as lvb

    import lrd.training.trainer

    built = []
    make = lrd.training.trainer.make_trainer
    monkeypatch.setattr(lrd.training.trainer, "make_trainer",
                        lambda *a, **k: built.append(make(*a, **k)) or built[-1])
    r = lvb.compare("rnn", "adding", 4, 4, 2, steps=6, warmup=2, rounds=1)
    assert len(built) == 1 and built[0].global_step == 6 and built[0].max_steps == 6
    assert built[0].log_every_n_steps == 1 and not built[0].checkpoint_callbacks
    assert r["ratio"] == pytest.approx(r["bare_ms"] / r["lightning_ms"])
    assert r["overhead_ms"] == pytest.approx(r["lightning_ms"] - r["bare_ms"])
    assert r["steps"] == 4 and r["steps_per_seq"] == 4
    # the bare loop trains: same optimiser as LitRun, so the weights move
    task = lrd.tasks.make("adding")
    torch.manual_seed(0)
    m = lrd.models.make("rnn", task, hidden_size=4)
    before = [p.clone() for p in m.parameters()]
    lvb.bare_round(task, m, 4, 2, 3, 1, 0, Optim())
    assert any(not torch.equal(p, q) for p, q in zip(before, m.parameters()))
    assert data.stream_seed(0, "train") == 0


def test_fit_runs_deterministic_without_nan_filling(run_tiny, monkeypatch):
    """make_trainer sets torch's deterministic mode once (Lightning's flag, and no NaN filling
    of uninitialised memory) and nothing toggles it around the fit."""
    import torch.utils.deterministic as det
    monkeypatch.setattr(det, "fill_uninitialized_memory", True)  # restored after the test
    seen = []
    orig = LitRun.training_step

    def spy(self, batch, batch_idx):
        seen.append((torch.are_deterministic_algorithms_enabled(), det.fill_uninitialized_memory))
        return orig(self, batch, batch_idx)
    monkeypatch.setattr(LitRun, "training_step", spy)
    run_tiny("task/copy.yaml", "model/lstm.yaml", overrides=["task.length=3"])
    assert seen and all(s == (True, False) for s in seen)
    assert det.fill_uninitialized_memory is False, "left as make_trainer set it"


def test_the_bare_loop_and_lightning_end_with_the_same_weights(tmp_path):
    """The benchmark's two paths do the same work: the same steps on the same batches end with
    the same weights, bit for bit (cosine schedule with warm-up, tight clipping), and those
    weights moved."""
    import copy

    import lightning_vs_bare as lvb

    task = lrd.tasks.make("copy")
    torch.manual_seed(0)
    base = lrd.models.make("lstm", task, hidden_size=8)
    optim = Optim(lr=1e-2, schedule="cosine", warmup_steps=3, grad_clip=0.05)
    lit, bare = copy.deepcopy(base), copy.deepcopy(base)
    lvb.lightning_round(task, lit, 4, 8, 12, 2, 0, optim, tmp_path, log_every=5)
    lvb.bare_round(task, bare, 4, 8, 12, 2, 0, optim)
    for p, q, r in zip(lit.parameters(), bare.parameters(), base.parameters()):
        assert torch.equal(p, q)
    assert any(not torch.equal(p, r) for p, r in zip(lit.parameters(), base.parameters()))


# -- a GradScaler (16-mixed): emulated on the CPU, the scaler without autocast ----------------
@pytest.fixture
def with_grad_scaler(monkeypatch):
    """Every Trainer of ``train`` gets 16-mixed's precision plugin with a CPU GradScaler and
    no autocast (16-mixed itself needs a GPU): what LitRun does around the scaler."""
    import contextlib

    from pytorch_lightning.plugins.precision import MixedPrecision

    import lrd.training.trainer as T

    class ScalerOnly(MixedPrecision):
        def autocast_context_manager(self):
            return contextlib.nullcontext()

    make = T.make_trainer

    def scaled(cfg, out_dir, loggers=(), callbacks=(), **extra):
        plugin = ScalerOnly("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
        return make(cfg, out_dir, loggers, callbacks, precision=None, plugins=[plugin], **extra)
    monkeypatch.setattr(T, "make_trainer", scaled)


def _grad_norms(rec):
    rows = csv.DictReader((Path(rec["run_dir"]) / "metrics.csv").read_text().splitlines())
    return [float(r["train/grad_norm"]) for r in rows if r.get("train/grad_norm")]


def test_under_a_grad_scaler_clipping_sees_unscaled_gradients(run_tiny, request):
    """The logged gradient norm (and so the clipping) is the same with and without the scaler
    (a fused optimiser would leave the gradients scaled by 65536 there)."""
    parts = ("task/adding.yaml", "model/lstm.yaml")
    over = ["task.length=5", "train.max_steps=4", "optim.grad_clip=1.0"]
    plain = _grad_norms(run_tiny(*parts, overrides=over))
    request.getfixturevalue("with_grad_scaler")
    scaled = _grad_norms(run_tiny(*parts, overrides=over + ["log.out=" + str(
        Path(tempfile.mkdtemp()))]))
    assert plain and len(scaled) == len(plain)
    assert scaled[0] == pytest.approx(plain[0], rel=1e-5)


def test_under_a_grad_scaler_a_diverged_step_still_counts(run_tiny, request, monkeypatch):
    """The training loss turns NaN at the third step: both runs stop there, diverged, with the
    same step count (the scaler skips the update of non-finite gradients, the step counts)."""
    full = regimes.Full.train_outputs
    calls = []

    def nan_at_third(self, model, task, batch):
        calls.append(1)
        out = full(self, model, task, batch)
        return out * float("nan") if len(calls) == 3 else out
    monkeypatch.setattr(regimes.Full, "train_outputs", nan_at_third)
    parts = ("task/adding.yaml", "model/lstm.yaml")
    over = ["task.length=5", "train.max_steps=20", "train.val_every=10"]
    plain = run_tiny(*parts, overrides=over)
    calls.clear()
    request.getfixturevalue("with_grad_scaler")
    scaled = run_tiny(*parts, overrides=over + ["log.out=" + str(Path(tempfile.mkdtemp()))])
    assert plain["diverged"] and scaled["diverged"]
    assert scaled["steps"] == plain["steps"] == 3


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_cpu_autocast_uses_a_path_that_supports_it(name):
    """bf16 autocast on the CPU: the kernels compute in one dtype, so the model falls back to
    the torch module; a forward and backward run, and match the module path."""
    model = lrd.models.make(name, lrd.tasks.make("copy"), hidden_size=8)
    x = torch.randn(2, 5, model.input_size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        model.cpu_path = "module"
        ref = model(x)
        del model.cpu_path
    out.float().sum().backward()
    assert torch.equal(out, ref)


def test_bench_csvs_read_back_as_written(tmp_path, monkeypatch):
    """bench.py redraws its figure from the CSVs of sections it did not run: numbers come back
    as numbers, text as text."""
    import measure
    monkeypatch.setattr(measure, "OUT", tmp_path)
    rows = [{"model": "rnn", "length": 100, "ratio": 0.843056, "clock": "cpu"}]
    measure.write_csv("x.csv", rows)
    assert measure.read_csv("x.csv") == rows
    assert measure.read_csv("missing.csv") is None
