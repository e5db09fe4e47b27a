"""A sweep's search space: W&B parameter specs as value lists or distributions, and their
expansion into parameter sets (every grid point, or ``run_cap`` random draws).

Grid: the product of every parameter's values, parameters in name order, the last varying
fastest. Random: ``run_cap`` independent draws (with replacement, as W&B's random search),
each parameter drawn in name order from one ``numpy.random.Generator`` seeded with ``seed``,
so a sweep file and a seed always give the same draws. W&B's distributions map to
``scipy.stats`` (bounds as W&B defines them: ``int_uniform`` includes ``max``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from lrd.errors import ConfigError

OFFLINE_METHODS = ("grid", "random")


class Quantized:
    """A scipy distribution rounded to multiples of q, as W&B's q_* distributions are."""

    def __init__(self, dist, q: float):
        self.dist, self.q = dist, q

    def rvs(self, random_state: np.random.Generator) -> float:
        return float(round(self.dist.rvs(random_state=random_state) / self.q) * self.q)


class Weighted:
    """W&B's categorical_w_probabilities: one of ``values`` with the given weights."""

    def __init__(self, values: list, probabilities: list[float]):
        if len(values) != len(probabilities) or min(probabilities) < 0 or not sum(probabilities):
            raise ValueError("needs one non-negative probability per value, not all zero")
        total = sum(probabilities)
        self.values, self.p = list(values), [p / total for p in probabilities]

    def rvs(self, random_state: np.random.Generator):
        return self.values[random_state.choice(len(self.values), p=self.p)]


def distribution(name: str, spec: dict):
    """A W&B parameter spec as a list of values (grid or random) or a distribution (random)."""
    from scipy import stats

    if "parameters" in spec:
        raise ConfigError(f"parameter '{name}': nested parameters are not supported offline; "
                          f"use dotted names such as 'model.hidden_size'")
    if "value" in spec:
        return [spec["value"]]
    kind = spec.get("distribution", "categorical" if "values" in spec else
                    "int_uniform" if all(isinstance(spec.get(k), int) for k in ("min", "max"))
                    else "uniform")
    lo, hi = spec.get("min"), spec.get("max")
    mu, sigma, q = spec.get("mu", 0.0), spec.get("sigma", 1.0), spec.get("q", 1.0)
    table = {
        "categorical": lambda: list(spec["values"]),
        "constant": lambda: [spec["value"]],
        "categorical_w_probabilities": lambda: Weighted(spec["values"], spec["probabilities"]),
        "int_uniform": lambda: stats.randint(lo, hi + 1),
        "uniform": lambda: stats.uniform(lo, hi - lo),
        "q_uniform": lambda: Quantized(stats.uniform(lo, hi - lo), q),
        "log_uniform_values": lambda: stats.loguniform(lo, hi),
        "q_log_uniform_values": lambda: Quantized(stats.loguniform(lo, hi), q),
        "log_uniform": lambda: stats.loguniform(math.exp(lo), math.exp(hi)),
        "q_log_uniform": lambda: Quantized(stats.loguniform(math.exp(lo), math.exp(hi)), q),
        "normal": lambda: stats.norm(mu, sigma),
        "q_normal": lambda: Quantized(stats.norm(mu, sigma), q),
        "log_normal": lambda: stats.lognorm(s=sigma, scale=math.exp(mu)),
        "q_log_normal": lambda: Quantized(stats.lognorm(s=sigma, scale=math.exp(mu)), q),
        "beta": lambda: stats.beta(spec.get("a", 1.0), spec.get("b", 1.0)),
    }
    if kind not in table:
        raise ConfigError(f"parameter '{name}': distribution '{kind}' is not supported offline; "
                          f"supported: {', '.join(sorted(table))}")
    try:
        return table[kind]()
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise ConfigError(f"parameter '{name}': bad spec {spec} ({err})") from None


def expand(sweep, seed: int = 0) -> list[dict[str, Any]]:
    """Every parameter set of ``sweep`` (a ``spec.Sweep``): the grid's product, or ``run_cap``
    random draws from a generator seeded with ``seed``."""
    if sweep.method not in OFFLINE_METHODS:
        raise ConfigError(f"{sweep.path}: method '{sweep.method}' cannot run offline (it needs "
                          f"W&B's server); use {' or '.join(OFFLINE_METHODS)}, or run it with "
                          f"`wandb sweep` and `wandb agent`")
    space = {name: distribution(name, spec) for name, spec in sorted(sweep.parameters.items())}
    if sweep.method == "grid":
        bad = [n for n, d in space.items() if not isinstance(d, list)]
        if bad:
            raise ConfigError(f"{sweep.path}: grid search needs 'values' or 'value' for every "
                              f"parameter; {', '.join(bad)} is a distribution")
        return [dict(zip(space, point)) for point in itertools.product(*space.values())]
    if not isinstance(sweep.run_cap, int) or sweep.run_cap < 1:
        raise ConfigError(f"{sweep.path}: random search offline needs 'run_cap' (how many runs)")
    rng = np.random.default_rng(seed)
    try:
        return [{name: _draw(d, rng) for name, d in space.items()} for _ in range(sweep.run_cap)]
    except (TypeError, ValueError, OverflowError) as err:
        raise ConfigError(f"{sweep.path}: cannot draw from the parameters ({err})") from None


def _draw(dist, rng: np.random.Generator):
    """One value: uniformly from a list, else from the distribution; plain Python types."""
    value = dist[rng.integers(len(dist))] if isinstance(dist, list) else dist.rvs(random_state=rng)
    return value.item() if isinstance(value, np.generic) else value
