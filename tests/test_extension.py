"""Adding a model or a task is one class, one registry line and one config.

A throwaway model and a throwaway task are defined here, registered for the test only, trained
tiny in-process, analysed, aggregated and drawn; their labels and colours in the figures and
the report come from their classes. Nothing in lrd knows their names.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import lrd.analysis
from lrd import results as resultslib
from lrd.models import MODELS, Look
from lrd.models.recurrent import Recurrent
from lrd.tasks import TASKS, Batch, SymbolTask

MAGENTA, ORANGE = "#FF00FF", "#FF8000"   # in no built-in look: a pixel of it is this model's


class LeakyRNN(Recurrent):
    """h_t = (1 − a)·h_{t−1} + a·tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh); ``leak`` = a."""

    name = "leaky_test"
    looks = {"leaky_test-0.5": Look("Leaky RNN (a = 0.5)", MAGENTA, "P"),
             "leaky_test-0.1": Look("Leaky RNN (a = 0.1)", ORANGE, "X")}
    variants = {"leaky_test-0.5": {"leak": 0.5}, "leaky_test-0.1": {"leak": 0.1}}
    state_names = ("h",)
    gate_names = ("hh",)
    fused = False   # no torch kernel: ``run`` is the explicit loop

    def __init__(self, task, hidden_size: int = 16, num_layers: int = 1, dropout: float = 0.0,
                 init: str = "default", init_gain: float = 1.0, leak: float = 0.5):
        super().__init__(task, hidden_size, num_layers, dropout)
        self.leak = leak
        self.core = self.make_core(nn.RNN)   # holds the weights, under torch's names
        self.init_weights(init, init_gain)

    def layer_cell(self, k, x, s):
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
        new = torch.tanh(F.linear(x, w_ih, b_ih) + F.linear(s[0], w_hh, b_hh))
        return ((1 - self.leak) * s[0] + self.leak * new,)


@dataclass(frozen=True)
class FirstSymbol(SymbolTask):
    """``length`` = S symbols from 1..n_symbols; at the last step, output the first one."""

    n_symbols: int = 4

    name = "first_symbol_test"
    label = "First symbol"
    length_means = "the sequence length S"
    length_symbol = "S"

    @property
    def input_size(self) -> int:
        return self.n_symbols + 1

    @property
    def output_size(self) -> int:
        return self.n_symbols + 1

    def _sample(self, batch_size, length, generator):
        x = torch.randint(1, self.n_symbols + 1, (batch_size, length), generator=generator,
                          device=generator.device)
        targets = torch.zeros_like(x)
        targets[:, -1] = x[:, 0]
        mask = torch.zeros_like(x, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(self.one_hot(x), targets, mask, mask)

    def baseline_loss(self, length):
        self.check_length(length)
        return 0.0 if length == 1 else math.log(self.n_symbols)

    def baseline_accuracy(self, length):
        self.check_length(length)
        return 1.0 if length == 1 else 1 / self.n_symbols


@pytest.fixture
def registered():
    """The one registry line each, undone after the test."""
    MODELS.register(LeakyRNN)
    TASKS.register(FirstSymbol)
    yield
    del MODELS[LeakyRNN.name], TASKS[FirstSymbol.name]


def has_colour(png, hex_colour: str) -> bool:
    """Whether any pixel of ``png`` is ``hex_colour`` (to 8-bit round-off)."""
    from matplotlib.image import imread

    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    img = imread(png)[..., :3]
    return bool((np.abs(img - rgb).max(-1) < 1.5 / 255).any())


def test_a_throwaway_model_and_task_train_analyse_aggregate_and_draw(registered, run_tiny,
                                                                    tmp_path):
    from lrd.analysis.cli import analyze_run
    from lrd.figures import Made, make_all
    from lrd.results import report

    # one config each: the new model on the new task, and on adding for the init study
    (tmp_path / "first.yaml").write_text(
        "task: {name: first_symbol_test, length: 3, n_symbols: 3}\n"
        "model: {name: leaky_test, leak: 0.5}\n")
    (tmp_path / "adding.yaml").write_text(
        "task: {name: adding, length: 6}\nmodel: {name: leaky_test, leak: 0.1}\n")
    first = run_tiny(tmp_path / "first.yaml",
                     overrides=["log.group=horizon_first_symbol_test", "analysis.every=2"])
    adding = run_tiny(tmp_path / "adding.yaml",
                      overrides=["log.group=init_adding", "model.init=orthogonal",
                                 "analysis.every=2"])
    for rec in (first, adding):
        assert rec["status"] == "complete" and rec["steps"] == 3
    assert first["config"]["model"] == {"name": "leaky_test", "hidden_size": 8, "num_layers": 1,
                                        "dropout": 0.0, "init": "default", "init_gain": 1.0,
                                        "leak": 0.5}
    assert first["baseline_loss"] == pytest.approx(math.log(3))
    runs_dir = tmp_path / "runs"

    # analyse: the finished run again, from its folder, and the library on the model
    summary = analyze_run(runs_dir / first["run_id"], tmp_path / "analysis")
    assert summary.startswith(f"{first['run_id']}: leaky_test on first_symbol_test")
    end = json.loads((tmp_path / "analysis" / "summary.json").read_text())["end"]
    assert {"weight_radius", "jacobian_radius", "lyapunov_max"} <= set(end)
    assert "ln_weight_radius" not in end   # LeakyRNN leaves weights_are_dynamics False
    assert (tmp_path / "analysis" / "weight_spectrum.png").stat().st_size > 1000
    task = TASKS.make("first_symbol_test", n_symbols=3)
    model = MODELS.make("leaky_test", task, hidden_size=4, leak=1.0).double()
    # with leak 1 the cell is the tanh RNN's: its step Jacobian at the zero state is W_hh
    x = task.sample(1, 2, torch.Generator().manual_seed(0)).inputs.double()
    with torch.no_grad():
        model.core.bias_ih_l0.zero_(), model.core.bias_hh_l0.zero_()
    J = lrd.analysis.state_jacobians(model, x[:, :1] * 0, [1])[0, 0]
    torch.testing.assert_close(J, model.core.weight_hh_l0.detach(), rtol=0, atol=1e-12)
    assert list(lrd.analysis.weight_spectra(model)) == ["l0"]

    # aggregate: the variant comes from the class (results/ is tmp_path, its runs/ the runs)
    results = tmp_path
    paths = resultslib.write(runs_dir, results)
    runs = pd.read_csv(paths["runs"]).set_index("run_id")
    assert runs.loc[first["run_id"], "model"] == "leaky_test-0.5"
    assert runs.loc[adding["run_id"], "model"] == "leaky_test-0.1"
    assert runs.loc[first["run_id"], "task"] == "first_symbol_test"
    assert pd.read_csv(paths["horizon"])["task"].tolist() == ["adding", "first_symbol_test"]

    # draw: labels, titles and colours from the classes
    done = {d.name: d for d in make_all(results, verbose=False)}
    drawn = {n for n, d in done.items() if isinstance(d, Made)}
    assert drawn == {"horizon", "curves", "init", "spectral", "eigenspectra", "gradient_decay",
                     "predicted_horizon"}
    horizon = done["horizon"]
    assert horizon.sweeps == ["horizon_first_symbol_test"]
    assert horizon.findings[0].startswith("First symbol: memory horizon")
    assert "Leaky RNN (a = 0.5)" in horizon.findings[0]
    assert any("Leaky RNN (a = 0.1), orthogonal" in f for f in done["spectral"].findings)
    for name in drawn:
        for path in done[name].files:
            assert path.exists() and path.stat().st_size > 1000, path
    png = {n: next(p for p in done[n].files if p.suffix == ".png") for n in drawn}
    assert has_colour(png["horizon"], MAGENTA) and not has_colour(png["horizon"], ORANGE)
    assert has_colour(png["curves"], MAGENTA)
    assert has_colour(png["eigenspectra"], ORANGE)
    report.write(results, list(done.values()))
    readme = (results / "README.md").read_text()
    assert "Leaky RNN (a = 0.5)" in readme and "First symbol" in readme
    horizon_table = (results / "tables" / "horizon.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in horizon_table[1:]] == \
        [["adding", "leaky_test-0.1"], ["first_symbol_test", "leaky_test-0.5"]]


def test_the_registries_are_restored_after_the_extension_test():
    assert "leaky_test" not in MODELS and "first_symbol_test" not in TASKS
