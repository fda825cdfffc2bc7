"""SD4Match desktop app: click a point on the source image, see its match and heatmap on the target.

Layers (see docs/architecture.md): ``model`` is Qt-free state (pairs, points, undo
history, settings, files); ``worker`` runs the engine on one background thread; ``views`` are dumb
pyqtgraph/Qt widgets that emit gestures in image pixels and expose setters; ``controller`` wires
them. Every coordinate that leaves a view is an original-image pixel with (0, 0) the centre of the
top-left pixel, the engine's frame.
"""

__version__ = "0.1.0"
