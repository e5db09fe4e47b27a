"""lrd: a reproducible benchmark for long-range dependency in recurrent networks."""

__version__ = "0.1.0"
