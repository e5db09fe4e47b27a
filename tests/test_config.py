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
    (["train.max_steps=abc"], r"'train.max_steps': input should be a valid integer"),
    (["train.max_steps=2.5"], r"'train.max_steps': .*fractional part"),
    (["seed=-1"], r"'seed': input should be greater than or equal to 0, got -1"),
    (["bogus=1"], r"unknown key 'bogus' \(sections: task, model, regime"),
    (["train=3"], r"'train': input should be a valid dictionary"),
    (["task.name=cpy"], r"unknown task 'cpy' \(did you mean 'copy'\?\)"),
    (["task.length=0"], r"length \(the delay T\) must be an integer >= 1, got 0"),
    (["task.length=3.5"], r"length \(the delay T\) must be an integer >= 1, got 3.5"),
    (["task.n_symbols=1"], r"n_symbols must be an integer >= 2"),
    (["model.name=transformer"], r"unknown model 'transformer'"),
    (["model.hidden_sise=3"], r"unknown parameter 'hidden_sise'; allowed: .*hidden_size"),
    (["model.hidden_size=abc"], r"model 'lstm': 'hidden_size': input should be a valid integer"),
    (["model.hidden_size=-4"], r"hidden_size must be an integer >= 1, got -4"),
    (["model.init_gain=nan"], r"model 'lstm': 'init_gain': input should be a finite number"),
    (["regime.name=tbptt"], r"unknown regime 'tbptt'; available: curriculum, full"),
    (["regime.name=truncated", "regime.window=0"], r"window must be >= 1, got 0"),
    (["regime.name=teacher_forcing", "regime.p=nan"], r"'p': input should be a finite number"),
    (["optim.name=sgd"], r"'optim.name': input should be 'adam' or 'adamw'"),
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
