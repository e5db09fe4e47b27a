"""The models of SPEC §2. Public API::

    model = lrd.models.make("lstm", task, hidden_size=128, init="orthogonal")
    outputs = model(inputs)                       # [B, L, input_size] -> [B, L, output_size]
    lrd.models.available()                        # ['attention', 'gru', 'lstm', 'rnn']

``task`` is anything with ``input_size`` and ``output_size`` (a Task, or a stand-in).
Every model subclasses ``lrd.models.base.Model``, whose class attributes (``looks``,
``variant``, ``weights_are_dynamics``, ...) are all that figures, tables and analysis know of it.
Recurrent models (rnn, lstm, gru) also have the explicit path and state API of
``lrd.models.recurrent.Recurrent``: ``initial_state``, ``run``, ``cell``, ``step``, ``steps``,
``recurrent_weights``. Every model takes ``hidden_size``, ``num_layers``, ``dropout``, ``init``
and ``init_gain`` (lrd/models/init.py); see each model's file for the rest.
"""

from __future__ import annotations

import torch.nn as nn

from lrd.models.attention import Attention
from lrd.models.base import Look, Model
from lrd.models.gru import GRU
from lrd.models.lstm import LSTM
from lrd.models.recurrent import Recurrent
from lrd.models.rnn import RNN
from lrd.registry import Registry

__all__ = ["MODELS", "RNN", "LSTM", "GRU", "Attention", "Look", "Model", "Recurrent",
           "available", "make"]

# Every model, by its ``name``, in figure order. A new model: one file here (a ``Model``
# subclass), one entry in this list (or ``MODELS.register(MyModel)``), one config.
MODELS = Registry("model", [RNN, LSTM, GRU, Attention], skip=1)  # skip: the ``task`` argument


def make(name: str, task, **params) -> nn.Module:
    """Build the model registered as ``name`` for ``task``; unknown names and bad parameters
    raise ConfigError."""
    return MODELS.make(name, task, **params)


def available() -> list[str]:
    """Names of every registered model."""
    return MODELS.available()
