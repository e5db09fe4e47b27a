"""What every model tells the rest of lrd about itself, as class attributes.

Figures, tables, analysis and the inits never branch on a model's name: they read these
attributes from the class registered in ``lrd.models.MODELS``. A new model subclasses ``Model``
(or ``lrd.models.recurrent.Recurrent``), sets ``name`` and ``looks``, and overrides what differs.

  name                   the registry key and the config's ``model.name``
  looks                  ``{variant: Look}``: how figures and tables show each variant of the
                         model, in figure order (a model without variants has one, its name)
  variants               ``{variant: params}``: the parameters that make each variant, when
                         a parameter makes a different model (the RNN's ``nonlinearity``);
                         empty (the default) for a model with one variant, its name
  variant(params)        the variant a run is, from its resolved model parameters: the
                         ``model`` column of ``results/runs.csv`` (``rnn-tanh``, ``lstm``)
  weights_are_dynamics   True when W_hh alone (times the diagonal of φ') is the state-to-state
                         map, so the spectrum of W_hh describes the dynamics (the RNN) and its
                         logarithm is reported; False when it only describes the weights
  has_forget_gate        whether ``forget_bias`` and ``chrono`` (lrd/models/init.py) apply
  inits                  the init schemes it accepts (lrd/models/init.py; default: all)

A recurrent model also has ``gate_names`` (the H×H blocks stacked in W_hh), see ``Recurrent``.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, Optional

import torch.nn as nn


class Look(NamedTuple):
    """How figures and tables show one model variant."""
    label: str    # in legends, titles and findings, e.g. "RNN (tanh)"
    color: str    # one colour in every figure (hex); the built-in models use Okabe–Ito
    marker: str   # matplotlib marker, so lines stay apart in greyscale print


# A model or variant that declares no look (e.g. old records of a model no longer registered).
UNKNOWN_COLOR, UNKNOWN_MARKER = "#444444", "o"


class Model(nn.Module):
    """Base class of every model: the class attributes of the module docstring."""

    name: ClassVar[str]
    looks: ClassVar[dict[str, Look]]
    variants: ClassVar[dict[str, dict]] = {}
    weights_are_dynamics: ClassVar[bool] = False
    has_forget_gate: ClassVar[bool] = False
    inits: ClassVar[Optional[tuple[str, ...]]] = None   # None: every scheme

    @classmethod
    def variant(cls, params: dict) -> str:
        """The variant of a model with resolved ``params`` (a key of ``looks``): the first of
        ``variants`` whose parameters ``params`` has, else the model's ``name``."""
        for variant, made_by in cls.variants.items():
            if all(params.get(k) == v for k, v in made_by.items()):
                return variant
        return cls.name
