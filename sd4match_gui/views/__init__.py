"""Dumb widgets: they emit gestures in image pixels and expose ``set_*`` methods; no data logic.

pyqtgraph is configured here, once, before any item exists: images are row-major numpy arrays
(``H x W x 3``), so they are not transposed.
"""

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
