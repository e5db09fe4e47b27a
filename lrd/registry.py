"""The one file that names every task and model.

Adding a task or model is one new file, one line in the dict below, and one config under
``configs/``. Everything else (``lrd.tasks.make``, ``lrd.models.make``, the CLI, the sweeps)
finds it here.
"""

from __future__ import annotations

from typing import Any

from jsonargparse import ArgumentParser

from lrd.errors import ConfigError, unknown_name
from lrd.models.attention import Attention
from lrd.models.gru import GRU
from lrd.models.lstm import LSTM
from lrd.models.rnn import RNN
from lrd.tasks.adding import Adding
from lrd.tasks.copy import Copy
from lrd.tasks.delayed_recall import DelayedRecall
from lrd.tasks.prefix_sum import PrefixSum

TASKS = {
    "copy": Copy,
    "adding": Adding,
    "delayed_recall": DelayedRecall,
    "prefix_sum": PrefixSum,
}

MODELS: dict[str, type] = {
    "rnn": RNN,
    "lstm": LSTM,
    "gru": GRU,
    "attention": Attention,
}


def lookup(kind: str, registry: dict, name: str) -> type:
    if name not in registry:
        raise unknown_name(kind, name, registry)
    return registry[name]


def resolve(kind: str, cls: type, params: dict[str, Any], skip: int = 0) -> dict[str, Any]:
    """Check ``params`` against ``cls``'s constructor: known keys, right types, defaults filled.

    ``skip`` leading positional parameters (such as a model's ``task``) are not config keys.
    Values given as strings (from the command line) are parsed to the declared type.
    """
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, skip={*_leading(cls, skip)})
    allowed = sorted(a.dest for a in parser._actions if a.dest not in ("help", "config"))
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"{kind}: unknown parameter {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(allowed) or '(none)'}")
    try:
        return parser.parse_object(dict(params)).as_dict()
    except Exception as err:  # jsonargparse's ArgumentError: say which key and what type
        detail = " ".join(str(err).split())
        raise ConfigError(f"{kind}: {detail}") from None


def build(kind: str, registry: dict, name: str, params: dict[str, Any], *args):
    """Look ``name`` up, validate ``params`` and construct it (after positional ``args``)."""
    cls = lookup(kind, registry, name)
    return cls(*args, **resolve(f"{kind} '{name}'", cls, params, skip=len(args)))


def _leading(cls: type, n: int) -> list[str]:
    import inspect
    names = [p for p in inspect.signature(cls).parameters if p != "self"]
    return names[:n]
