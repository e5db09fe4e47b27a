"""Memory horizon predicted from each run's gradient-decay rate, against the measured horizon.

The prediction. A run's end-of-training analysis (the record's ``analysis.end`` summary, on the
final weights; lrd/analysis/summary.py) holds the fitted decay rate r, in ln-norm per step over
lags 1..T (lrd/analysis/gradients.py ``decay_rates``): ``jacobian_decay_rate``, of
‖∂s_T/∂s_t‖₂, for a recurrent model; ``grad_decay_rate``, of ‖∂L/∂x_t‖, for a model without a
state (attention). The fitted decay exp(r·lag) falls below the tolerance ε = ``TOLERANCE``
(1 %) at

    lag*(r) = ln ε / r   for r < 0;   lag* = ∞ for r ≥ 0 (no decay),

and a run is predicted to carry its own length L when L ≤ lag*. The predicted horizon of a
(task, model, init, regime) is ``lrd.results.horizon`` applied to these predicted outcomes in
place of the measured ones: the same rule, seeds and censoring as the measured horizon (the
horizon table), so that the two are on one scale. Runs the horizon search did not run are no
measurement in either (as in the horizon table); a run without a rate (analysis off) predicts
nothing and is left out of the prediction, and so is a diverged run, even where its record
holds a rate (``analysed``, the rule of every analysis figure: its final weights are those of a
blown-up model; the measured horizon counts it as a seed that did not solve); the findings say
how many diverged runs each group left out. A group without any rate is left out.

The prediction is post hoc: the rates are of the final weights of the same runs whose horizon
it is compared with, not a forecast from independent runs; the caption says so.

The figure: one panel per sweep (``horizon_<task>``; ``init_adding``), measured horizon on x,
predicted on y (log axes, "none" below the shortest length), the identity line grey; colour
by model (by initialisation in ``init_adding``), marker by model, hollow when either horizon
is censored (≥ the longest length); points on the same spot are offset slightly.

The findings say, where the prediction is longer than the measured horizon, that gradients
which do not decay below ε were not enough to carry the length; they count the groups whose
prediction equals the measurement over the models with a state (rate of ‖∂s_T/∂s_t‖), and
apart from them those whose rate is of ‖∂L/∂x_t‖ (attention), since the two are different
quantities.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrd import results as resultslib
from lrd.figures import seeds as sd
from lrd.figures import style
from lrd.figures.data import (Made, Skipped, analysed, diverged_note, fmt, horizon_value,
                              horizon_words, left_out_text, lost_text, not_run, run_summary,
                              study, sweeps_of)

NAME, TITLE = "predicted_horizon", "Predicted against measured memory horizon"
TOLERANCE = 0.01
RATES = ("jacobian_decay_rate", "grad_decay_rate")   # first finite one wins
IDENTITY = dict(color="0.55", ls="-", lw=0.8)


def lag_star(rate: float, tolerance: float = TOLERANCE) -> float:
    """The lag at which exp(rate·lag) falls below ``tolerance`` (∞ for rate ≥ 0, NaN for NaN)."""
    if rate is None or not math.isfinite(rate):
        return math.nan
    return math.log(tolerance) / rate if rate < 0 else math.inf


def run_rate(results_dir, run_id: str) -> float:
    """The run's decay rate: the first finite one of ``RATES`` in its end summary, or NaN."""
    return rate_and_key(results_dir, run_id)[0]


def rate_and_key(results_dir, run_id: str) -> tuple[float, str | None]:
    """``(rate, key)``: the run's decay rate and which of ``RATES`` it is (``(NaN, None)``
    without one): ``jacobian_decay_rate`` is of ‖∂s_T/∂s_t‖ (a model with a state),
    ``grad_decay_rate`` of ‖∂L/∂x_t‖ over t (attention), a different quantity."""
    end = run_summary(results_dir, run_id, "end")
    for key in RATES:
        v = end.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            return float(v), key
    return math.nan, None


def table(rows: pd.DataFrame, skipped: pd.DataFrame, results_dir) -> pd.DataFrame:
    """Per (task, model, init, regime): ``measured`` / ``predicted`` horizons (0: none) with
    ``measured_censored`` / ``predicted_censored``, ``rates`` (runs with a rate), ``key``, the
    rate its runs have (``rate_and_key``; the most common one), and ``diverged``, the diverged
    runs left out of the prediction (``analysed``: no rate, whatever their record holds)."""
    rows = rows.copy()
    kept, gone = analysed(rows)
    found = [rate_and_key(results_dir, rid) if i in kept.index else (math.nan, None)
             for i, rid in rows["run_id"].items()]
    rows["rate"] = [r for r, _ in found]
    rows["key"] = [k for _, k in found]
    rows["lag_star"] = rows["rate"].map(lag_star)
    both = pd.concat([rows, skipped], ignore_index=True)
    both["solved"] = both["solved"].fillna(False).astype(bool)
    # a run without a rate (diverged, no analysis) predicts nothing: left out, not a failure
    status = both["status"] if "status" in both else pd.Series("complete", index=both.index)
    has = both["lag_star"].notna() | (status == resultslib.SKIPPED)
    predicted = both[has].assign(solved=both.loc[has, "length"] <= both.loc[has, "lag_star"])
    keys = resultslib.HORIZON_KEYS
    out = []
    h_meas = resultslib.horizon(both).set_index(keys)
    h_pred = resultslib.horizon(predicted).set_index(keys)
    counts = rows.groupby(keys)["rate"].apply(lambda r: int(np.isfinite(r).sum()))
    used = rows.dropna(subset=["key"]).groupby(keys)["key"].agg(lambda k: k.mode().iloc[0])
    left = gone.groupby(keys).size()
    for key in h_meas.index:
        if counts.get(key, 0) == 0 or key not in h_pred.index:
            continue
        (m, mc), (p, pc) = horizon_value(h_meas.loc[key]), horizon_value(h_pred.loc[key])
        out.append({**dict(zip(keys, key)), "measured": m, "measured_censored": mc,
                    "predicted": p, "predicted_censored": pc, "rates": counts[key],
                    "key": used[key], "diverged": int(left.get(key, 0))})
    return pd.DataFrame(out, columns=[*keys, "measured", "measured_censored", "predicted",
                                      "predicted_censored", "rates", "key", "diverged"])


def _sweeps(runs) -> list[str]:
    """The panels' sweeps: every ``horizon_<task>`` sweep, then ``init_adding``, counting each
    run's every sweep (``sweeps_of``: a run shared with another sweep ran under its group)."""
    groups = set(sweeps_of(runs))
    tasks = style.ordered([g[len("horizon_"):] for g in groups if str(g).startswith("horizon_")],
                          style.task_order())
    return [f"horizon_{t}" for t in tasks] + (["init_adding"] if "init_adding" in groups else [])


def make(runs, results_dir: Path, out_dir: Path):
    panels, drawn, gone, keys = [], set(), [], resultslib.HORIZON_KEYS
    for sweep in _sweeps(runs) if not runs.empty else []:
        rows = study(runs, sweep)
        if rows.empty:
            continue
        tab = table(rows, not_run(runs, sweep), results_dir)
        if len(tab):
            panels.append((sweep, rows, tab))
        drawn |= set(tab[keys].itertuples(index=False, name=None))
        gone.append(analysed(rows)[1])
    gone = pd.concat(gone).drop_duplicates("run_id") if gone else pd.DataFrame()
    lost = {k: n for k, n in gone.groupby(keys).size().items() if k not in drawn} \
        if len(gone) else {}
    if not panels:
        return Skipped(NAME, TITLE, "no horizon_<task> or init_adding run has a decay rate in "
                       "its end-of-training analysis (record analysis.end)",
                       ["horizon_copy", "init_adding"])
    n = len(panels)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = style.figure(style.PAGE if n > 1 else style.COLUMN, 2.3 * nrows + 0.4, nrows,
                             ncols)
    findings, models_seen, inits_seen = [], [], []
    for ax, (sweep, rows, tab) in zip(axes.flat, panels):
        lengths = sorted(int(v) for v in rows["length"].unique())
        floor = lengths[0] / 2
        by_init = sweep == "init_adding"
        models = style.ordered(tab["model"].unique(), style.model_order())
        spots: dict = {}
        for _, r in tab.iterrows():
            x, y = max(r["measured"], floor), max(r["predicted"], floor)
            k = spots[(x, y)] = spots.get((x, y), -1) + 1
            off = sd.dodge(k % 5, 5, 0.06) if k else 1.0
            c = (style.INIT_COLORS.get(r["init"], "0.3") if by_init
                 else style.model_color(r["model"]))
            hollow = r["measured_censored"] or r["predicted_censored"]
            ax.plot(x * off, y / off, ls="", marker=style.model_marker(r["model"]), ms=5,
                    color=c, mfc="white" if hollow else c, zorder=4,
                    gid=f"point:{r['model']}:{r['init']}")
            models_seen += [r["model"]] if r["model"] not in models_seen else []
            if by_init and r["init"] not in inits_seen:
                inits_seen.append(r["init"])
        ticks = [floor, *lengths]
        ax.plot([floor / 1.5, lengths[-1] * 1.5], [floor / 1.5, lengths[-1] * 1.5],
                **IDENTITY, zorder=2, gid="identity")
        ax.set_xscale("log"), ax.set_yscale("log")
        for set_ticks, set_lim in ((ax.set_xticks, ax.set_xlim), (ax.set_yticks, ax.set_ylim)):
            set_ticks(ticks, ["none", *map(str, lengths)], minor=False)
            set_lim(floor / 1.6, lengths[-1] * 1.6)
        ax.minorticks_off()
        ax.tick_params(axis="x", labelrotation=90)   # log-spaced lengths: upright, they collide
        ax.set_xlabel("measured horizon")
        ax.set_ylabel("predicted horizon")
        name = rows["task"].iloc[0]
        ax.set_title(style.task_title(name) + (" (init study)" if by_init else ""))
        findings.append(_finding(sweep, name, tab, models))
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], ls="", marker=style.model_marker(mo), color=style.model_color(mo),
                      label=style.model_label(mo))
               for mo in style.ordered(models_seen, style.model_order())]
    handles += [Line2D([], [], ls="", marker="s", color=style.INIT_COLORS.get(i, "0.3"),
                       label=f"init: {i}") for i in style.ordered(inits_seen, style.INIT_ORDER)]
    handles += [Line2D([], [], **IDENTITY, label="predicted = measured"),
                Line2D([], [], ls="", marker="o", mfc="white", color="0.3",
                       label="censored (≥ longest length)")]
    style.legend(fig, handles, most=4)
    files = style.save(fig, out_dir, NAME)
    tabs = pd.concat([p[2] for p in panels])
    caption = ("Memory horizon predicted from each run's fitted gradient-decay rate r (end of "
               "training; post hoc: from the same runs' final weights): a run is predicted to "
               f"carry its length L when exp(r·L) ≥ {TOLERANCE:g}, i.e. L ≤ ln {TOLERANCE:g} / r, "
               "and the predicted horizon applies the horizon table's rule to these predictions. "
               "x: the measured horizon; y: the predicted; grey line: equality. Colour and "
               "marker: model (colour: initialisation in the init study); hollow: censored; "
               "'none': no length carried. A rate r ≥ 0 (no decay) predicts every length."
               + _quantity_text(tabs)
               + diverged_note(int(tabs["diverged"].sum()), " of the prediction")
               + lost_text(lost, set(), _group_label))
    return Made(NAME, TITLE, caption, [p[0] for p in panels], files, findings)


def _group_label(key) -> str:
    """A (task, model, init, regime) group as "Adding, RNN (ReLU), identity, full"."""
    task, model, init, regime = key
    return f"{style.task_title(task)}, {style.model_label(model)}, {init}, {regime}"


def _quantity_text(tab) -> str:
    """A caption sentence naming the models whose rate is of ‖∂L/∂x_t‖ (none: "")."""
    grad = style.ordered(tab.loc[tab["key"] == "grad_decay_rate", "model"].unique(),
                         style.model_order())
    if not grad:
        return ""
    return (f" For {', '.join(map(style.model_label, grad))} (no recurrent state) r is the decay "
            "rate of ‖∂L/∂x_t‖ over t, a different quantity from the recurrent models' "
            "‖∂s_T/∂s_t‖.")


def _row_text(who: str, r) -> str:
    """One group: "LSTM 40 (measured 40)", or, where the prediction is longer than the
    measured horizon, that gradients which do not decay (or decay slowly) were not enough;
    with how many diverged runs the prediction left out (``table``), if any."""
    p = horizon_words(r["predicted"], r["predicted_censored"])
    m = horizon_words(r["measured"], r["measured_censored"])
    note = left_out_text(int(r.get("diverged", 0)), " of the prediction")
    if r["predicted"] > r["measured"] and not r["measured_censored"]:
        kind = ("non-decaying gradients (above ε at every length run)" if r["predicted_censored"]
                else f"slowly decaying gradients (above ε up to {fmt(r['predicted'])})")
        return (f"{who}: {kind} were not enough: predicted {p}, measured {m}"
                + (f" ({note})" if note else ""))
    return f"{who} {p} (measured {m}" + (f"; {note})" if note else ")")


def _same(tab) -> int:
    return int(((tab["predicted"] == tab["measured"])
                & (tab["predicted_censored"] == tab["measured_censored"])).sum())


def _finding(sweep, name, tab, models) -> str:
    """The predicted against the measured horizon per group; the count of equal ones over the
    groups whose rate is of ‖∂s_T/∂s_t‖, and apart from it those of ‖∂L/∂x_t‖ (attention)."""
    parts = []
    order = tab.assign(_m=tab["model"].map(lambda mo: style.rank(mo, models)),
                       _i=tab["init"].map(lambda i: style.rank(i, style.INIT_ORDER)))
    for _, r in order.sort_values(["_m", "_i"], kind="stable").iterrows():
        who = style.model_label(r["model"]) + (f", {r['init']}" if sweep == "init_adding" else "")
        parts.append(_row_text(who, r))
    state, grad = tab[tab["key"] != "grad_decay_rate"], tab[tab["key"] == "grad_decay_rate"]
    count = (f" Equal to the measured horizon in {_same(state)} of {len(state)}"
             + (" models with a state (rate of ‖∂s_T/∂s_t‖)" if len(grad) else "") + "."
             if len(state) else "")
    if len(grad):
        who = ", ".join(style.model_label(mo) for mo in style.ordered(grad["model"].unique(),
                                                                    style.model_order()))
        count += (f" From the rate of ‖∂L/∂x_t‖ ({who}): equal in {_same(grad)} of "
                  f"{len(grad)}.")
    return (f"{style.task_title(name)} ({sweep}), memory horizon predicted from the decay rate "
            f"(ε = {TOLERANCE:g}): " + "; ".join(parts) + "." + count)
