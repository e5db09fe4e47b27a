"""Shared fixtures: run the real configs tiny on CPU, with W&B off and output in a temp dir."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

# Shrinks any config to a few steps on tiny models: the structure is real, the scale is not.
TINY = ["train.max_steps=3", "train.val_every=2", "train.val_size=8", "train.test_size=8",
        "train.batch_size=4", "log.wandb=false", "train.progress_bar=false",
        "model.hidden_size=8", "train.threads=1", "log.every=1"]


@pytest.fixture
def run_tiny(tmp_path):
    """Train a tiny version of the given config files (+ overrides); return the record."""
    from lrd import config
    from lrd.training.run import train

    def run(*paths, overrides=(), tiny=True):
        extra = [*(TINY if tiny else []), f"log.out={tmp_path / 'runs'}", *overrides]
        return train(config.load([CONFIGS / p for p in paths], extra))

    return run
