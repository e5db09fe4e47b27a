"""Spectra, gradient decay and Lyapunov exponents of the models (SPEC §5). Public API::

    eig, sv = lrd.analysis.spectrum(matrix)              # NumPy; eig by descending |λ|
    curve = lrd.analysis.gradient_decay(model, task, batch)   # DataFrame: lag, grad_norm,
                                                         #   jacobian_norm (+ t, min, max)
    exps = lrd.analysis.lyapunov(model, inputs, n_exponents=None)  # ln per step, descending
    lrd.analysis.decay_rates(curve)                      # fitted ln-norm slope per lag range
    lrd.analysis.weight_spectra(model); lrd.analysis.jacobian_spectra(model, inputs)
    lrd.analysis.state_jacobians(model, inputs, steps); lrd.analysis.time_constants(eig)
    result = lrd.analysis.analyze(model, task, batch); lrd.analysis.summarize(result)

Conventions (each module says more): the state is the full state s (every layer, h and c for
the LSTM, ``jacobians.py``); logs are natural; time constants are −1/ln|λ| steps. What the
analysis needs of a model comes from its class (lrd/models/base.py): ``gate_names`` names the
W_hh blocks of the weight spectra, ``weights_are_dynamics`` adds ln ρ(W_hh) to the summary, and
a model without a state (no ``cell``) gets the input-gradient decay only. In training,
``lrd.analysis.callback.AnalysisCallback`` runs it at init and at the end; ``lrd analyze
RUN_DIR`` redoes it on a finished run with figures.
"""

from lrd.analysis.gradients import decay_rates, gradient_decay
from lrd.analysis.jacobians import state_jacobians
from lrd.analysis.lyapunov import lyapunov
from lrd.analysis.summary import analyze, summarize
from lrd.analysis.spectra import jacobian_spectra, spectrum, time_constants, weight_spectra

__all__ = ["spectrum", "gradient_decay", "lyapunov", "decay_rates", "weight_spectra",
           "jacobian_spectra", "state_jacobians", "time_constants", "analyze", "summarize"]
