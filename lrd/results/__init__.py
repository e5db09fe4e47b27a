"""Results stage: run records aggregated into tables (``aggregate``), and the report's tables
and ``results/README.md`` (``report``)."""

from lrd.results.aggregate import (CURVE_BIN, HORIZON_KEYS, collect, curves, horizon,  # noqa: F401
                                   memberships, model_label, write)
