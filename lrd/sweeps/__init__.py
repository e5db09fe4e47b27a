"""Sweeps from one W&B sweep file, run offline in worker processes (``lrd sweep``).

    spec     read and check a sweep file, apply a profile, plan its runs, export it for W&B
    space    its parameters as values or distributions; grid and random expansion
    runner   train the planned runs in worker processes, with resume and locks
"""

from lrd.sweeps.runner import MEMBERS, run, run_folder, write_members  # noqa: F401
from lrd.sweeps.space import OFFLINE_METHODS, expand  # noqa: F401
from lrd.sweeps.spec import WANDB_KEYS, Job, Sweep, export, load, plan  # noqa: F401
