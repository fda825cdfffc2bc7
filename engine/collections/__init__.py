"""Collections: one keypoint schema and template propagated onto many images (see docs/collections.md)."""

# The review flag's defaults (measured, see docs/collections.md), here so that building the command
# line reads them without importing numpy.
DEFAULT_MAX_CYCLE_ERROR = 0.02  # a fraction of the template's longer side
DEFAULT_MIN_CONFIDENCE = 0.05
