"""Training regimes (SPEC §4): exact gradient identities, fed-back inputs, the curriculum."""

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import lrd.models
import lrd.tasks
from lrd.training import regimes
from lrd.errors import ConfigError
from lrd.training.module import TaskData
from lrd.training.schedule import LengthSchedule


def setup(task_name="copy", model="rnn", length=6, batch=5, regime="full", dtype=None,
          **model_params):
    torch.manual_seed(0)
    task = lrd.tasks.make(task_name)
    reg = regimes.make(regime) if isinstance(regime, str) else regime
    net = lrd.models.make(model, reg.model_sizes(task), hidden_size=7, **model_params)
    if dtype is not None:
        net = net.to(dtype)
    b = task.sample(batch, length, torch.Generator().manual_seed(1))
    if dtype is not None:
        b = lrd.tasks.Batch(b.inputs.to(dtype), b.targets, b.mask, b.metric_mask)
    return task, reg, net, b


def grads(net, task, reg, b):
    net.zero_grad()
    task.loss(reg.train_outputs(net, task, b), b).backward()
    return {n: p.grad.clone() for n, p in net.named_parameters()}


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("window", [26, 27, 100])
def test_truncated_with_window_at_least_length_is_full_bptt_exactly(model, window):
    task, full, net, b = setup(model=model, length=6)   # copy at T=6: 26 steps
    g_full = grads(net, task, full, b)
    g_trunc = grads(net, task, regimes.make("truncated", window=window), b)
    for name in g_full:
        assert torch.equal(g_full[name], g_trunc[name]), name


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_truncated_windows_cut_the_gradient(model):
    """With window w < L, a loss at step t gets no gradient from inputs before t's window."""
    task, _, net, b = setup(model=model, length=6)
    inputs = b.inputs.clone().requires_grad_(True)
    out = regimes.make("truncated", window=5).train_outputs(
        net, task, lrd.tasks.Batch(inputs, b.targets, b.mask, b.metric_mask))
    out[:, 12].sum().backward()   # step 12 lies in the window [10, 15)
    per_step = inputs.grad.abs().sum(dim=(0, 2))
    assert (per_step[:10] == 0).all() and (per_step[10:13] > 0).all()
    assert (per_step[13:] == 0).all()


def test_truncated_window_one_is_the_one_step_gradient():
    """With k = 1 every h_{t-1} is a constant, so for the tanh RNN h_t = tanh(a_t),
    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, and y_t = V h_t + c:

        g_t = ∂L/∂y_t  (taken from autograd of the loss alone),
        δ_t = (Vᵀ g_t) ⊙ (1 - h_t²)        (no term from step t+1: the window cut it),
        ∂L/∂W_hh = Σ_t δ_t h_{t-1}ᵀ,  ∂L/∂W_ih = Σ_t δ_t x_tᵀ,  ∂L/∂b = Σ_t δ_t.

    Compared in float64 to 1e-12."""
    task, _, net, b = setup(model="rnn", length=5, dtype=torch.float64)
    reg = regimes.make("truncated", window=1)
    g = grads(net, task, reg, b)
    with torch.no_grad():
        _, (hs,) = net.steps(b.inputs)
    h = hs[:, :, 0]                                      # [B, L, H]
    out = net.head(h).detach().requires_grad_(True)
    task.loss(out, b).backward()
    delta = (out.grad @ net.head.weight) * (1 - h ** 2)  # [B, L, H]
    h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
    expect = {
        "core.weight_hh_l0": torch.einsum("bti,btj->ij", delta, h_prev),
        "core.weight_ih_l0": torch.einsum("bti,btj->ij", delta, b.inputs),
        "core.bias_hh_l0": delta.sum((0, 1)),
        "core.bias_ih_l0": delta.sum((0, 1)),
    }
    for name, value in expect.items():
        torch.testing.assert_close(g[name], value, rtol=1e-12, atol=1e-12)


class Recorder(torch.nn.Module):
    """Wraps a model and records the inputs it is given, on either path."""

    def __init__(self, net):
        super().__init__()
        self.net, self.seen, self.outputs = net, [], []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.net(x)

    def initial_state(self, *a, **k):
        return self.net.initial_state(*a, **k)

    def run(self, *a, **k):
        return self.net.run(*a, **k)

    def step(self, x, state):
        self.seen.append(x.detach().clone())
        out, state = self.net.step(x, state)
        self.outputs.append(out.detach().clone())
        return out, state


@pytest.mark.parametrize("task_name", ["copy", "delayed_recall", "prefix_sum"])
def test_teacher_forcing_p1_feeds_the_true_previous_target(task_name):
    reg = regimes.make("teacher_forcing", p=1.0)
    task, _, net, b = setup(task_name, model="lstm", length=4, regime=reg)
    rec = Recorder(net)
    reg.train_outputs(rec, task, b)
    (x,) = rec.seen
    fb = x[..., task.input_size:]
    assert torch.equal(x[..., :task.input_size], b.inputs)
    fed = reg.feedback_mask(b)
    for i in range(len(b)):
        for t in range(b.inputs.shape[1]):
            want = torch.zeros(task.output_size)
            if fed[i, t]:
                want[b.targets[i, t - 1]] = 1.0
            assert torch.equal(fb[i, t], want), (i, t)
    if task_name == "copy":   # only inside the recall phase
        assert fed.sum(1).eq(9).all()


@pytest.mark.parametrize("task_name", ["copy", "prefix_sum"])
def test_teacher_forcing_p0_feeds_the_models_own_predictions(task_name):
    reg = regimes.make("teacher_forcing", p=0.0)
    task, _, net, b = setup(task_name, model="gru", length=4, regime=reg)
    rec = Recorder(net)
    reg.train_outputs(rec, task, b)
    fed = reg.feedback_mask(b)
    for t, x in enumerate(rec.seen):
        fb = x[:, task.input_size:]
        want = torch.zeros_like(fb)
        if t > 0:
            want = F.one_hot(rec.outputs[t - 1].argmax(-1), task.output_size).float()
        assert torch.equal(fb, want * fed[:, t, None]), t


def test_teacher_forcing_p_half_mixes_at_rate_p():
    """Where the model's own prediction differs from the truth, the fed-back vector is the
    truth with probability p per step. n such steps give a Binomial(n, p) count; 5 sd bound."""
    reg = regimes.make("teacher_forcing", p=0.5)
    task, _, net, b = setup("prefix_sum", model="rnn", length=60, batch=64, regime=reg)
    rec = Recorder(net)
    reg.train_outputs(rec, task, b)
    truths = own = 0
    for t in range(1, len(rec.seen)):
        fb = rec.seen[t][:, task.input_size:].argmax(-1)
        mine = rec.outputs[t - 1].argmax(-1)
        true = b.targets[:, t - 1]
        differ = mine != true
        truths += int((fb[differ] == true[differ]).sum())
        own += int((fb[differ] == mine[differ]).sum())
    n = truths + own
    assert n > 1000
    assert abs(truths / n - 0.5) < 5 * math.sqrt(0.25 / n)


def test_teacher_forcing_evaluates_closed_loop():
    reg = regimes.make("teacher_forcing", p=1.0)
    task, _, net, b = setup("prefix_sum", model="lstm", length=5, regime=reg)
    rec = Recorder(net)
    reg.eval_outputs(rec, task, b)
    assert len(rec.seen) == 5, "evaluation runs step by step on the model's own predictions"


def schedule_with(reg, task, target, metrics, patience=1, early_stop=True):
    """A LengthSchedule inside a stand-in Trainer whose validation gave ``metrics``."""
    sched = LengthSchedule(task, reg, target, patience, early_stop)
    trainer = SimpleNamespace(sanity_checking=False, global_step=0, should_stop=False,
                              callback_metrics=metrics)
    return sched, trainer


def validate(sched, trainer, metrics, step=None):
    trainer.callback_metrics = metrics
    if step is not None:
        trainer.global_step = step
    sched.on_validation_epoch_end(trainer, None)


def test_curriculum_grows_only_after_a_solve():
    task = lrd.tasks.make("prefix_sum")
    reg = regimes.make("curriculum", start=10, factor=2.0)
    assert reg.start_length(200) == 10 and reg.start_length(5) == 5
    unsolved = {"val/accuracy": torch.tensor(0.5), "val/loss": torch.tensor(1.0)}
    solved = {"val/accuracy": torch.tensor(0.995), "val/loss": torch.tensor(0.01)}
    sched, trainer = schedule_with(reg, task, 200, unsolved)
    assert sched.length == 10, "the schedule starts at the regime's start length"
    validate(sched, trainer, unsolved, step=5)
    assert sched.length == 10 and not trainer.should_stop and sched.history == []
    lengths = []
    for step in range(10, 70, 10):
        validate(sched, trainer, solved, step=step)
        lengths.append(sched.length)
    assert lengths == [20, 40, 80, 160, 200, 200]
    assert sched.history == [(10, 20), (20, 40), (30, 80), (40, 160), (50, 200)]
    assert sched.solved and trainer.should_stop, "solved at the target length: stop"


def test_the_data_module_draws_at_the_schedules_length():
    task = lrd.tasks.make("prefix_sum")
    sched, trainer = schedule_with(regimes.make("curriculum", start=3), task, 12,
                                   {"val/accuracy": torch.tensor(1.0)})
    dm = TaskData(task, sched, batch_size=2, seed=0, val_size=4)
    batches = iter(dm.train_dataloader())
    assert next(batches).inputs.shape[1] == task.sequence_length(3)
    validate(sched, trainer, trainer.callback_metrics, step=1)
    assert dm.length == 6 and next(batches).inputs.shape[1] == task.sequence_length(6)
    (val,) = list(dm.val_dataloader())
    assert val.inputs.shape[:2] == (4, task.sequence_length(6))


def test_without_early_stop_a_solved_run_goes_on():
    task = lrd.tasks.make("adding")
    sched, trainer = schedule_with(regimes.make("full"), task, 50,
                                   {"val/mse": torch.tensor(0.005)}, early_stop=False)
    validate(sched, trainer, trainer.callback_metrics)
    assert sched.solved and not trainer.should_stop


def test_sanity_validation_is_ignored():
    task = lrd.tasks.make("adding")
    sched, trainer = schedule_with(regimes.make("full"), task, 50,
                                   {"val/mse": torch.tensor(0.005)})
    trainer.sanity_checking = True
    validate(sched, trainer, trainer.callback_metrics)
    assert not sched.solved and not trainer.should_stop and sched.streak == 0


def test_full_regime_stops_when_solved_and_not_before():
    task = lrd.tasks.make("adding")
    sched, trainer = schedule_with(regimes.make("full"), task, 50,
                                   {"val/mse": torch.tensor(0.02)})
    validate(sched, trainer, trainer.callback_metrics)
    assert not trainer.should_stop
    validate(sched, trainer, {"val/mse": torch.tensor(0.005)})
    assert trainer.should_stop and sched.length == 50 and sched.history == []


def test_solve_patience_needs_consecutive_solves():
    task = lrd.tasks.make("adding")
    good, bad = {"val/mse": torch.tensor(0.005)}, {"val/mse": torch.tensor(0.5)}
    sched, trainer = schedule_with(regimes.make("full"), task, 50, good, patience=3)
    for metrics in (good, good, bad, good, good):
        validate(sched, trainer, metrics)
        assert not trainer.should_stop, "a failed validation resets the count"
    validate(sched, trainer, good)
    assert trainer.should_stop and sched.solved


def test_curriculum_growth_needs_patience_too():
    task = lrd.tasks.make("adding")
    good, bad = {"val/mse": torch.tensor(0.005)}, {"val/mse": torch.tensor(0.5)}
    sched, trainer = schedule_with(regimes.make("curriculum", start=10), task, 40, good,
                                   patience=2)
    for metrics, length in ((good, 10), (bad, 10), (good, 10), (good, 20), (good, 20),
                            (good, 40)):
        validate(sched, trainer, metrics)
        assert sched.length == length
    assert not trainer.should_stop, "the growth to the target resets the count"


def test_a_curriculum_run_trains_at_its_schedules_lengths(run_tiny, monkeypatch):
    """End to end, with every validation counted as solved: the training length grows at each
    validation (2 -> 4 -> 8), the batches and the logged ``train/length`` follow it, and the
    run stops at the first solve at the target; the record keeps the schedule."""
    monkeypatch.setattr(type(lrd.tasks.make("adding")), "solved", lambda self, m: True)
    rec = run_tiny("task/adding.yaml", "regime/curriculum.yaml", overrides=[
        "task.length=8", "regime.start=2", "train.max_steps=20", "train.val_every=2",
        "train.solve_patience=1", "analysis.enabled=false"])
    assert [tuple(g) for g in rec["length_schedule"]] == [(2, 4), (4, 8)]
    assert rec["final_train_length"] == 8 and rec["steps"] == 6
    rows = [r for r in csv.DictReader((Path(rec["run_dir"]) / "metrics.csv").open())
            if r["train/length"]]
    assert [(int(r["step"]), float(r["train/length"])) for r in rows] == \
        [(0, 2.0), (1, 2.0), (2, 4.0), (3, 4.0), (4, 8.0), (5, 8.0)]


@pytest.mark.parametrize("name,params,match", [
    ("truncated", {"window": 0}, "window must be >= 1"),
    ("teacher_forcing", {"p": 1.5}, r"p must be in \[0, 1\]"),
    ("teacher_forcing", {"p": -0.1}, r"p must be in \[0, 1\]"),
    ("curriculum", {"start": 0}, "start must be >= 1"),
    ("curriculum", {"factor": 1.0}, "factor must be > 1"),
    ("truncated", {"k": 3}, "unknown parameter 'k'; allowed: window"),
    ("full", {"window": 3}, r"unknown parameter 'window'; allowed: \(none\)"),
    ("bptt", {}, "unknown regime 'bptt'"),
])
def test_regime_parameters_are_validated(name, params, match):
    with pytest.raises(ConfigError, match=match):
        regimes.make(name, **params)


def test_regimes_that_do_not_fit_are_errors():
    task = lrd.tasks.make("prefix_sum")
    attention = lrd.models.make("attention", task, hidden_size=8)
    for name in ("truncated", "teacher_forcing"):
        with pytest.raises(ConfigError, match="needs a recurrent model"):
            regimes.make(name).check(task, attention)
    with pytest.raises(ConfigError, match="feeds back"):
        regimes.make("teacher_forcing").check(lrd.tasks.make("adding"), attention)
    with pytest.raises(ConfigError, match="start must be >= 2"):
        regimes.make("curriculum", start=1).check(lrd.tasks.make("adding"), attention)
