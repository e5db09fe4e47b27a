"""Results stage: run records aggregated into tables (``aggregate``: runs.csv, the memory
horizon), seed statistics (``stats``: mean and bootstrap CI; ``scores``: normalised scores per
cell), published findings compared with the runs (``literature``), the report's tables
(``tables``) and ``results/README.md`` (``report``)."""

from lrd.results.aggregate import (CURVE_BIN, HORIZON_KEYS, SKIPPED, collect,  # noqa: F401
                                   curves, flag, horizon, is_diverged, memberships,
                                   model_label, solved_at, tolerance_threshold, tuned, write)
