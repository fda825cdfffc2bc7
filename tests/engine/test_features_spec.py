"""SD features follow docs/algorithm.md#features, checked against an independent, literal implementation.

The reference below uses diffusers and transformers directly (VAE posterior ``sample(generator)``,
``torch.randn``, the scheduler's ``add_noise``, a *full* UNet forward with a hook), none of the
engine's own code, so it catches any drift in preprocessing, randomness, noising or truncation.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from PIL import Image
from transformers import CLIPTextModel, CLIPTokenizer

from engine import FeatureSettings, PromptSpec, image_from_array
from engine.randomness import posterior_and_noise
from tests.conftest import TEST_SIZE, random_rgb


@torch.no_grad()
def reference_features(folder, rgb: np.ndarray, text: str, t: int, layer: int, ensemble: int, size: int, seed: int):
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")
    scheduler = DDIMScheduler.from_pretrained(folder, subfolder="scheduler")

    x = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR)).astype(np.float32) / 255.0
    x = torch.from_numpy((x - 0.5) / 0.5).permute(2, 0, 1)[None]
    digest = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
    g = torch.Generator("cpu").manual_seed((seed + int(digest[:15], 16)) % 2**63)
    latent = vae.encode(x).latent_dist.sample(generator=g) * vae.config.scaling_factor
    noise = torch.randn((ensemble, 4, size // 8, size // 8), generator=g)
    x_t = scheduler.add_noise(latent.expand(ensemble, -1, -1, -1), noise, torch.tensor([t]))
    ids = tokenizer(text, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    states = text_encoder(ids)[0].expand(ensemble, -1, -1)
    captured = {}
    unet.up_blocks[layer].register_forward_hook(lambda module, args, output: captured.setdefault("f", output))
    unet(x_t, t, encoder_hidden_states=states)
    return captured["f"].mean(dim=0)


@pytest.mark.parametrize(
    ("timestep", "layer", "ensemble", "seed", "tolerance"),
    [
        # Three members run one per UNet call on the CPU, the reference as one batch: other GEMM shapes, rounding.
        (50, 1, 3, 0, 1e-5),
        # One member in float32: diffusers' own computation, so equal bit for bit.
        (261, 2, 1, 7, 0.0),
    ],
)
def test_features_match_an_independent_reference(tiny_matcher, tiny_sd_dir, timestep, layer, ensemble, seed, tolerance):
    rgb = random_rgb(70, 110, seed=seed)
    image = image_from_array(rgb)
    settings = FeatureSettings(timestep=timestep, layer=layer, ensemble=ensemble, size=TEST_SIZE, seed=seed)
    prompt = PromptSpec("text", text="a photo of a {category}", category="cat")
    pair = tiny_matcher.prepare(image, image, prompt, settings)
    expected = reference_features(tiny_sd_dir, rgb, "a photo of a cat", timestep, layer, ensemble, TEST_SIZE, seed)
    torch.testing.assert_close(pair.source.features, expected, rtol=tolerance * 10, atol=tolerance)


def test_posterior_and_noise_draw_in_the_documented_order():
    digest = "ab" * 32
    eps, noise = posterior_and_noise(digest, 3, (4, 5, 6), 2)
    g = torch.Generator().manual_seed((3 + int(digest[:15], 16)) % 2**63)
    torch.testing.assert_close(eps, torch.randn((1, 4, 5, 6), generator=g))
    torch.testing.assert_close(noise, torch.randn((2, 4, 5, 6), generator=g))


def features_of(matcher, images, settings):
    prompt = PromptSpec("empty")
    return {image.digest: matcher.prepare(image, image, prompt, settings).source.features.clone() for image in images}


def test_features_do_not_depend_on_the_order_of_work(tiny_sd_dir, tiny_prompts_dir):
    from engine import Matcher, ModelSources, resolve_runtime

    images = [image_from_array(random_rgb(64, 80, seed=s)) for s in range(3)]
    settings = FeatureSettings(ensemble=2, size=TEST_SIZE)

    def fresh():
        return Matcher(ModelSources(sd=str(tiny_sd_dir)), runtime=resolve_runtime("cpu", "float32"))

    forward = features_of(fresh(), images, settings)
    backward = features_of(fresh(), images[::-1], settings)
    for digest, features in forward.items():
        assert torch.equal(features, backward[digest])
    distinct = list(forward.values())
    assert not torch.allclose(distinct[0], distinct[1])


def test_the_seed_changes_the_features(tiny_matcher):
    image = image_from_array(random_rgb(64, 64, seed=9))
    one = features_of(tiny_matcher, [image], FeatureSettings(ensemble=1, size=TEST_SIZE, seed=0))[image.digest]
    same = features_of(tiny_matcher, [image], FeatureSettings(ensemble=1, size=TEST_SIZE, seed=0))[image.digest]
    other = features_of(tiny_matcher, [image], FeatureSettings(ensemble=1, size=TEST_SIZE, seed=1))[image.digest]
    assert torch.equal(one, same)
    assert not torch.allclose(one, other)


def test_ensemble_members_share_one_latent_and_differ_only_in_noise():
    """E copies of one posterior sample (SD4Match), not E VAE samples (DIFT)."""
    eps1, noise1 = posterior_and_noise("cd" * 32, 0, (4, 8, 8), 1)
    eps4, noise4 = posterior_and_noise("cd" * 32, 0, (4, 8, 8), 4)
    assert torch.equal(eps1, eps4)
    assert torch.equal(noise1[0], noise4[0]) and not torch.equal(noise4[0], noise4[1])
