"""The models of SPEC §2. Public API::

    model = lrd.models.make("lstm", task, hidden_size=128, init="orthogonal")
    outputs = model(inputs)                       # [B, L, input_size] -> [B, L, output_size]
    lrd.models.available()                        # ['attention', 'gru', 'lstm', 'rnn']

``task`` is anything with ``input_size`` and ``output_size`` (a Task, or a stand-in).
Recurrent models (rnn, lstm, gru) also have the explicit path and state API of
``lrd.models.recurrent.Recurrent``: ``initial_state``, ``run``, ``cell``, ``step``, ``steps``,
``recurrent_weights``. Every model takes ``hidden_size``, ``num_layers``, ``dropout``, ``init``
and ``init_gain`` (lrd/init.py); see each model's file for the rest.
"""

from __future__ import annotations

import torch.nn as nn

from lrd.models.attention import Attention
from lrd.models.gru import GRU
from lrd.models.lstm import LSTM
from lrd.models.recurrent import Recurrent
from lrd.models.rnn import RNN

__all__ = ["RNN", "LSTM", "GRU", "Attention", "Recurrent", "available", "make"]


def make(name: str, task, **params) -> nn.Module:
    """Build the model registered as ``name`` for ``task``; unknown names and bad parameters
    raise ConfigError."""
    from lrd.registry import MODELS, build
    return build("model", MODELS, name, params, task)


def available() -> list[str]:
    """Names of every registered model."""
    from lrd.registry import MODELS
    return sorted(MODELS)
