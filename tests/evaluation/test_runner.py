"""The evaluation runner in one process: selection, sharding, feature reuse, saving and collecting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import FeatureSettings, LocalisationSettings, PromptSpec
from engine.datasets import open_dataset
from engine.errors import DocumentError, EngineError
from engine.evaluation.distributed import ProcessGroup, shard
from engine.evaluation.runner import collect, execute, plan, score_sample, select_pairs
from engine.features import FeatureMap
from engine.prepared_pair import PreparedPair
from engine.variants import Variant
from tests.conftest import TEST_SIZE
from tests.datasets.miniature import synthetic_pairs, write_spair

ONE_PROCESS = ProcessGroup(index=0, count=1, device=torch.device("cpu"))
SIFT = Variant("sift", PromptSpec(), FeatureSettings(backend="sift", size=TEST_SIZE))
DATASET = {"kind": "spair", "root": "mini", "split": "test"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return open_dataset("spair", write_spair(tmp_path_factory.mktemp("spair"), synthetic_pairs()))


def test_limit_spreads_pairs_over_the_dataset(samples):
    assert [s.pair_id[:6] for s in select_pairs(samples, 3)] == ["000001", "000003", "000005"]
    assert select_pairs(samples, None) == samples and select_pairs(samples, 100) == samples
    with pytest.raises(EngineError, match="at least 1"):
        select_pairs(samples, 0)


def test_shards_are_contiguous_and_cover_everything():
    blocks = [shard(list(range(7)), index, 3) for index in range(3)]
    assert blocks == [[0, 1], [2, 3], [4, 5, 6]]
    assert shard([1, 2], 2, 3) == [2] and shard([], 0, 2) == []


def test_feature_maps_are_extracted_once_per_image(samples, fresh_matcher, tmp_path):
    cat_pairs = [s for s in samples if s.category == "cat"]  # 3 images, every pair of them
    settings = FeatureSettings(backend="sd", size=TEST_SIZE, ensemble=1)
    single = Variant("single", PromptSpec("single"), settings)
    plans = plan(cat_pairs, [single], fresh_matcher, LocalisationSettings(), tmp_path, DATASET, ONE_PROCESS)
    execute(plans, fresh_matcher, LocalisationSettings())
    assert (fresh_matcher.features.stats.misses, fresh_matcher.features.stats.hits) == (3, 3)
    # CPM prompts depend on the pair: both maps are new for every pair.
    cpm = Variant("cpm", PromptSpec("cpm"), settings)
    plans = plan(cat_pairs, [cpm], fresh_matcher, LocalisationSettings(), tmp_path, DATASET, ONE_PROCESS)
    execute(plans, fresh_matcher, LocalisationSettings())
    assert (fresh_matcher.features.stats.misses, fresh_matcher.features.stats.hits) == (3 + 6, 3)


def test_scores_match_the_matcher_and_the_ground_truth(samples, tiny_matcher, tmp_path):
    plans = plan(samples, [SIFT], tiny_matcher, LocalisationSettings(), tmp_path, DATASET, ONE_PROCESS)
    execute(plans, tiny_matcher, LocalisationSettings())
    (result,) = collect(plans, samples)
    assert [s.pair_id for s in result.scores] == [s.pair_id for s in samples]
    sample, score = samples[4], result.scores[4]
    source, target = sample.load_images()
    expected = tiny_matcher.prepare(source, target, PromptSpec(), SIFT.settings).match(sample.source_points)
    np.testing.assert_allclose(score.predicted, expected.match_xy)
    np.testing.assert_allclose(
        score.measurements["pixels"].errors, np.linalg.norm(expected.match_xy - sample.target_points, axis=1)
    )
    x1, y1, x2, y2 = sample.target_bbox
    assert score.measurements["pixels"].theta == max(x2 - x1, y2 - y1)
    # The views share exact ground truth, so even dense SIFT gets most points: a swapped axis or
    # a frame mix-up would not.
    assert result.summary["pixels"]["all"].per_pair[2] > 0.7


def test_a_failure_keeps_the_finished_pairs_and_collect_reports_the_rest(samples, tiny_matcher, tmp_path, monkeypatch):
    import engine.evaluation.runner as runner

    real, calls = runner.score_sample, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "score_sample", failing)
    plans = plan(samples, [SIFT], tiny_matcher, LocalisationSettings(), tmp_path, DATASET, ONE_PROCESS, save_every=100)
    with pytest.raises(KeyboardInterrupt):
        execute(plans, tiny_matcher, LocalisationSettings())
    assert len(plans[0].store.completed()) == 3  # flushed on the way out, though save_every is 100
    with pytest.raises(EngineError, match="3 pair\\(s\\) have no saved result"):
        collect(plans, samples)
    again = plan(samples, [SIFT], tiny_matcher, LocalisationSettings(), tmp_path, DATASET, ONE_PROCESS)
    assert again[0].resumed == 3 and len(again[0].todo) == 3


def test_each_process_takes_its_block_of_the_unfinished_pairs(samples, tiny_matcher, tmp_path):
    localisation = LocalisationSettings()
    blocks = [
        plan(samples, [SIFT], tiny_matcher, localisation, tmp_path, DATASET, ProcessGroup(i, 2, torch.device("cpu")))
        for i in range(2)
    ]
    assert [s.pair_id for p in blocks for s in p[0].todo] == [s.pair_id for s in samples]
    execute(blocks[1], tiny_matcher, localisation)
    first = plan(samples, [SIFT], tiny_matcher, localisation, tmp_path, DATASET, ONE_PROCESS)[0]
    assert first.resumed == 3 and [s.pair_id for s in first.todo] == [s.pair_id for s in samples[:3]]


def test_unreadable_saved_results_name_the_file(samples, tiny_matcher, tmp_path):
    plans = plan(samples[:1], [SIFT], tiny_matcher, LocalisationSettings(), tmp_path, DATASET, ONE_PROCESS)
    execute(plans, tiny_matcher, LocalisationSettings())
    (part,) = plans[0].store.folder.glob("part-*.json")
    for damaged in ('{"pairs": [{"pair_id": 1}]}', "[" * 100_000):  # a missing field; nesting past recursion
        part.write_text(damaged)
        with pytest.raises(DocumentError, match=f"saved results '{part}' are unreadable"):
            plans[0].store.completed()


class WideFeatures:
    """Prepares real pairs over seeded random 1280-channel maps (SD2-1 layer 1's width at 768 px):
    products this wide sum in a thread-dependent order on a CPU, unlike 128-channel SIFT here."""

    def prepare(self, source, target, prompt, settings):
        maps = []
        for image in (source, target):
            seeded = torch.Generator().manual_seed(image.width * image.height)
            maps.append(FeatureMap.build(torch.randn(1280, 48, 48, generator=seeded), image.width, image.height, 768))
        return PreparedPair(source, target, *maps)


def test_predictions_do_not_depend_on_the_number_of_threads(samples):
    # accelerate gives each launched CPU process one thread, a plain run every core.
    threads = torch.get_num_threads()
    predictions = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            predictions.append(
                [score_sample(WideFeatures(), s, SIFT, LocalisationSettings()).predicted for s in samples]
            )
    finally:
        torch.set_num_threads(threads)
    for one, two in zip(*predictions, strict=True):
        np.testing.assert_array_equal(one, two)
    assert torch.get_num_threads() == threads
