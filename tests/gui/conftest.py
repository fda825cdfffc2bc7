"""Fixtures for driving the real main window: isolated preferences, matchers, and a window factory."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading

import pytest
from PySide6.QtCore import QSettings

from engine import FeatureSettings, Matcher, PromptSpec
from sd4match_gui.app import build
from sd4match_gui.preferences import PreferenceStore
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, TEST_SIZE

SIFT = FeatureSettings(backend="sift", size=TEST_SIZE)
TINY_SD = FeatureSettings(backend="sd", size=TEST_SIZE, ensemble=1)


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path, monkeypatch):
    """No test reads or writes the user's preferences, or another test's recovery files."""
    monkeypatch.setenv("SD4MATCH_HOME", str(tmp_path / "sd4match-home"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture
def store(tmp_path) -> PreferenceStore:
    return PreferenceStore(QSettings(str(tmp_path / "preferences.ini"), QSettings.Format.IniFormat))


@pytest.fixture(scope="session")
def sift_matcher() -> Matcher:
    """Shared: SIFT needs no weights; its features of the demo pair are cached across tests."""
    return Matcher()


@dataclasses.dataclass
class GatedMatcher:
    """A fresh SIFT matcher whose feature extractions wait while ``gate`` is cleared (open at first):
    work that is running on the engine thread, held still for the test to act meanwhile.
    ``held`` is set once an extraction waits at the closed gate (the engine thread has got there)."""

    matcher: Matcher
    gate: threading.Event
    held: threading.Event


@pytest.fixture
def gated_matcher(monkeypatch) -> GatedMatcher:
    matcher, gate, held = Matcher(), threading.Event(), threading.Event()
    gate.set()
    extract = matcher.sift.extract

    def gated_extract(image, settings):
        if not gate.is_set():
            held.set()
        assert gate.wait(timeout=30), "the test never opened the gate"
        return extract(image, settings)

    monkeypatch.setattr(matcher.sift, "extract", gated_extract)
    return GatedMatcher(matcher, gate, held)


@pytest.fixture
def make_app(qtbot, store):
    """Build a shown main window on ``matcher`` with ``features``; the demo pair open unless told not to."""

    def make(matcher: Matcher, features: FeatureSettings = SIFT, demo: bool = True, prompt: PromptSpec | None = None):
        controller = build(store, lambda _config: matcher)
        qtbot.addWidget(controller.window)
        controller.settings.set_engine(prompt or PromptSpec(), features)
        controller.window.resize(1280, 720)
        controller.window.show()
        qtbot.waitExposed(controller.window)
        if demo:
            controller.open_demo()
            wait_idle(qtbot, controller)
        return controller

    return make


def wait_idle(qtbot, controller, timeout: int = 20000) -> None:
    """Until the newest request is answered and every view shows it."""
    qtbot.waitUntil(lambda: controller.computation.idle and controller.settled, timeout=timeout)


def wait_loaded(qtbot, controller, timeout: int = 20000) -> None:
    """Until a dataset or session read in the background has arrived, and the engine has answered."""
    qtbot.waitUntil(lambda: not controller.files.loader.busy, timeout=timeout)
    wait_idle(qtbot, controller, timeout)


def with_features(controller, **changes) -> None:
    settings = controller.session.settings
    controller.settings.set_engine(settings.prompt, dataclasses.replace(settings.features, **changes))


@pytest.fixture
def spair_root(tmp_path):
    """A one-pair SPair-71k-style dataset made of the demo images (category "person")."""
    root = tmp_path / "SPair-71k"
    images = root / "JPEGImages" / "person"
    images.mkdir(parents=True)
    shutil.copy(DEMO_SOURCE, images / "astronaut.jpg")
    shutil.copy(DEMO_TARGET, images / "grace_hopper.jpg")
    name = "000001-astronaut-grace_hopper:person"
    (root / "Layout" / "large").mkdir(parents=True)
    (root / "Layout" / "large" / "test.txt").write_text(name + "\n")
    annotation = {
        "pair_id": 1,
        "src_imname": "astronaut.jpg",
        "trg_imname": "grace_hopper.jpg",
        "category": "person",
        "src_bndbox": [140, 60, 420, 500],
        "trg_bndbox": [150, 100, 400, 560],
        "src_kps": [[200, 170], [250, 240], [300, 300]],
        "trg_kps": [[230, 200], [330, 250], [280, 330]],
        "kps_ids": ["3", "7", "12"],  # ids into SPair's keypoint list of the category
    }
    (root / "PairAnnotation" / "test").mkdir(parents=True)
    (root / "PairAnnotation" / "test" / f"{name}.json").write_text(json.dumps(annotation))
    return root
