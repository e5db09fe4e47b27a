"""Tables and results/README.md from a synthetic results/ with known numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from test_figures import PREFIX_TESTS, build, prefix_accuracy


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from lrd.cli import main

    root = build(tmp_path_factory.mktemp("results"), seeds=(0, 1),
                 studies=("horizon", "regime", "prefix"), analysis=False)
    assert main(["figures", "--results", str(root)]) == 0
    return root


def test_tables_are_written_in_three_formats(results):
    for name in ("horizon", "prefix_sum"):
        for ext in ("csv", "md", "tex"):
            path = results / "tables" / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 0, path
    tex = (results / "tables" / "prefix_sum.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\toprule" in tex and "teacher\\_forcing" in tex


def test_horizon_table_holds_the_synthetic_horizons(results):
    h = pd.read_csv(results / "tables" / "horizon.csv")
    get = lambda task, model, regime="full": int(h[(h.task == task) & (h.model == model)  # noqa
                                                   & (h.regime == regime)]["horizon"].iloc[0])
    assert get("copy", "rnn-tanh") == 10 and get("copy", "lstm") == 40
    assert get("copy", "gru") == 20 and get("copy", "attention") == 0
    assert get("adding", "lstm") == 25        # solves up to 40; lengths 10, 25, 50, 100
    assert get("prefix_sum", "gru") == 20
    assert get("copy", "lstm", "truncated") == 5 and get("copy", "lstm", "curriculum") == 20
    assert set(h["seeds"]) == {2}
    # the same numbers as lrd.results.horizon on runs.csv (the committed horizon.csv)
    ref = pd.read_csv(results / "horizon.csv")
    merged = h.merge(ref, on=["task", "model", "init", "regime"], suffixes=("", "_ref"))
    assert len(merged) == len(h) == len(ref)
    assert (merged["horizon"] == merged["horizon_ref"]).all()


def test_prefix_sum_table_holds_the_means_over_seeds(results):
    t = pd.read_csv(results / "tables" / "prefix_sum.csv")
    assert len(t) == 2 * 4 * 2 and set(t["seeds"]) == {2}
    assert list(t.columns[:4]) == ["train_length", "regime", "model", "seeds"]
    for _, r in t.iterrows():
        for n in PREFIX_TESTS:
            want = sum(prefix_accuracy(r["train_length"], r["regime"], r["model"], n, s)
                       for s in (0, 1)) / 2
            assert r[f"acc@{n}"] == pytest.approx(round(want, 3), abs=1e-9)
    row = t[(t.train_length == 20) & (t.regime == "full") & (t.model == "lstm")].iloc[0]
    assert row["acc@5000"] == pytest.approx(0.9995, abs=6e-4)
    assert (results / "tables" / "prefix_sum.md").read_text().count("\n") == len(t) + 2


def test_tables_and_readme_are_byte_identical_when_rerun(results):
    from lrd.cli import main

    names = ["tables/horizon.csv", "tables/horizon.md", "tables/horizon.tex",
             "tables/prefix_sum.csv", "tables/prefix_sum.md", "tables/prefix_sum.tex",
             "README.md"]
    before = {n: (results / n).read_bytes() for n in names}
    assert main(["figures", "--results", str(results)]) == 0
    assert {n: (results / n).read_bytes() for n in names} == before


def test_readme_links_only_to_files_that_exist(results):
    text = (results / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert any(link.endswith(".png") for link in links)
    for link in links:
        assert not link.startswith(("http", "/")), link
        assert (results / link).is_file(), link
    for name in ("horizon", "curves", "regime", "generalisation"):
        assert f"](figures/{name}.png)" in text


def test_readme_states_the_rules_commands_and_findings(results):
    text = (results / "README.md").read_text()
    assert "lrd sweep configs/sweeps/regime_copy.yaml --profile cpu" in text
    assert "lrd sweep configs/sweeps/prefix_sum_study.yaml --profile cpu" in text
    assert "lrd figures" in text
    assert "accuracy ≥ 0.99" in text and "MSE < 0.01" in text
    assert "final model" in text and "mean over seeds" in text
    assert "Copy: memory horizon" in text and "LSTM 40" in text
    # studies without runs are listed as not drawn, not linked
    assert "### Not drawn" in text and "init_adding" in text
    assert "figures/init.png" not in text
    # the markdown tables are embedded
    assert (results / "tables" / "prefix_sum.md").read_text().strip() in text
