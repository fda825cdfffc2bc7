"""A cancel stops a forward pass before the next layer of the block it is in, not after the block."""

from __future__ import annotations

import pytest

from engine import FeatureSettings, PromptSpec, image_from_array
from engine.errors import Cancelled
from engine.pipeline import image_features
from engine.progress import Progress
from tests.conftest import TEST_SIZE, random_rgb


def test_a_cancel_inside_a_vae_block_stops_at_its_next_layer(fresh_matcher):
    backend = fresh_matcher.stable_diffusion()
    image = image_from_array(random_rgb(40, 50, 31))
    states = fresh_matcher.prompts.conditioning(PromptSpec(), image, image).states
    block = backend.parts.vae.encoder.down_blocks[0]
    assert block.resnets and block.downsamplers
    cancelled, later = [], []
    hooks = [
        block.resnets[0].register_forward_hook(lambda *_: cancelled.append(True)),  # the click, mid-block
        block.downsamplers[0].register_forward_hook(lambda *_: later.append(True)),
    ]
    try:
        with pytest.raises(Cancelled):
            image_features(
                backend,
                image,
                states,
                FeatureSettings(size=TEST_SIZE),
                Progress(cancel_requested=lambda: bool(cancelled)),
            )
    finally:
        for hook in hooks:
            hook.remove()
    assert cancelled and later == []  # the block's downsampler never ran
