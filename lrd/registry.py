"""A registry: the names of one kind of thing (tasks, models, regimes), each owned by its package.

``lrd.tasks.TASKS``, ``lrd.models.MODELS`` and ``lrd.training.regimes.REGIMES`` are registries;
a class is registered under its ``name`` class attribute. This module knows none of them.

Parameters are validated from the class's typed constructor signature with pydantic
(``pydantic.create_model`` over the signature): unknown keys, wrong types and non-finite
numbers are one-line ``ConfigError``s, and the defaults are filled in. The constructor itself
then checks ranges and combinations.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import typing
from typing import Any

import pydantic

from lrd.errors import ConfigError, unknown_name

# Unknown keys are errors, strings are not numbers, and nan/inf are never a valid setting.
STRICT = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)


def describe(err: pydantic.ValidationError, where: str) -> ConfigError:
    """One line from pydantic's structured errors (``err.errors()``), naming the key."""
    parts = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(value)"
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key '{key}'")
        elif e["type"] == "missing":
            parts.append(f"'{key}' is required")
        else:
            parts.append(f"'{key}': {e['msg'][:1].lower() + e['msg'][1:]}, got {e['input']!r}")
    return ConfigError(f"{where}: {'; '.join(parts)}")


@functools.lru_cache(maxsize=None)
def signature_model(cls: type, skip: int = 0) -> type[pydantic.BaseModel]:
    """A pydantic model of ``cls``'s constructor keywords (after ``skip`` leading ones)."""
    init = cls.__init__
    hints = typing.get_type_hints(init)
    fields: dict[str, Any] = {}
    params = [p for p in inspect.signature(cls).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for p in params[skip:]:
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    return pydantic.create_model(f"{cls.__name__}Params", __config__=STRICT, **fields)


def parameters(cls: type, params: dict[str, Any], where: str, skip: int = 0) -> dict[str, Any]:
    """``params`` checked against ``cls``'s constructor, with every default filled in."""
    schema = signature_model(cls, skip)
    unknown = sorted(set(params) - set(schema.model_fields))
    if unknown:
        allowed = ", ".join(sorted(schema.model_fields)) or "(none)"
        hint = difflib.get_close_matches(unknown[0], list(schema.model_fields), n=1)
        err = ConfigError(f"{where}: unknown parameter {', '.join(map(repr, unknown))}"
                          + (f" (did you mean '{hint[0]}'?)" if hint else "")
                          + f"; allowed: {allowed}")
        err.loc = (unknown[0],)   # which key, so that lrd.config can name the file that set it
        raise err
    try:
        return schema.model_validate(dict(params)).model_dump()
    except pydantic.ValidationError as err:
        error = describe(err, where)
        error.loc = tuple(err.errors()[0]["loc"])
        raise error from None


class Registry(dict):
    """``name -> class`` for one ``kind``; ``make(name, *args, **params)`` validates and builds.

    ``skip`` leading positional constructor arguments (a model's ``task``) are not parameters.
    """

    def __init__(self, kind: str, classes=(), skip: int = 0):
        super().__init__()
        self.kind, self.skip = kind, skip
        for cls in classes:
            self.register(cls)

    def register(self, cls: type) -> type:
        """Add ``cls`` under ``cls.name`` (usable as a class decorator); returns ``cls``."""
        self[cls.name] = cls
        return cls

    def lookup(self, name: str) -> type:
        if name not in self:
            err = unknown_name(self.kind, name, self)
            err.loc = ("name",)
            raise err
        return self[name]

    def parameters(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` of ``name`` validated, with defaults filled in (nothing is built)."""
        return parameters(self.lookup(name), params, f"{self.kind} '{name}'", self.skip)

    def make(self, name: str, *args, **params):
        return self.lookup(name)(*args, **self.parameters(name, params))

    def available(self) -> list[str]:
        return sorted(self)
