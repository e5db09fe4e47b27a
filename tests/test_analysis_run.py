"""Analysis inside training runs and ``lrd analyze RUN_DIR``."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lrd import cli
from lrd.analysis import summary as report


def test_run_records_analysis_and_cli_rebuilds_it(run_tiny, capsys):
    """A tiny LSTM run writes analysis_{init,end}.npz, model.pt and the record's ``analysis``
    entry, and logs the periodic scalars every ``analysis.every`` steps. ``lrd analyze``
    rebuilds the initial model from the seed alone: its W_hh spectra must equal those the
    callback computed during the run (same weights, same LAPACK call: to float32 storage
    precision), and it writes the files and figures and prints the summary."""
    rec = run_tiny("task/adding.yaml", "model/lstm.yaml",
                   overrides=["task.length=6", "analysis.every=2", "analysis.batch_size=4"])
    run = Path(rec["run_dir"])
    for name in ("analysis_init.npz", "analysis_end.npz", "model.pt"):
        assert (run / name).is_file()
    summary = rec["analysis"]
    for label in ("init", "end"):
        for key in ("weight_radius", "jacobian_radius", "jacobian_sigma_max",
                    "jacobian_decay_rate", "grad_decay_rate", "lyapunov_max"):
            assert np.isfinite(summary[label][key]), (label, key)
    assert json.loads((run / "record.json").read_text())["analysis"]["end"]
    rows = [r for r in csv.DictReader((run / "metrics.csv").open())
            if r.get("analysis/jacobian_radius")]
    assert [int(r["step"]) for r in rows] == [1], "logged once, at global step 2 (row 1)"

    assert cli.main(["analyze", str(run)]) == 0
    out = capsys.readouterr().out
    assert "lyapunov_max" in out and "init" in out and len(out.splitlines()) < 40
    files = {p.name for p in (run / "analysis").iterdir()}
    for stem in ("weight_spectrum", "jacobian_spectrum", "singular_values", "gradient_decay",
                 "lyapunov"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= files
    assert {"analysis_init.npz", "analysis_end.npz", "gradient_decay_init.csv",
            "gradient_decay_end.csv", "decay_rates.csv", "summary.json"} <= files
    during, after = report.load(run / "analysis_init.npz"), \
        report.load(run / "analysis" / "analysis_init.npz")
    assert during["weights"].keys() == after["weights"].keys()
    for label in during["weights"]:
        np.testing.assert_allclose(during["weights"][label][1], after["weights"][label][1],
                                   rtol=1e-6)
    full = report.load(run / "analysis" / "analysis_end.npz")["lyapunov"]
    assert len(full) == 2 * 8 and np.all(np.diff(full) <= 0)  # D = 2H, descending


def test_analysis_does_not_change_training(run_tiny):
    """Analysis draws no global random numbers and touches no .grad, and is left out of the
    config hash: the same config with analysis on and off trains to the same test numbers."""
    a = run_tiny("task/copy.yaml", "model/gru.yaml", overrides=["task.length=3"])
    b = run_tiny("task/copy.yaml", "model/gru.yaml",
                 overrides=["task.length=3", "analysis.enabled=false"])
    assert a["metrics"]["test"] == b["metrics"]["test"]
    assert "analysis" in a and "analysis" not in b
    assert not (Path(b["run_dir"]) / "model.pt").exists()


def test_attention_run_has_input_gradient_decay_only(run_tiny):
    rec = run_tiny("task/adding.yaml", "model/attention.yaml", overrides=["task.length=6"])
    end = rec["analysis"]["end"]
    assert np.isfinite(end["grad_decay_rate"]) and "lyapunov_max" not in end


def test_analysis_reads_what_the_model_reads_under_its_regime():
    """The regime is passed, never guessed: under teacher forcing the model reads the task's
    input beside the true previous target; without the regime the width does not fit."""
    import torch

    import lrd.models
    import lrd.tasks
    from lrd.analysis.gradients import gradient_decay
    from lrd.analysis.jacobians import model_inputs
    from lrd.errors import ConfigError
    from lrd.training import regimes

    task = lrd.tasks.make("copy")
    batch = task.sample(3, 4, torch.Generator().manual_seed(0))
    tf, full = regimes.make("teacher_forcing"), regimes.make("full")
    model = lrd.models.make("gru", tf.model_sizes(task), hidden_size=5)
    x = model_inputs(model, task, batch, tf)
    assert torch.equal(x[..., :task.input_size], batch.inputs)
    assert torch.equal(x[..., task.input_size:], tf.true_feedback(task, batch))
    assert x[..., task.input_size:].sum() > 0, "the recall phase reads the fed-back targets"
    with pytest.raises(ConfigError, match="regime"):
        model_inputs(model, task, batch)
    with pytest.raises(ConfigError, match="regime"):
        gradient_decay(model, task, batch)
    assert len(gradient_decay(model, task, batch, regime=tf)) == batch.inputs.shape[1] + 1
    assert full.model_batch(task, batch) is batch
    plain = lrd.models.make("gru", task, hidden_size=5)
    assert model_inputs(plain, task, batch, full) is batch.inputs


def test_analyze_rebuilds_a_teacher_forcing_run_with_its_regime(run_tiny, capsys):
    """``lrd analyze`` takes the regime from the run's config (config.build): the spectra of
    the model at init equal those the training callback computed on the same batch."""
    rec = run_tiny("task/copy.yaml", "model/gru.yaml", "regime/teacher_forcing.yaml",
                   overrides=["task.length=3", "analysis.batch_size=4"])
    run = Path(rec["run_dir"])
    assert cli.main(["analyze", str(run)]) == 0
    during, after = report.load(run / "analysis_init.npz"), \
        report.load(run / "analysis" / "analysis_init.npz")
    # the run keeps the Jacobian spectra of its first sequence, lrd analyze of all of them
    np.testing.assert_allclose(during["jacobians"]["eigenvalues"],
                               after["jacobians"]["eigenvalues"][:, :1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", ["missing", "no_record", "no_weights"])
def test_analyze_bad_run_dir_is_one_line_exit_2(tmp_path, capsys, make):
    run = tmp_path / "run"
    if make != "missing":
        run.mkdir()
    if make == "no_weights":
        (run / "record.json").write_text(json.dumps({"run_id": "x", "config": {}}))
    assert cli.main(["analyze", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrd: error:") and len(err.strip().splitlines()) == 1
