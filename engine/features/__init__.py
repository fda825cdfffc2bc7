"""Feature backends: an image (and prompt) in, a ``C x h x w`` feature map out.

``stable_diffusion`` is SD4Match's UNet feature; ``dense_sift`` is the weights-free classical
baseline that runs when no SD weights are installed. Both produce a :class:`FeatureMap` on the
same align-corners grid, so the localisation code is shared.
"""

from .feature_map import FeatureMap, squash

__all__ = ["FeatureMap", "squash"]
