"""The images get most of the window at any size: a one-line banner, docks that tab, a Fit that fits."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QDockWidget, QToolButton

from engine import FeatureSettings, Matcher, ModelSources
from sd4match_gui.main_window import DEFAULT_SIZE, MainWindow, default_size
from sd4match_gui.views.coords import to_view
from tests.conftest import TEST_SIZE
from tests.gui.conftest import wait_idle

SMALL, LARGE = (800, 500), (1600, 1000)


def _resized(qtbot, app, size: tuple[int, int]):
    """The window resized as far as it can go towards ``size`` (a minimum size may stop it)."""
    window = app.window
    window.resize(*size)
    qtbot.wait(100)  # let the layouts settle
    return window


def _dock(window, title: str) -> QDockWidget:
    return next(dock for dock in window.findChildren(QDockWidget) if dock.windowTitle() == title)


def _without_weights(make_app, qtbot, tmp_path):
    missing = Matcher(ModelSources(sd=str(tmp_path / "no-such-model")))
    app = make_app(missing, FeatureSettings(backend="auto", size=TEST_SIZE))
    qtbot.waitUntil(app.window.weights_banner.isVisible)
    return app


def _image_on_screen(canvas, panel) -> bool:
    """Whether the whole image of ``panel`` lies inside the canvas' visible viewport."""
    width, height = panel.view.image_size
    visible = canvas.viewport().rect()
    for corner in ((0, 0), (width, height)):
        point = canvas.mapFromScene(panel.view.mapViewToScene(to_view(corner)))
        if not visible.adjusted(-1, -1, 1, 1).contains(point):
            return False
    return True


def test_the_weights_banner_takes_one_line_with_details_on_demand(make_app, qtbot, tmp_path):
    app = _without_weights(make_app, qtbot, tmp_path)
    window = _resized(qtbot, app, SMALL)
    assert window.size().toTuple() == SMALL
    banner, canvas = window.weights_banner, window.canvas
    line = banner.fontMetrics().height()
    assert banner.height() < 3 * line  # one line (its buttons set the height), not a wrapped column
    assert canvas.height() > 0.6 * window.centralWidget().height()
    assert banner.label.elided and "dense SIFT" in banner.label.toolTip()
    assert not banner.details.isVisible()
    qtbot.mouseClick(banner.more, Qt.MouseButton.LeftButton)
    assert banner.details.isVisible() and "sd4match download" in banner.details.text()
    assert "far less accurate" in banner.details.text()  # the cut-off end of the headline
    qtbot.mouseClick(banner.more, Qt.MouseButton.LeftButton)
    assert not banner.details.isVisible()


def test_in_a_small_window_fit_shows_both_images_whole(make_app, qtbot, tmp_path):
    app = _without_weights(make_app, qtbot, tmp_path)
    window = _resized(qtbot, app, SMALL)
    canvas = window.canvas
    assert canvas.width() > 0.6 * window.width()  # the docks share one narrow column
    close = next(b for b in window.weights_banner.findChildren(QToolButton) if b.text() == "✕")
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    qtbot.keyClick(canvas, Qt.Key.Key_F)
    for panel in (canvas.source, *canvas.targets):
        assert _image_on_screen(canvas, panel), panel.title
        scene = panel.view.sceneBoundingRect()
        assert canvas.mapFromScene(QPointF(scene.right(), scene.bottom())).x() <= canvas.viewport().width() + 1


def test_docks_tab_in_a_small_window_and_take_a_column_in_a_large_one(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, demo=False)
    window = _resized(qtbot, app, SMALL)
    engine, points = _dock(window, "Engine"), _dock(window, "Points")
    assert window.size().toTuple() == SMALL
    assert engine in window.tabifiedDockWidgets(points)
    window = _resized(qtbot, app, LARGE)
    assert window.dockWidgetArea(engine) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert engine not in window.tabifiedDockWidgets(points)
    assert points.width() < 0.3 * window.width()
    assert window.canvas.width() > 0.55 * window.width()


def test_the_comparison_dock_shows_only_in_comparison_mode(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    window = _resized(qtbot, app, LARGE)
    comparison, points = _dock(window, "Comparison"), _dock(window, "Points")
    app.settings.set_variants("sift,sift@size=384")
    assert not comparison.isVisible()
    assert points.visibleRegion().boundingRect().height() > 0.6 * window.height()
    qtbot.keyClick(window.canvas, Qt.Key.Key_C)
    wait_idle(qtbot, app)
    assert comparison.isVisible() and not comparison.visibleRegion().isEmpty()
    qtbot.keyClick(window.canvas, Qt.Key.Key_C)
    assert not comparison.isVisible()
    assert points.isVisible()


def test_a_restored_layout_shows_the_comparison_dock_only_in_comparison_mode(make_app, qtbot, sift_matcher, store):
    first = make_app(sift_matcher, demo=False)
    first.settings.set_variants("sift,sift@size=384")
    first.settings.set_compare_mode(True)
    assert _dock(first.window, "Comparison").isVisible()
    store.save_window(first.window)  # as closing the window does
    second = make_app(sift_matcher, demo=False)  # a new session, not in comparison mode
    assert not second.session.settings.compare.active
    assert not _dock(second.window, "Comparison").isVisible()


def test_a_first_window_fits_a_small_screen(qtbot):
    """No saved geometry: the window takes its default size, or less where the screen has no room."""
    window = MainWindow()
    qtbot.addWidget(window)
    room = window.screen().availableGeometry().size()
    assert window.width() <= room.width() and window.height() <= room.height()
    assert default_size(None) == DEFAULT_SIZE


def test_a_title_wider_than_its_panel_is_elided_in_the_middle(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    panel = app.window.canvas.targets[0]
    app.window.resize(800, 500)
    long = "target · a_photo_with_a_rather_long_file_name_from_a_camera.jpg — ensemble 3/8 — computing 42%"
    panel.set_title(long)
    # Both ends stay readable once the window has its size.
    qtbot.waitUntil(lambda: panel._title.text.startswith("target · a_photo") and "…" in panel._title.text)
    assert panel._title.text.endswith(" — computing 42%")
    assert panel.title == long  # the model-side title is the whole one
    app.window.resize(1900, 900)  # wide enough again: shown whole
    qtbot.waitUntil(lambda: panel._title.text == long)
