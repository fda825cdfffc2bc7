"""Collections: one keypoint schema and template propagated onto many images (see docs/collections.md)."""
