"""``lrd analyze RUN_DIR``: redo the analysis of a finished run, with files and figures.

The task, the regime and the model are rebuilt from ``record.json`` by ``config.build``: the
model at init by seeding torch with the run's seed and building it exactly as ``lrd train``
does (so the initial weights are the run's own), at the end from ``model.pt`` (written by the
training callback). Both are analysed on the same fixed batch as in training (the first
``analysis.batch_size`` validation sequences at the target length, as the model reads them
under the run's regime), with the full Lyapunov spectrum. Written into RUN_DIR/analysis/ (or
``--out``):

  analysis_{init,end}.npz     spectra (W_hh blocks, Jacobians), per-lag curves, rates, exponents
  gradient_decay_{init,end}.csv   the per-lag curves;   decay_rates.csv   the fitted rates
  summary.json                the summary numbers;   figures as PNG and PDF (report.figures)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

from lrd import config as cfglib
from lrd import data
from lrd.training import record
from lrd.analysis import summary as report
from lrd.errors import ConfigError


def rebuild(run_dir) -> tuple:
    """``(record, task, model_at_init, model_at_end)`` of a finished run; ConfigError if the
    folder is not a finished run with its final weights."""
    rec, built, end_model = _load(run_dir)
    return rec, built.task, built.model, end_model


def _load(run_dir) -> tuple:
    """``(record, config.build of its config, model_at_end)``: the build holds the task, the
    regime and the model at init (seeded with the run's seed, as trained)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run folder")
    rec = record.read(run_dir)
    if rec is None or "config" not in rec:
        raise ConfigError(f"{run_dir}: no complete record.json (not a finished run)")
    weights = run_dir / "model.pt"
    if not weights.is_file():
        raise ConfigError(f"{run_dir}: no model.pt (final weights are saved only by runs "
                          "trained with analysis.enabled=true)")
    built = cfglib.build(cfglib.validate(rec["config"]))
    end_model = copy.deepcopy(built.model)   # same architecture; the final weights below
    try:
        end_model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, ValueError) as err:
        raise ConfigError(f"{weights}: does not fit the recorded model "
                          f"({str(err).splitlines()[0]})") from None
    return rec, built, end_model


def analyze_run(run_dir, out=None) -> str:
    """Analyse a finished run at init and at the end, write everything, return the summary."""
    rec, built, end_model = _load(run_dir)
    task, init_model = built.task, built.model
    conf = rec["config"]
    length = conf["task"]["length"]
    size = conf.get("analysis", {}).get("batch_size", 32)
    # the batch as the model reads it under the run's regime (as in the training callback)
    batch = built.regime.model_batch(task, data.fixed_set(task, length, size, conf["seed"],
                                                          "val"))
    out = Path(out) if out else Path(run_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    settings = {"n_steps": 8, "n_sequences": 8, "jacobian_sequences": 8,
                "lyapunov_sequences": 8, "n_exponents": None}
    results = {label: report.analyze(m, task, batch, **settings)
               for label, m in (("init", init_model), ("end", end_model))}
    summaries = {label: report.summarize(r) for label, r in results.items()}
    rates = []
    for label, r in results.items():
        report.save(r, out / f"analysis_{label}.npz")
        if "curve" in r:
            r["curve"].to_csv(out / f"gradient_decay_{label}.csv", index=False)
            rates.append(r["rates"].assign(state=label))
    if rates:
        import pandas as pd
        pd.concat(rates).to_csv(out / "decay_rates.csv", index=False)
    (out / "summary.json").write_text(json.dumps(record.clean(summaries), indent=2) + "\n")
    figs = report.write_figures(results, out)
    head = (f"{rec['run_id']}: {conf['model']['name']} on {conf['task']['name']} "
            f"(length {length}), status {rec.get('status')}, {rec.get('steps')} steps\n"
            f"batch: {size} validation sequences; logs natural, rates per step")
    return (f"{head}\n{report.text(summaries)}\n"
            f"wrote {len(figs)} figure files and the npz/csv/json files to {out}")
