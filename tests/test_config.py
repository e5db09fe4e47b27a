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
    assert cfg.train.max_steps == 7 and cfg.optim.lr == 1e-3


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
    (["train.max_stepz=3"], r"Key 'max_stepz' not in 'Train'.*\(at 'train.max_stepz'\)"),
    (["train.max_steps=abc"], r"could not be converted to Integer"),
    (["seed=-1"], r"seed must be >= 0"),
    (["bogus=1"], r"Key 'bogus' is not a config section \(sections: task, model, regime"),
    (["task.name=cpy"], r"unknown task 'cpy' \(did you mean 'copy'\?\)"),
    (["task.length=0"], r"length \(the delay T\) must be an integer >= 1, got 0"),
    (["task.n_symbols=1"], r"n_symbols must be an integer >= 2"),
    (["model.name=transformer"], r"unknown model 'transformer'"),
    (["model.hidden_sise=3"], r"unknown parameter 'hidden_sise'; allowed: .*hidden_size"),
    (["model.hidden_size=abc"], r"hidden_size"),
    (["regime.name=tbptt"], r"unknown regime 'tbptt'; available: curriculum, full"),
    (["regime.name=truncated", "regime.window=0"], r"window must be >= 1, got 0"),
    (["optim.name=sgd"], r"optim.name must be adam or adamw"),
    (["optim.lr=0"], r"optim.lr must be > 0"),
    (["train.eval_lengths=[10,0]"], r"length .* must be an integer >= 1, got 0"),
    (["max_steps"], r"must look like key.sub=value"),
    (["analysis.every=-1"], r"analysis.every must be >= 0"),
    (["analysis.batch_size=0"], r"analysis.batch_size must be >= 1"),
    (["train.solve_patience=0"], r"train.solve_patience must be >= 1"),
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
