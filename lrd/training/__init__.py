"""Training stage: regimes, the length schedule, the Lightning module and data module, the one
Trainer factory, one run, its record.

    lrd.training.run.train(cfg)                 # one run from a RunConfig -> its record (dict)
    lrd.training.trainer.make_trainer(cfg, ...)  # the pl.Trainer every run and benchmark fits
    lrd.training.schedule.LengthSchedule         # owns the training length; stops when solved
"""
