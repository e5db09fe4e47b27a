"""Sweeps from one W&B sweep file, run offline in worker processes (``lrd sweep``).

    spec     read and check a sweep file, apply a profile, plan its runs, export it for W&B
    space    its parameters as values or distributions; grid and random expansion
    runner   train the planned runs in worker processes, with resume and locks; the horizon
             search (waves by length, runs recorded as skipped)
"""

from lrd.sweeps.runner import (MEMBERS, SKIPPED, next_cut, run, run_folder,  # noqa: F401
                               skipped_record, write_members, write_skipped)
from lrd.sweeps.space import OFFLINE_METHODS, expand  # noqa: F401
from lrd.sweeps.spec import (LRD_KEY, WANDB_KEYS, HorizonSearch, Job, Sweep, export,  # noqa: F401
                             load, plan)
