"""Prompts: the token-embedding path, learned-prompt files (folder, zip, file), CPM, and their errors."""

from __future__ import annotations

import io
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from engine import FeatureSettings, Matcher, ModelSources, PromptSpec, image_from_array, resolve_runtime
from engine.errors import PromptError, WeightsNotFoundError
from engine.prompts.cpm import ConditionalPromptModule
from engine.prompts.files import read_prompt_file
from engine.prompts.library import PromptLibrary, folder_name, import_archive
from tests.conftest import SPAIR_CLASSES, TEST_SIZE, random_rgb, write_prompt_library


@pytest.fixture(scope="module")
def images():
    return image_from_array(random_rgb(50, 70, 11)), image_from_array(random_rgb(64, 48, 12))


def test_token_embedding_path_equals_the_normal_text_path(tiny_matcher):
    """Feeding CLIP's own embeddings through the hook must give exactly what the ids give."""
    conditioner = tiny_matcher.prompts.conditioner
    ids = conditioner.tokenizer("a photo of a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        embeddings = conditioner._embeddings(input_ids=ids)
        via_hook = conditioner.encode_token_embeddings(embeddings)
    torch.testing.assert_close(via_hook, conditioner.encode_text("a photo of a cat"), rtol=0, atol=0)


def test_splice_puts_sos_at_position_0_and_eos_at_position_76(tiny_matcher):
    conditioner = tiny_matcher.prompts.conditioner
    middle = torch.randn(2, 75, conditioner.width)
    tokens = conditioner.splice(middle)
    assert tokens.shape == (2, 77, conditioner.width)
    table = conditioner._embeddings
    tokenizer = conditioner.tokenizer
    sos = table.token_embedding.weight[tokenizer.bos_token_id] + table.position_embedding.weight[0]
    eos = table.token_embedding.weight[tokenizer.eos_token_id] + table.position_embedding.weight[76]
    torch.testing.assert_close(tokens[1, 0], sos.detach())
    torch.testing.assert_close(tokens[1, 76], eos.detach())
    torch.testing.assert_close(tokens[:, 1:76], middle)


@pytest.mark.parametrize(
    "spec", [PromptSpec("single"), PromptSpec("class", category="cat"), PromptSpec("class", category="Cat(G)")]
)
def test_learned_prompts_use_the_file_embeddings_as_token_embeddings(tiny_matcher, tiny_prompts_dir, images, spec):
    key = "dataset" if spec.variant == "single" else "cat"
    file = tiny_prompts_dir / folder_name(spec.variant, "spair") / "caption.pt"
    embeds = torch.load(file)[key]
    expected = tiny_matcher.prompts.conditioner.encode_token_embeddings(embeds)
    conditioning = tiny_matcher.prompts.conditioning(spec, *images)
    torch.testing.assert_close(conditioning.states, expected.detach())
    assert conditioning.record["sha256"] and conditioning.identity.startswith(spec.variant)


def test_cpm_follows_the_released_formula(tiny_matcher, tiny_prompts_dir, images):
    source, target = images
    state = torch.load(tiny_prompts_dir / folder_name("cpm", "spair") / "ckpt.pt")
    dinov2 = tiny_matcher.dinov2()
    src, trg = dinov2.patch_features(source.rgb), dinov2.patch_features(target.rgb)
    assert src.shape == (256, dinov2.hidden_size)
    # Written out by hand from docs/algorithm.md#cpm (steps 2-4).
    x = torch.cat([src, trg], -1) @ state["linear_C.weight"].T + state["linear_C.bias"]  # 256 x D
    x = (x.T @ state["linear_N.weight"].T + state["linear_N.bias"]).T  # linear_N across patches
    x = torch.nn.functional.adaptive_max_pool1d(x.T[None], 50)[0].T  # 50 x D
    cond = torch.tanh(state["alpha_cond"][0]) * (state["positional_embedding"][0] + x)
    middle = torch.cat([state["global_embeds"][0], cond])[None]
    conditioner = tiny_matcher.prompts.conditioner
    expected = conditioner.encode_token_embeddings(conditioner.splice(middle)).detach()
    conditioning = tiny_matcher.prompts.conditioning(PromptSpec("cpm"), source, target)
    torch.testing.assert_close(conditioning.states, expected, rtol=1e-4, atol=1e-5)
    swapped = tiny_matcher.prompts.conditioning(PromptSpec("cpm"), target, source)
    assert not torch.allclose(swapped.states, conditioning.states)  # the prompt depends on the ordered pair


def test_cpm_features_depend_on_the_partner_image(tiny_matcher, images):
    source, target = images
    other = image_from_array(random_rgb(30, 30, 13))
    settings = FeatureSettings(ensemble=1, size=TEST_SIZE)
    with_target = tiny_matcher.prepare(source, target, PromptSpec("cpm"), settings).source.features
    with_other = tiny_matcher.prepare(source, other, PromptSpec("cpm"), settings).source.features
    assert not torch.allclose(with_target, with_other)


def test_prompts_load_from_the_zip_itself(tmp_path, tiny_sd_dir, tiny_prompts_dir, images):
    archive = tmp_path / "pretrained_prompts.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in tiny_prompts_dir.rglob("*.pt"):
            zipped.write(file, "prompt/" + file.relative_to(tiny_prompts_dir).as_posix())
    matcher = Matcher(
        ModelSources(sd=str(tiny_sd_dir), prompts=str(archive)), runtime=resolve_runtime("cpu", "float32")
    )
    conditioning = matcher.prompts.conditioning(PromptSpec("class", category="dog"), *images)
    assert "pretrained_prompts.zip!prompt/Class_spair" in conditioning.record["file"]
    entries = PromptLibrary(archive).entries()
    assert {(e.variant, e.prompt_set) for e in entries} == {("single", "spair"), ("class", "spair"), ("cpm", "spair")}


def test_import_copies_the_release_layout_into_the_library(tmp_path, tiny_prompts_dir):
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in tiny_prompts_dir.rglob("*.pt"):
            zipped.write(file, "prompt/" + file.relative_to(tiny_prompts_dir).as_posix())
        zipped.writestr("prompt/README.txt", "ignored")
    entries = import_archive(archive, tmp_path / "library")
    assert len(entries) == 3
    assert (tmp_path / "library" / "CPM_spair_sd2-1_Pair-DINO-Feat-G25-C50" / "ckpt.pt").is_file()


def test_a_single_prompt_file_can_be_given_directly(tiny_matcher, tiny_prompts_dir, images):
    file = tiny_prompts_dir / folder_name("single", "spair") / "caption.pt"
    direct = tiny_matcher.prompts.conditioning(PromptSpec("single", prompt_file=str(file)), *images)
    via_library = tiny_matcher.prompts.conditioning(PromptSpec("single"), *images)
    torch.testing.assert_close(direct.states, via_library.states)


# ---- errors ----


def test_unknown_category_lists_the_known_ones(tiny_matcher, images):
    with pytest.raises(PromptError, match="has no Class prompt for category 'dragon'") as info:
        tiny_matcher.prompts.conditioning(PromptSpec("class", category="dragon"), *images)
    assert all(name in str(info.value) for name in SPAIR_CLASSES)


def test_class_needs_a_category(tiny_matcher, images):
    with pytest.raises(PromptError, match="needs a category"):
        tiny_matcher.prompts.conditioning(PromptSpec("class"), *images)


def test_template_needs_a_category():
    with pytest.raises(PromptError, match="needs a category"):
        PromptSpec("text").resolved_text()


def test_prompt_for_another_text_width_is_refused(tmp_path, tiny_matcher, images):
    library = write_prompt_library(tmp_path / "sd15", text_width=768)
    file = library / folder_name("single", "spair") / "caption.pt"
    with pytest.raises(PromptError, match=r"needs \(1, 77, 32\).*D = 768"):
        tiny_matcher.prompts.conditioning(PromptSpec("single", prompt_file=str(file)), *images)


def test_cpm_for_another_dinov2_is_refused(tmp_path, tiny_matcher, images):
    library = write_prompt_library(tmp_path / "wide", dino_width=768)
    file = library / folder_name("cpm", "spair") / "ckpt.pt"
    with pytest.raises(PromptError, match=r"linear_C.weight \(32, 1536\)"):
        tiny_matcher.prompts.conditioning(PromptSpec("cpm", prompt_file=str(file)), *images)


def test_cpm_checkpoint_missing_keys(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"global_embeds": torch.zeros(1, 25, 32)}, path)
    with pytest.raises(PromptError, match="not a CPM checkpoint: missing positional_embedding"):
        ConditionalPromptModule.from_prompt_file(read_prompt_file(path.read_bytes(), str(path)), 32, 32, 256, 75)


@pytest.mark.parametrize(
    "content", [b"garbage", b"", b"a photo of a cat\n", pickle.dumps({"code": io.BytesIO}, protocol=4)]
)
def test_unreadable_prompt_file_is_one_line_without_pytorchs_advice(content):
    with pytest.raises(
        PromptError, match=r"^'x\.pt' is not a learned-prompt file \(not a safe tensor file: "
    ) as caught:
        read_prompt_file(content, "x.pt")
    assert "\n" not in str(caught.value) and "weights_only" not in str(caught.value)


def test_missing_prompt_set_says_how_to_import(tiny_matcher, images):
    with pytest.raises(PromptError, match="sd4match prompts import"):
        tiny_matcher.prompts.conditioning(PromptSpec("single", prompt_set="pfpascal"), *images)


def test_cpm_without_dinov2_weights(tmp_path, tiny_sd_dir, tiny_prompts_dir, images):
    missing = tmp_path / "no-dinov2"
    matcher = Matcher(
        ModelSources(sd=str(tiny_sd_dir), dinov2=str(missing), prompts=str(tiny_prompts_dir)),
        runtime=resolve_runtime("cpu", "float32"),
    )
    with pytest.raises(WeightsNotFoundError, match="DINOv2 weights not found"):
        matcher.prepare(*images, PromptSpec("cpm"), FeatureSettings(size=TEST_SIZE, ensemble=1))


def test_library_ignores_folders_of_other_layouts(tmp_path, tiny_prompts_dir):
    shutil.copytree(tiny_prompts_dir, tmp_path / "lib")
    (tmp_path / "lib" / "notes").mkdir()
    torch.save({"x": torch.zeros(1)}, tmp_path / "lib" / "notes" / "caption.pt")
    assert len(PromptLibrary(Path(tmp_path / "lib")).entries()) == 3
