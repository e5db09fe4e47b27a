"""Analysis inside every training run: a Lightning Callback (on when ``analysis.enabled``).

  at init (on_train_start) and at the end (on_train_end): ``report.analyze`` on a fixed batch
      (the first ``analysis.batch_size`` sequences of the run's validation stream at the target
      length, ``data.fixed_set(..., "val")``: the same batch both times, never trained on),
      saved as ``analysis_init.npz`` / ``analysis_end.npz`` in the run dir, with the final
      weights as ``model.pt`` (``lrd analyze RUN_DIR`` rebuilds everything from these), and
      the summaries in ``self.summary`` (lrd/training/run.py puts them in the record under
      ``analysis``).
      With W&B on, the figures are logged as images.
  every ``analysis.every`` steps: ``analysis/weight_radius``, ``analysis/weight_sigma_max``
      (largest over the W_hh blocks) and ``analysis/jacobian_radius``,
      ``analysis/jacobian_sigma_max`` (mean over 4 steps × 4 sequences of the fixed batch),
      logged as scalars to the run's loggers (metrics.csv and W&B), on the row of that step.

Defaults in training (cheap, measured in the README): Jacobian spectra at 8 steps × 4
sequences, Jacobian-product norms on 4 sequences, the top 8 Lyapunov exponents on 8 sequences
(``lrd analyze`` computes the full Lyapunov spectrum). Nothing here draws from the global RNG
or touches ``.grad``, so a run's training numbers are the same with analysis on or off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from lrd import data
from lrd.analysis import summary as report
from lrd.analysis.jacobians import is_recurrent, model_inputs
from lrd.analysis.spectra import jacobian_spectra, weight_spectra

SETTINGS = {"n_steps": 8, "n_sequences": 4, "jacobian_sequences": 4, "lyapunov_sequences": 8,
            "n_exponents": 8}


class AnalysisCallback(pl.Callback):
    """``regime``: the run's; the fixed batch is taken as its model reads it
    (``Regime.model_batch``: under teacher forcing, the inputs beside the true previous
    targets), so every analysis function sees the model's own input width."""

    def __init__(self, task, length: int, out_dir, seed: int = 0, batch_size: int = 32,
                 every: int = 100, wandb: bool = False, settings: dict | None = None,
                 regime=None):
        self.task, self.length, self.out_dir = task, length, Path(out_dir)
        self.seed, self.batch_size, self.every, self.wandb = seed, batch_size, every, wandb
        self.settings = {**SETTINGS, **(settings or {})}
        batch = data.fixed_set(task, length, batch_size, seed, "val")
        self.batch = batch if regime is None else regime.model_batch(task, batch)
        self.summary: dict = {"batch": f"validation stream, first {batch_size} sequences at "
                                       f"length {length}", "settings": self.settings}
        self.results: dict = {}

    def _batch(self, pl_module):
        return self.batch.to(pl_module.device)

    def _run(self, label: str, trainer, pl_module) -> None:
        model = pl_module.model
        result = report.analyze(model, self.task, self._batch(pl_module), **self.settings)
        self.results[label] = result
        report.save(result, self.out_dir / f"analysis_{label}.npz", sequences=1)
        self.summary[label] = report.summarize(result)

    def on_train_start(self, trainer, pl_module):
        self._run("init", trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        self._run("end", trainer, pl_module)
        torch.save(pl_module.model.state_dict(), self.out_dir / "model.pt")
        if self.wandb:
            self._log_figures(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if self.every and step % self.every == 0 and is_recurrent(pl_module.model):
            # Straight to the loggers (Logger.log_metrics), at the step Lightning gives this
            # batch's train/* row. Not pl_module.log: Lightning keeps an on_step value in its
            # results until the epoch ends, and a run is one endless epoch, so a value logged
            # every N steps would be written again on every later row.
            values = scalars(pl_module.model, self.task, self._batch(pl_module))
            for logger in trainer.loggers:
                logger.log_metrics(values, step=step - 1)

    def _log_figures(self, trainer) -> None:
        from pytorch_lightning.loggers import WandbLogger
        import wandb

        paths = report.write_figures(self.results, self.out_dir / "analysis")
        images = {f"analysis/{p.stem}": wandb.Image(str(p)) for p in paths if p.suffix == ".png"}
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.log(images)


def scalars(model, task, batch, n_steps: int = 4, n_sequences: int = 4,
            regime=None) -> dict[str, float]:
    """The periodic scalars (module docstring); NaN where weights or Jacobians are non-finite.
    ``regime``: the run's, unless ``batch`` is already as the model reads it."""
    out = {}
    try:
        spectra = weight_spectra(model)
        out["analysis/weight_radius"] = max(float(np.abs(e[0])) for e, _ in spectra.values())
        out["analysis/weight_sigma_max"] = max(float(sv[0]) for _, sv in spectra.values())
    except ValueError:  # non-finite weights
        return {k: float("nan") for k in ("analysis/weight_radius", "analysis/weight_sigma_max",
                                          "analysis/jacobian_radius",
                                          "analysis/jacobian_sigma_max")}
    j = jacobian_spectra(model, model_inputs(model, task, batch, regime), n_steps, n_sequences)
    with np.errstate(invalid="ignore"):
        out["analysis/jacobian_radius"] = float(np.nanmean(j["radius"])) \
            if j["finite"].any() else float("nan")
        out["analysis/jacobian_sigma_max"] = float(np.nanmean(j["sigma_max"])) \
            if j["finite"].any() else float("nan")
    return out
