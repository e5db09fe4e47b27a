"""Config loading: composition, overrides, typed validation, resolution and the run hash."""

import pytest

from lrd import config
from lrd.errors import ConfigError

from conftest import CONFIGS


def test_parts_compose_left_to_right_and_overrides_win():
    cfg = config.load([CONFIGS / "task/adding.yaml", CONFIGS / "model/lstm.yaml",
                       CONFIGS / "regime/truncated.yaml"],
                      ["model.hidden_size=32", "--train.max_steps=7", "regime.window=5"])
    assert cfg.task == {"name": "adding", "length": 50}
    assert cfg.model["name"] == "lstm" and cfg.model["hidden_size"] == 32
    assert cfg.regime == {"name": "truncated", "window": 5}
    assert cfg.train.max_steps == 7 and cfg.optim.lr == 3e-3


def test_resolve_fills_every_default():
    cfg = config.load([CONFIGS / "task/copy.yaml"], ["model.name=rnn"])
    r = config.resolve(cfg)
    assert r["task"] == {"name": "copy", "length": 20, "n_symbols": 8, "n_copy": 10}
    assert r["model"]["hidden_size"] == 128 and r["model"]["nonlinearity"] == "tanh"
    assert r["regime"] == {"name": "full"}


def test_hash_ignores_logging_but_not_numbers():
    base = config.resolve(config.load([], ["model.name=gru"]))
    same = config.resolve(config.load([], ["model.name=gru", "log.wandb=false",
                                           "train.progress_bar=false", "log.out=elsewhere"]))
    other = config.resolve(config.load([], ["model.name=gru", "seed=1"]))
    assert config.config_hash(base) == config.config_hash(same)
    assert config.config_hash(base) != config.config_hash(other)
    assert config.run_id(base).startswith("copy-gru-20-s0-")


@pytest.mark.parametrize("overrides,message", [
    (["train.max_stepz=3"], r"unknown key 'train.max_stepz' \(allowed in train: max_steps,"),
    (["train.max_steps=abc"], r"'train.max_steps': value error, must be an integer >= 1 or a "
                              r"table \{min_length: steps\}, got 'abc'"),
    (["train.max_steps=2.5"], r"'train.max_steps': value error, must be an integer .*got 2.5"),
    (["seed=-1"], r"'seed': input should be greater than or equal to 0, got -1"),
    (["bogus=1"], r"unknown key 'bogus' \(sections: task, model, regime"),
    (["train=3"], r"'train': input should be a valid dictionary"),
    (["task.name=cpy"], r"unknown task 'cpy' \(did you mean 'copy'\?\)"),
    (["task.length=0"], r"length \(the delay T\) must be an integer >= 1, got 0"),
    (["task.length=3.5"], r"length \(the delay T\) must be an integer >= 1, got 3.5"),
    (["task.n_symbols=1"], r"n_symbols must be an integer >= 2"),
    (["model.name=transformer"], r"unknown model 'transformer'"),
    (["model.hidden_sise=3"],
     r"unknown parameter 'hidden_sise' \(did you mean 'hidden_size'\?\); allowed: .*hidden_size"),
    (["model.hidden_size=abc"], r"model 'lstm': 'hidden_size': input should be a valid integer"),
    (["model.hidden_size=-4"], r"hidden_size must be an integer >= 1, got -4"),
    (["model.init_gain=nan"], r"model 'lstm': 'init_gain': input should be a finite number"),
    (["regime.name=tbptt"], r"unknown regime 'tbptt'; available: curriculum, full"),
    (["regime.name=truncated", "regime.window=0"], r"window must be >= 1, got 0"),
    (["regime.name=teacher_forcing", "regime.p=nan"], r"'p': input should be a finite number"),
    (["optim.name=rmsprop"], r"'optim.name': input should be 'adam', 'adamw' or 'sgd'"),
    (["optim.lr=0"], r"'optim.lr': input should be greater than 0"),
    (["optim.lr=nan"], r"'optim.lr': input should be a finite number"),
    (["optim.lr=inf"], r"'optim.lr': input should be a finite number"),
    (["optim.lr=-.inf"], r"'optim.lr': input should be a finite number"),
    (["optim.grad_clip=.nan"], r"'optim.grad_clip': input should be a finite number"),
    (["train.eval_lengths=[10,0]"], r"length .* must be an integer >= 1, got 0"),
    (["max_steps"], r"must look like key.sub=value"),
    (["=3"], r"must look like key.sub=value"),
    (["analysis.every=-1"], r"'analysis.every': input should be greater than or equal to 0"),
    (["analysis.batch_size=0"], r"'analysis.batch_size': input should be greater than or equal"),
    (["train.solve_patience=0"], r"'train.solve_patience': input should be greater than or eq"),
])
def test_bad_configs_are_clear_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config.resolve(config.load([], overrides))


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load([tmp_path / "missing.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load([bad])
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        config.load([bad])


# -- precedence: defaults < profile < config files (in order) < command line ----------------

def test_copy_lstm_keeps_its_values_under_the_quick_profile():
    """A profile scales the machine; it never overrides what a config file says."""
    r = config.resolve(config.load([CONFIGS / "experiments/copy_lstm.yaml"], profile="quick"))
    assert r["optim"]["lr"] == 0.01 and r["optim"]["schedule"] == "cosine"
    assert r["model"]["hidden_size"] == 128 and r["model"]["chrono"] == 40
    assert r["train"]["max_steps"] == 8000 and r["train"]["val_size"] == 1024
    # what the file leaves open comes from the profile, then from the defaults
    assert r["train"]["test_size"] == 1024 and r["train"]["batch_size"] == 64
    assert r["train"]["solve_patience"] == config.Train().solve_patience


def test_each_layer_wins_over_the_ones_below(tmp_path):
    profile = config.read_profile("quick")["config"]
    assert profile["train"]["val_size"] != config.Train().val_size   # the profile changes it
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("train: {val_size: 100, test_size: 100}\nmodel: {hidden_size: 7}\n")
    second.write_text("train: {test_size: 200}\n")
    cfg = config.load([first, second], ["model.hidden_size=9"], profile="quick")
    assert cfg.train.val_every == profile["train"]["val_every"]   # profile over default
    assert cfg.train.val_size == 100                                 # file over profile
    assert cfg.train.test_size == 200                                # later file over earlier
    assert cfg.model["hidden_size"] == 9                             # command line over all
    assert cfg.train.early_stop is config.Train().early_stop         # default where unset


def test_a_profile_may_set_only_machine_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "PROFILE_DIR", tmp_path)
    (tmp_path / "fast.yaml").write_text("config:\n  optim: {lr: 0.1}\n")
    with pytest.raises(ConfigError, match=r"machine scale only; 'optim.lr' is not a scale key"):
        config.load([], profile="fast")
    (tmp_path / "wide.yaml").write_text("config:\n  model: {hidden_size: 512, init: identity}\n")
    with pytest.raises(ConfigError, match=r"'model.init' is not a scale key"):
        config.load([], profile="wide")
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'; available: fast, wide"):
        config.load([], profile="nope")


def test_every_shipped_profile_is_valid():
    for name in config.profiles():
        config.resolve(config.load([CONFIGS / "task/copy.yaml"], profile=name))


def test_paths_resolve_from_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.load(["configs/experiments/adding_lstm.yaml"], ["log.out=runs_here"])
    assert cfg.task["name"] == "adding"
    assert config.out_dir(cfg) == config.ROOT / "runs_here"
    assert config.out_dir(config.load([], [f"log.out={tmp_path}"])) == tmp_path
    assert config.out_dir(config.load([], [])) == config.ROOT / ".lrd" / "runs"


def test_a_bad_key_names_the_file_it_came_from(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("trian: {max_steps: 3}\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown key 'trian' \(sections: task"):
        config.load([CONFIGS / "task/copy.yaml", bad])
    bad.write_text("optim: {lr: .nan}\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: 'optim.lr': input should be a finite"):
        config.load([bad])


def test_a_resolved_config_round_trips_to_the_same_run():
    cfg = config.load([CONFIGS / "experiments/copy_lstm.yaml"], profile="quick")
    resolved = config.resolve(cfg)
    again = config.resolve(config.validate(resolved))
    assert again == resolved and config.run_id(again) == config.run_id(resolved)


def test_build_makes_the_same_initial_model_for_the_same_seed():
    import torch

    a = config.build(config.load([], ["seed=3", "model.hidden_size=8"])).model
    torch.manual_seed(123)   # the global RNG's state before build does not matter
    b = config.build(config.load([], ["seed=3", "model.hidden_size=8"])).model
    c = config.build(config.load([], ["seed=4", "model.hidden_size=8"])).model
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), name
    assert not all(torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()))


def test_a_bad_parameter_names_the_file_it_came_from(tmp_path):
    bad = tmp_path / "model.yaml"
    bad.write_text("model: {name: lstm, hiden_size: 64}\n")
    with pytest.raises(ConfigError, match=r"model.yaml: model 'lstm': unknown parameter "
                                          r"'hiden_size' \(did you mean 'hidden_size'\?\)"):
        config.load([CONFIGS / "task/copy.yaml", bad])
    bad.write_text("regime: {name: truncated, window: .inf}\n")
    with pytest.raises(ConfigError, match=r"model.yaml: regime 'truncated': 'window'"):
        config.load([bad])
    bad.write_text("task: {name: cpy, length: 5}\n")
    with pytest.raises(ConfigError, match=r"model.yaml: unknown task 'cpy' \(did you mean"):
        config.load([bad])
    with pytest.raises(ConfigError, match=r"^command line: model 'lstm': unknown parameter"):
        config.load([], ["model.hiden_size=3"])


@pytest.mark.parametrize("length,steps", [(5, 100), (49, 100), (50, 300), (499, 300),
                                          (500, 900), (5000, 900)])
def test_a_budget_by_length_resolves_to_the_steps_of_its_length(length, steps):
    cfg = config.load(overrides=["train.max_steps={0: 100, 50: 300, 500: 900}",
                                 "task.name=adding", f"task.length={length}"])
    resolved = config.resolve(cfg)
    assert resolved["train"]["max_steps"] == steps
    # the run id is the number's: a table and the plain number that it gives are one run
    plain = config.load(overrides=[f"train.max_steps={steps}", "task.name=adding",
                                   f"task.length={length}"])
    assert config.run_id(resolved) == config.run_id(config.resolve(plain))


def test_a_later_layer_replaces_a_budget_whole(tmp_path):
    f = tmp_path / "budget.yaml"
    f.write_text("train: {max_steps: {0: 10, 100: 20}}\n")
    cfg = config.load([f], ["train.max_steps={200: 5}", "task.length=300"])
    assert cfg.train.max_steps == {200: 5}          # not merged with {0: 10, 100: 20}
    cfg = config.load([f], ["train.max_steps=7", "task.length=300"])
    assert config.resolve(cfg)["train"]["max_steps"] == 7


@pytest.mark.parametrize("value,message", [
    ("{100: 20}", "train.max_steps: no budget for length 50 (the smallest min_length is 100)"),
    ("{}", "at least one {min_length: steps} entry"),
    ("{0: 0}", "lengths must be >= 0 and steps >= 1"),
    ("0", "lengths must be >= 0 and steps >= 1"),
])
def test_bad_budgets_are_clear_errors(value, message):
    with pytest.raises(ConfigError) as err:
        config.resolve(config.load(overrides=[f"train.max_steps={value}", "task.name=adding",
                                              "task.length=50"]))
    assert message in str(err.value)
