"""Sweeps from one W&B sweep file, run offline in worker processes (``lrd sweep``)."""

from lrd.sweeps.runner import (MEMBERS, WANDB_KEYS, Job, Sweep, expand, export, load, plan, run,  # noqa: F401
                               run_folder, write_members)
