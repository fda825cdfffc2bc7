"""``sd4match bench``: real-architecture timings with random weights (compute does not depend on values)."""
