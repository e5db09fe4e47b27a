"""The four memory tasks of SPEC §1: targets, layout, determinism, streams, baselines, errors."""

import math

import pytest
import torch

import lrd.tasks
from lrd import data
from lrd.errors import ConfigError
from lrd.tasks import TASKS, SymbolTask, Task

SYMBOL_TASKS = [n for n, cls in TASKS.items() if issubclass(cls, SymbolTask)]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tokens(batch):
    """Undo the one-hot encoding of a symbol task's inputs."""
    return batch.inputs.argmax(-1)


# -- targets against a plain Python loop --------------------------------------------------------

@pytest.mark.parametrize("T,n_symbols,n_copy", [(1, 8, 10), (7, 8, 10), (30, 3, 4)])
def test_copy_targets_brute_force(T, n_symbols, n_copy):
    task = lrd.tasks.make("copy", n_symbols=n_symbols, n_copy=n_copy)
    b = task.sample(16, T, gen())
    x = tokens(b).tolist()
    for i in range(16):
        seq = x[i]
        symbols = seq[:n_copy]
        expected = [0] * (T + n_copy) + symbols
        assert b.targets[i].tolist() == expected
        assert b.mask[i].all()
        assert b.metric_mask[i].tolist() == [False] * (T + n_copy) + [True] * n_copy


@pytest.mark.parametrize("T", [2, 3, 10, 51])
def test_adding_targets_brute_force(T):
    b = lrd.tasks.make("adding").sample(32, T, gen())
    for i in range(32):
        total = 0.0
        for t in range(T):
            if b.inputs[i, t, 1] == 1.0:
                total += b.inputs[i, t, 0].item()
        assert b.targets[i, -1].item() == pytest.approx(total, abs=1e-6)
        assert b.targets[i, :-1].abs().sum() == 0
        assert b.mask[i].tolist() == [False] * (T - 1) + [True]


@pytest.mark.parametrize("D,K,M", [(1, 8, 10), (5, 2, 3), (40, 8, 10)])
def test_delayed_recall_targets_brute_force(D, K, M):
    task = lrd.tasks.make("delayed_recall", n_symbols=K, n_recall=M)
    b = task.sample(16, D, gen())
    assert b.inputs.shape == (16, D + M, K + 1)
    for i, seq in enumerate(tokens(b).tolist()):
        assert all(1 <= s <= K for s in seq)
        for t in range(D + M):
            if t >= D:
                assert b.targets[i, t].item() == seq[t - D]
                assert b.mask[i, t]
            else:
                assert b.targets[i, t].item() == 0
                assert not b.mask[i, t]


@pytest.mark.parametrize("L,n", [(1, 3), (25, 3), (40, 2), (13, 7)])
def test_prefix_sum_targets_brute_force(L, n):
    b = lrd.tasks.make("prefix_sum", n=n).sample(16, L, gen())
    for i, seq in enumerate(tokens(b).tolist()):
        running = 0
        for t in range(L):
            running = (running + seq[t]) % n
            assert b.targets[i, t].item() == running
    assert b.mask.all() and b.metric_mask.all()


# -- exact layout -------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [1, 2, 20])
def test_copy_layout(T):
    task = lrd.tasks.make("copy")
    b = task.sample(64, T, gen(3))
    x = tokens(b)
    assert b.inputs.shape == (64, T + 20, 10)
    assert ((b.inputs.sum(-1)) == 1).all(), "inputs are one-hot"
    assert ((x[:, :10] >= 1) & (x[:, :10] <= 8)).all(), "10 symbols from 1..8"
    assert (x[:, 10:10 + T - 1] == 0).all(), "T-1 blanks"
    assert (x[:, 10 + T - 1] == 9).all(), "the delimiter at step T+9"
    assert (x[:, T + 10:] == 0).all(), "10 blanks after the delimiter"
    assert (b.targets[:, :T + 10] == 0).all()
    assert torch.equal(b.targets[:, T + 10:], x[:, :10])
    assert b.metric_mask.sum(1).eq(10).all()


@pytest.mark.parametrize("T", [2, 3, 9, 100])
def test_adding_layout_one_marker_per_half(T):
    b = lrd.tasks.make("adding").sample(500, T, gen(4))
    markers = b.inputs[..., 1]
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    assert markers[:, :T // 2].sum(1).eq(1).all()
    assert markers[:, T // 2:].sum(1).eq(1).all()
    values = b.inputs[..., 0]
    assert (values >= 0).all() and (values < 1).all()


def test_adding_markers_cover_each_half_uniformly():
    """Marker positions are uniform over each half: every position in each half is hit."""
    T = 8
    m = lrd.tasks.make("adding").sample(4000, T, gen(5)).inputs[..., 1]
    counts = m.sum(0)
    # each position is hit ~1000 times (4000 draws over 4 positions in its half);
    # Binomial(4000, 1/4) has sd 27, so 850..1150 is a > 5-sd band.
    assert ((counts > 850) & (counts < 1150)).all(), counts


# -- determinism and streams --------------------------------------------------------------------

@pytest.mark.parametrize("name", lrd.tasks.available())
def test_same_seed_same_batch_different_seed_different_batch(name):
    task = lrd.tasks.make(name)
    a, b, c = (task.sample(8, 12, gen(s)) for s in (7, 7, 8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)


def test_stream_seeds_never_collide_across_runs_and_splits():
    seeds = [data.stream_seed(s, split) for s in range(2000) for split in data.SPLITS]
    assert len(set(seeds)) == len(seeds)


def test_train_and_validation_streams_share_no_sequence():
    task = lrd.tasks.make("prefix_sum")
    val = data.fixed_set(task, 24, 512, seed=0, split="val")
    seen_val = {tuple(row) for row in tokens(val).tolist()}
    train = data.generator(0, "train")
    for _ in range(100):
        rows = tokens(task.sample(64, 24, train)).tolist()
        assert not seen_val.intersection(map(tuple, rows))


def test_fixed_sets_are_fixed_and_distinct():
    task = lrd.tasks.make("copy")
    v1 = data.fixed_set(task, 5, 32, seed=1, split="val")
    v2 = data.fixed_set(task, 5, 32, seed=1, split="val")
    t1 = data.fixed_set(task, 5, 32, seed=1, split="test")
    assert torch.equal(v1.inputs, v2.inputs)
    assert not torch.equal(v1.inputs, t1.inputs)
    with pytest.raises(ValueError):
        data.fixed_set(task, 5, 32, seed=1, split="train")


# -- analytic baselines against Monte Carlo -----------------------------------------------------

def memoryless_estimates(task, length, n):
    """Plug-in estimates of the best memoryless predictor on ``n`` sampled sequences.

    A memoryless predictor sees the position t and the current input token x_t only. Its best
    cross-entropy is the conditional entropy H(y_t | t, x_t) averaged over scored positions, and
    its best accuracy is the mean of max_y P(y | t, x_t). Both are estimated from the empirical
    joint counts of (t, x_t, y_t).
    """
    b = task.sample(n, length, gen(11))
    x, y = tokens(b), b.targets
    steps, K, V = x.shape[1], task.output_size, task.input_size
    cell = torch.arange(steps).expand_as(x) * V + x
    counts = torch.zeros(steps * V, K, dtype=torch.float64)
    ones = torch.ones(n * steps, dtype=torch.float64)

    def estimate(mask):
        c = counts.zero_().index_put_((cell[mask], y[mask]), ones[: int(mask.sum())],
                                      accumulate=True)
        total = c.sum(1, keepdim=True)
        p = c / total.clamp(min=1)
        ent = -(torch.where(c > 0, p * p.log(), torch.zeros_like(p))).sum(1)
        weight = total.squeeze(1) / total.sum()
        return float((weight * ent).sum()), float((weight * p.max(1).values).sum())

    return estimate(b.mask)[0], estimate(b.metric_mask)[1], n


@pytest.mark.parametrize("name,length", [*((n, 6) for n in SYMBOL_TASKS), ("prefix_sum", 1)])
def test_symbol_baselines_match_monte_carlo(name, length):
    """Plug-in entropy is biased low by at most ln(1 + (K-1)/n_cell) <= (K-1)/n_cell per cell
    (Paninski 2003); its spread around that is smaller still. A cell (t, x_t) holds about
    n_cell = n/V samples (V input tokens, x_t uniform), so a tolerance of 4(K-1)/n_cell covers bias
    and noise. The plug-in max of K class frequencies, each with sd at most
    s = sqrt(1/4 / n_cell), exceeds the true max by at most s·sqrt(2 ln K) in expectation;
    tolerance s·(sqrt(2 ln K) + 5)."""
    task = lrd.tasks.make(name)
    n = 20000
    ce, acc, _ = memoryless_estimates(task, length, n)
    K = task.output_size
    n_cell = n / task.input_size
    assert ce == pytest.approx(task.baseline_loss(length), abs=4 * (K - 1) / n_cell)
    s = math.sqrt(0.25 / n_cell)
    assert acc == pytest.approx(task.baseline_accuracy(length), abs=s * (math.sqrt(2 * math.log(K)) + 5))


def test_baseline_formulas_at_spec_defaults():
    assert lrd.tasks.make("copy").baseline_loss(100) == pytest.approx(10 * math.log(8) / 120)
    assert lrd.tasks.make("adding").baseline_loss(100) == pytest.approx(0.1667, abs=1e-4)
    assert lrd.tasks.make("delayed_recall").baseline_loss(50) == pytest.approx(math.log(8))
    assert lrd.tasks.make("delayed_recall").baseline_accuracy(50) == pytest.approx(1 / 8)
    assert lrd.tasks.make("prefix_sum").baseline_loss(1) == 0.0


def test_adding_baseline_matches_monte_carlo():
    """Predicting 1 always: the squared error (S-1)², S = U1 + U2, has mean 1/6 and
    variance E[(S-1)^4] - 1/36 = 1/15 - 1/36 = 7/180 (S-1 is triangular on [-1, 1]).
    With n = 200000 the MC mean has sd sqrt(7/180/n) = 4.4e-4; tolerance 5 sd."""
    task = lrd.tasks.make("adding")
    n = 200_000
    b = task.sample(n, 10, gen(12))
    ones = torch.ones(n, 10, 1)
    mse = task.loss(ones, b).item()
    assert mse == pytest.approx(task.baseline_loss(10), abs=5 * math.sqrt(7 / 180 / n))
    # and 1 is the best constant: the mean target is 1 (sd of the mean sqrt(1/6/n))
    assert b.targets[:, -1].mean().item() == pytest.approx(1.0, abs=5 * math.sqrt(1 / 6 / n))


def test_uniform_prediction_scores_the_baseline_exactly_through_task_loss():
    """Blank-then-uniform logits give exactly the copy baseline through task.loss."""
    task = lrd.tasks.make("copy")
    T = 9
    b = task.sample(4, T, gen())
    logits = torch.full((4, T + 20, task.output_size), -1e9)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10:, 1:] = 0.0
    assert task.loss(logits, b).item() == pytest.approx(task.baseline_loss(T), rel=1e-6)


# -- metrics ------------------------------------------------------------------------------------

def test_metrics_perfect_and_sequence_accuracy():
    task = lrd.tasks.make("prefix_sum")
    b = task.sample(10, 6, gen())
    perfect = torch.nn.functional.one_hot(b.targets, 3).float() * 20
    m = task.metrics(perfect, b)
    assert m["accuracy"] == 1.0 and m["sequence_accuracy"] == 1.0
    assert task.solved(m)
    wrong = perfect.clone()
    wrong[0, 2] = perfect[0, 2].roll(1)  # one wrong step in one sequence
    m = task.metrics(wrong, b)
    assert m["accuracy"].item() == pytest.approx(59 / 60)
    assert m["sequence_accuracy"].item() == pytest.approx(0.9)


def test_adding_solved_below_threshold():
    task = lrd.tasks.make("adding")
    assert task.solved({"mse": 0.009}) and not task.solved({"mse": 0.011})


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,params,match", [
    ("cpy", {}, r"unknown task 'cpy' \(did you mean 'copy'\?\); available: adding, copy"),
    ("copy", {"n_symbols": 1}, r"n_symbols must be an integer >= 2, got 1"),
    ("delayed_recall", {"n_symbols": 0}, r"n_symbols must be an integer >= 2"),
    ("prefix_sum", {"n": 1}, r"n must be an integer >= 2, got 1"),
    ("copy", {"n_copy": 0}, r"n_copy must be an integer >= 1"),
    ("copy", {"delay": 3}, r"unknown parameter 'delay'; allowed: n_copy, n_symbols"),
    ("adding", {"n": 3}, r"unknown parameter 'n'; allowed: \(none\)"),
    ("prefix_sum", {"n": "three"}, r"n"),
])
def test_bad_task_parameters(name, params, match):
    with pytest.raises(ConfigError, match=match):
        lrd.tasks.make(name, **params)


@pytest.mark.parametrize("name", lrd.tasks.available())
@pytest.mark.parametrize("below", [1, 4])
def test_bad_lengths(name, below):
    task = lrd.tasks.make(name)
    for length in (task.min_length - below, 2.5, True):
        with pytest.raises(ConfigError) as err:
            task.sample(2, length, gen())
        assert str(err.value) == (f"{name}: length ({task.length_means}) must be an integer "
                                  f">= {task.min_length}, got {length!r}")
    assert task.sample(2, task.min_length, gen()).inputs.shape[0] == 2


@pytest.mark.parametrize("name", lrd.tasks.available())
def test_every_task_declares_what_figures_read(name):
    """Label, title, the meaning and letter of ``length``: class attributes, not name lookups."""
    cls = TASKS[name]
    assert issubclass(cls, Task) and cls.name == name
    assert cls.label and cls.label[0].isupper() and "_" not in cls.label
    assert cls.length_means.startswith("the ") and cls.length_means.endswith(cls.length_symbol)
    assert lrd.tasks.make(name).title().startswith(cls.label)


def test_task_titles_and_length_symbols():
    assert [TASKS[n].length_symbol for n in ("copy", "adding", "delayed_recall", "prefix_sum")] \
        == ["T", "T", "D", "L"]
    assert lrd.tasks.make("prefix_sum", n=5).title() == "Prefix sum mod 5"
    assert lrd.tasks.make("delayed_recall").title() == "Delayed recall"


def test_bad_batch_size():
    with pytest.raises(ConfigError, match="batch_size"):
        lrd.tasks.make("copy").sample(0, 5, gen())


def test_the_study_adding_test_sets_match_their_baseline_within_2_percent():
    """Every adding test set of the committed study (literature profile's test_size, every
    length and seed of horizon_adding and init_adding) is large enough that its own memoryless
    MSE (predict 1) is within 2% of the analytic 1/6."""
    from lrd import config, data
    from lrd.sweeps import spec

    size = config.read_profile("literature")["config"]["train"]["test_size"]
    cells = {(j.config["task"]["length"], j.config["seed"])
             for name in ("horizon_adding", "init_adding")
             for j in spec.plan(spec.load(f"configs/sweeps/{name}.yaml", "literature"))}
    task = lrd.tasks.make("adding")
    worst = 0.0
    for length, seed in sorted(cells):
        batch = data.fixed_set(task, length, size, seed, "test")
        mse = float(((batch.targets[:, -1] - 1.0) ** 2).mean())
        worst = max(worst, abs(mse * 6 - 1))
    assert worst < 0.02, f"worst relative error {worst:.4f}"
