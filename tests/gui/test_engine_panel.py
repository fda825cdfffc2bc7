"""The engine panel disables what the running backend or prompt ignores, and says why."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine import FeatureSettings, Matcher, ModelSources, PromptSpec
from tests.conftest import TEST_SIZE
from tests.gui.conftest import SIFT

SD_ONLY = ("variant", "timestep", "layer", "ensemble", "seed")


def _not_used(panel, name: str) -> bool:
    widget = getattr(panel, name)
    return not widget.isEnabled() and "Not used now" in widget.toolTip()


def test_without_weights_auto_runs_sift_and_disables_the_prompt_controls(make_app, qtbot, tmp_path):
    missing = Matcher(ModelSources(sd=str(tmp_path / "no-such-model")))
    app = make_app(missing, FeatureSettings(backend="auto", size=TEST_SIZE), prompt=PromptSpec("class", category="cat"))
    panel = app.window.engine_panel
    qtbot.waitUntil(lambda: app.window.backend_label.text() == "backend: sift")
    for name in (*SD_ONLY, "category"):
        assert _not_used(panel, name), name
    assert "weights" in panel.timestep.toolTip()
    assert panel.size.isEnabled() and panel.localisation.isEnabled()  # SIFT uses both
    # Choosing sd by keyboard (Down from auto) enables them: they apply, and the banner asks for weights.
    panel.backend.setFocus()
    qtbot.keyClick(panel.backend, Qt.Key.Key_Down)
    assert app.session.settings.features.backend == "sd"
    for name in (*SD_ONLY, "category"):
        assert getattr(panel, name).isEnabled(), name
    assert panel.timestep.toolTip().startswith("Diffusion timestep") and "Not used" not in panel.timestep.toolTip()


def test_explicit_sift_and_prompt_specific_fields(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT, demo=False, prompt=PromptSpec("empty"))
    panel = app.window.engine_panel
    for name in SD_ONLY:
        assert _not_used(panel, name) and "SIFT backend" in getattr(panel, name).toolTip()
    panel.backend.setFocus()
    qtbot.keyClick(panel.backend, Qt.Key.Key_Up)  # sift -> sd
    assert app.session.settings.features.backend == "sd"
    # The empty prompt uses no text, category or prompt set.
    for name in ("text", "category", "prompt_set"):
        assert _not_used(panel, name) and "(the prompt is 'empty')" in getattr(panel, name).toolTip()
