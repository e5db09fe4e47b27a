"""Results stage: run records aggregated into tables (``aggregate``), and the report's tables
and ``results/README.md`` (``report``)."""

from lrd.results.aggregate import (CURVE_BIN, HORIZON_KEYS, SKIPPED, collect,  # noqa: F401
                                   curves, horizon, memberships, model_label, solved_at,
                                   tolerance_threshold, write)
