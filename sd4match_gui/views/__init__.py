"""Dumb widgets: they emit gestures in image pixels and expose ``set_*`` methods; no data logic.

pyqtgraph is configured here, once, before any item exists: images are row-major numpy arrays
(``H x W x 3``), so they are not transposed. The PySide6 reference-count guard is applied here
too, since every Qt user of the app imports this package first (see :mod:`sd4match_gui.qt_compat`).
"""

import pyqtgraph as pg

from ..qt_compat import guard_none_refcount

guard_none_refcount()
pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
