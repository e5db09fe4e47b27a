"""Training stage: regimes, the Lightning module and data module, one run, its record.

    lrd.training.run.train(cfg)      # one run from a RunConfig -> its record (dict)
"""
