"""Qt-free state of the app: pairs, points, undo history, settings, session files, comparisons.

Nothing here imports Qt, so all of it is unit-tested without a window.
"""
