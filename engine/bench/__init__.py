"""``sd4match bench`` and everything random-weight: real-architecture timings, tiny test models.

The boundary between the runtime and the developer side of the package: matching, evaluation,
training and the app load real weights through :mod:`engine.models`; only this package (and the
tests, and the app's latency benchmark ``sd4match_gui.benchmark``, which builds its tiny model here)
makes models with random weights (:mod:`engine.bench.random_init`). It ships with the package
because users run ``sd4match bench`` on their own GPUs; compute does not depend on weight values,
so its timings are those of the real model.
"""
