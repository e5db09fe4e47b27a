"""Data plumbing: which seeded stream every batch of a run comes from (SPEC §1: train batches fresh
every step; validation and test sets fixed, from streams that never coincide with training).

The run test spies on ``Task.sample`` during one tiny real run and checks every batch against
the stream it must come from, so it holds however the DataModule is arranged inside.
"""

import csv
from pathlib import Path

import pytest
import torch

import lrd.tasks
from lrd import config, data
from lrd.tasks import Task

from conftest import CONFIGS

SEED = 3   # not 0: a stream that ignores the run's seed shows up


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in ((a.inputs, b.inputs), (a.targets, b.targets),
                                              (a.mask, b.mask), (a.metric_mask, b.metric_mask)))


def draws(n: int, task, size: int, length: int, seed: int, split: str):
    """The first ``n`` batches of one fresh generator of (seed, split)."""
    gen = data.generator(seed, split)
    return [task.sample(size, length, gen) for _ in range(n)]


# -- the streams ---------------------------------------------------------------------------------

def test_stream_seeds_are_the_recorded_formula():
    """3·seed + k, k = 0 train, 1 val, 2 test (the map ``record.json`` stores under "seeds")."""
    assert [data.stream_seed(s, split) for s in (0, 1, 7) for split in ("train", "val", "test")] \
        == [0, 1, 2, 3, 4, 5, 21, 22, 23]


def test_generator_is_seeded_with_its_stream_seed():
    for seed in (0, 5):
        for split in data.SPLITS:
            g = data.generator(seed, split)
            assert g.initial_seed() == data.stream_seed(seed, split)
            ref = torch.Generator().manual_seed(data.stream_seed(seed, split))
            assert torch.equal(torch.rand(16, generator=g), torch.rand(16, generator=ref))


def test_every_run_seed_and_split_has_its_own_stream():
    """Different seeds, and different splits of one seed, give different numbers."""
    firsts = {(seed, split): tuple(torch.rand(8, generator=data.generator(seed, split)).tolist())
              for seed in range(4) for split in data.SPLITS}
    assert len(set(firsts.values())) == len(firsts) == 12


def test_a_fresh_generator_restarts_its_stream():
    a = torch.rand(8, generator=data.generator(2, "train"))
    b = torch.rand(8, generator=data.generator(2, "train"))
    assert torch.equal(a, b)


@pytest.mark.parametrize("split", ["val", "test"])
def test_fixed_set_is_the_first_draw_of_its_stream_every_call(split):
    task = lrd.tasks.make("copy")
    first = data.fixed_set(task, 4, 16, SEED, split)
    again = data.fixed_set(task, 4, 16, SEED, split)
    assert same(first, again)
    assert len(first) == 16 and first.inputs.shape[1] == task.sequence_length(4)
    assert same(first, task.sample(16, 4, data.generator(SEED, split)))
    other = "test" if split == "val" else "val"
    assert not same(first, data.fixed_set(task, 4, 16, SEED, other))
    assert not same(first, data.fixed_set(task, 4, 16, SEED + 1, split))
    assert not same(first, task.sample(16, 4, data.generator(SEED, "train")))


# -- one real run: every batch from the right stream ---------------------------------------------

@pytest.fixture(scope="module")
def spied_run(tmp_path_factory):
    """A tiny curriculum run (copy, target length 20, starting at 10 as its config says) with
    every ``Task.sample`` call recorded as (batch_size, length, generator's initial seed,
    batch). Sizes tell the splits apart: train batches 4, validation set 6, test sets 10 (at 20
    and at 7)."""

    from lrd.training.run import train

    out = tmp_path_factory.mktemp("data_run")
    calls = []
    orig = Task.sample

    def spy(self, batch_size, length, generator):
        batch = orig(self, batch_size, length, generator)
        calls.append((batch_size, length, generator.initial_seed(), batch))
        return batch

    mp = pytest.MonkeyPatch()
    mp.setattr(Task, "sample", spy)
    try:
        cfg = config.load([CONFIGS / "task/copy.yaml", CONFIGS / "model/lstm.yaml",
                           CONFIGS / "regime/curriculum.yaml"],
                          ["task.length=20", f"seed={SEED}",
                           "train.max_steps=4", "train.val_every=2", "train.batch_size=4",
                           "train.val_size=6", "train.test_size=10", "train.eval_lengths=[7]",
                           "train.early_stop=false", "model.hidden_size=8", "train.threads=1",
                           "analysis.enabled=false", "log.wandb=false", "log.every=1",
                           "train.progress_bar=false", f"log.out={out}"])
        rec = train(cfg)
    finally:
        mp.undo()
    return rec, calls


def test_training_batches_are_successive_draws_of_the_train_stream(spied_run):
    rec, calls = spied_run
    task = lrd.tasks.make("copy")
    train = [c for c in calls if c[0] == 4]
    assert rec["steps"] == 4 and len(train) >= 4   # Lightning may fetch one batch ahead
    assert {c[1] for c in train} == {10}           # the curriculum's start length
    assert {c[2] for c in train} == {data.stream_seed(SEED, "train")}
    expected = draws(len(train), task, 4, 10, SEED, "train")
    for i, (got, want) in enumerate(zip((c[3] for c in train), expected)):
        assert same(got, want), f"training batch {i} is not draw {i} of the train stream"
    assert not same(train[0][3], train[1][3]), "a fresh batch every step"


def test_validation_set_is_the_fixed_val_stream_draw(spied_run):
    _, calls = spied_run
    task = lrd.tasks.make("copy")
    val = [c for c in calls if c[0] == 6]
    assert val, "the run validated"
    assert {(c[1], c[2]) for c in val} == {(10, data.stream_seed(SEED, "val"))}
    want = data.fixed_set(task, 10, 6, SEED, "val")
    assert all(same(c[3], want) for c in val)


def test_test_sets_are_fixed_test_stream_draws_at_each_length(spied_run):
    rec, calls = spied_run
    task = lrd.tasks.make("copy")
    test = [c for c in calls if c[0] == 10]
    assert sorted((c[1], c[2]) for c in test) == [(7, data.stream_seed(SEED, "test")),
                                                   (20, data.stream_seed(SEED, "test"))]
    for c in test:
        assert same(c[3], data.fixed_set(task, c[1], 10, SEED, "test"))
    assert rec["seeds"] == {"seed": SEED, "model_init": SEED,
                            "train_stream": data.stream_seed(SEED, "train"),
                            "val_stream": data.stream_seed(SEED, "val"),
                            "test_stream": data.stream_seed(SEED, "test")}
    assert all(c[0] in (4, 6, 10) for c in calls), "no other draws"


def test_baselines_use_the_right_length(spied_run):
    """The record's baseline is the target length's; logged loss ratios divide by the baseline
    at the current training length (10 here, the curriculum's start), not the target's."""
    rec, _ = spied_run
    task = lrd.tasks.make("copy")
    assert rec["baseline_loss"] == pytest.approx(task.baseline_loss(20), rel=1e-12)
    rows = list(csv.DictReader((Path(rec["run_dir"]) / "metrics.csv").open()))
    train_rows = [r for r in rows if r.get("train/loss")]
    val_rows = [r for r in rows if r.get("val/loss")]
    assert train_rows and val_rows
    for r in train_rows:
        assert float(r["train/length"]) == 10
        assert float(r["train/loss_ratio"]) == pytest.approx(
            float(r["train/loss"]) / task.baseline_loss(10), rel=1e-5)
    for r in val_rows:
        assert float(r["val/loss_ratio"]) == pytest.approx(
            float(r["val/loss"]) / task.baseline_loss(10), rel=1e-5)


# -- held out: no evaluated sequence is ever trained on -----------------------------------------

def test_keys_tell_sequences_apart_and_match_equal_ones():
    task = lrd.tasks.make("prefix_sum")
    batch = task.sample(512, 6, data.generator(SEED, "val"))
    k = data.keys(batch.inputs)
    rows = {tuple(r.argmax(-1).tolist()) for r in batch.inputs}
    assert len(set(k.tolist())) == len(rows)          # distinct sequences, distinct keys
    assert torch.equal(data.keys(batch.inputs.clone()), k)


def test_exclude_replaces_exactly_the_held_rows_from_the_same_stream():
    task = lrd.tasks.make("prefix_sum")
    held_set = data.fixed_set(task, 5, 100, SEED, "test")          # 100 of 3^5 = 243
    held = data.keys(held_set.inputs).sort().values
    gen = data.generator(SEED, "train")
    first = task.sample(64, 5, gen)
    hits = int(torch.isin(data.keys(first.inputs), held).sum())
    assert hits > 0                                                  # ~26 expected
    gen = data.generator(SEED, "train")

    def draw():
        return task.sample(64, 5, gen)
    out, n = data.exclude(draw(), held, draw)
    assert n == hits and len(out) == 64
    assert not torch.isin(data.keys(out.inputs), held).any()
    assert torch.equal(data.member(data.keys(first.inputs), held),
                       torch.isin(data.keys(first.inputs), held))
    # the kept rows are the first draw's non-held rows, in order; targets stay with inputs
    keep = ~torch.isin(data.keys(first.inputs), held)
    assert torch.equal(out.inputs[: int(keep.sum())], first.inputs[keep])
    assert torch.equal(out.targets, torch.remainder(out.inputs.argmax(-1).cumsum(1), 3))


def test_a_run_never_trains_on_its_test_or_validation_sequences(tmp_path):
    """Prefix sum at L=6 has 729 sequences; the run's 64 validation and 200 test sequences
    would be ~36% of its training rows. Every training row of the run is checked."""
    from lrd.training.run import train

    seen = []
    orig = data.exclude

    def spy(batch, held, draw):
        out, n = orig(batch, held, draw)
        seen.append(out)
        return out, n

    mp = pytest.MonkeyPatch()
    mp.setattr(data, "exclude", spy)
    try:
        rec = train(config.load([CONFIGS / "task/prefix_sum.yaml", CONFIGS / "model/rnn.yaml"],
                                ["task.length=6", "train.max_steps=30", "train.batch_size=32",
                                 "train.val_size=64", "train.test_size=200",
                                 "train.val_every=10", "train.early_stop=false",
                                 "model.hidden_size=8", "train.threads=1",
                                 "analysis.enabled=false", "log.wandb=false",
                                 "train.progress_bar=false", f"log.out={tmp_path}"]))
    finally:
        mp.undo()
    task = lrd.tasks.make("prefix_sum")
    held = torch.cat([data.keys(data.fixed_set(task, 6, 64, rec["config"]["seed"], "val").inputs),
                      data.keys(data.fixed_set(task, 6, 200, rec["config"]["seed"], "test").inputs)])
    trained = torch.cat([data.keys(b.inputs) for b in seen])
    assert len(trained) >= 30 * 32
    assert not torch.isin(trained, held).any()
    # about 1 - (1 - 1/729)^264 = 30% of raw draws were held sequences, and were replaced
    assert 0.15 * len(trained) < rec["held_out_rows_replaced"] < 0.45 * len(trained)


def test_a_length_whose_sequences_are_all_held_is_trained_on_as_drawn(tmp_path):
    """Prefix sum at L=1 has 3 sequences, all in an 8-sequence validation set: no replacement
    exists. The run neither loops nor grows: it trains on the draws and records the length."""
    from lrd.training.run import train

    task = lrd.tasks.make("prefix_sum")
    held = data.keys(data.fixed_set(task, 1, 8, SEED, "val").inputs).sort().values
    gen = data.generator(SEED, "train")
    assert data.exclude(task.sample(4, 1, gen), held, lambda: task.sample(4, 1, gen),
                        max_draws=5) is None
    rec = train(config.load([CONFIGS / "task/prefix_sum.yaml", CONFIGS / "model/rnn.yaml",
                             CONFIGS / "regime/curriculum.yaml"],
                            ["task.length=4", "regime.start=1", "train.max_steps=6",
                             "train.val_every=2", "train.val_size=8", "train.test_size=8",
                             "train.batch_size=4", "model.hidden_size=8", "train.threads=1",
                             "analysis.enabled=false", "log.wandb=false",
                             "train.progress_bar=false", f"log.out={tmp_path}"]))
    assert rec["status"] == "complete" and rec["held_out_saturated_lengths"][:1] == [1]


def test_a_sequence_has_one_key_in_any_batch():
    """The key of a row does not depend on the batch size or its place in the batch (a float
    projection's rounding did, at batch sizes that are not multiples of 4)."""
    task = lrd.tasks.make("prefix_sum")
    batch = task.sample(1024, 10, data.generator(SEED, "val"))
    whole = data.keys(batch.inputs)
    for size in (1, 3, 5, 7, 17, 33, 64):
        parts = torch.cat([data.keys(b.inputs) for b in batch.split(size)])
        assert torch.equal(parts, whole), size
    assert whole.dtype == torch.int64
