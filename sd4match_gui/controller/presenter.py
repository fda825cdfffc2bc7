"""The model (session and engine results) -> what the views show (markers, lines, heatmaps, titles, tables).

Pure drawing: nothing here changes the session. :meth:`Presenter.render` redraws everything, so
no view can be left out of date; what it builds per point is kept while the point is unchanged
(:class:`PointMemo`) and the views update only what differs, so a redraw stays cheap with
a thousand points.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Callable, Collection, Hashable
from typing import TypeVar

from pyqtgraph import ViewBox

from engine.errors import EngineError
from engine.export.document import VISIBILITY_NAMES, Keypoint, Point, Prediction
from engine.render import point_colour
from engine.variants import Variant

from ..main_window import MainWindow
from ..model.comparison import comparison_rows, errors, ground_truth, pck_by_alpha, pck_rule, pck_threshold, reference
from ..model.list_memo import ListMemo
from ..model.results import Results
from ..model.session import Session
from ..views.compare_panel import VariantRow, pck_summary
from ..views.connection_lines import Link
from ..views.markers import Marker
from .hover_preview import HoverPreviewController

REFERENCE_COLOUR = (255, 255, 255)
PREVIEW_COLOUR = (255, 255, 255)
THETA_RULES = {
    "bbox": "the longer side of the target box",
    "image": "the longer side of the target image",
    "points": "the larger extent of the ground-truth target points",
}
COMPARE_OFF = "Comparison mode is off: tick it (C) to see one target view per variant."
# Variant colours in comparison mode: distinct from each other (Okabe-Ito, then Tableau).
VARIANT_COLOURS = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (213, 94, 0),
    (204, 121, 167),
    (0, 114, 178),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
)


T = TypeVar("T")
R = TypeVar("R")


# Ends the label of a target marker flagged for review (a collection's doubtful prediction; in
# comparison mode on the primary variant's view only, the variant the collection propagates with).
FLAG_MARK = "?"


def marker_text(point: Keypoint, flagged: bool = False) -> str:
    """A marker's label: the point's number, its keypoint name when it has one, and
    :data:`FLAG_MARK` when the prediction is flagged for review."""
    text = f"{point.number} {point.label}" if point.label else str(point.number)
    return f"{text} {FLAG_MARK}" if flagged else text


def shown_record(point: Keypoint, run_id: str | None, answered: Collection[str] = ()) -> Prediction | None:
    """The prediction whose confidence is shown for ``point``: run ``run_id``'s; with no such run
    yet (a reopened session, before this sitting's first answer), the stored one its target came
    from, unless that came from a run of ``answered`` (another variant's answer in this sitting)."""
    if run_id is not None:
        return point.prediction(run_id)
    if point.trg_xy is None:
        return None
    return next((p for p in point.predictions if p.xy == point.trg_xy and p.run_id not in answered), None)


def _confidence(point: Keypoint, runs: tuple[str | None, frozenset[str]]) -> float | None:
    """The confidence :func:`shown_record` gives for ``runs`` (its run id and answered runs); None:
    no prediction, or none known."""
    record = shown_record(point, *runs)
    return None if record is None else record.confidence


def variant_colour(index: int) -> tuple[int, int, int]:
    return VARIANT_COLOURS[index % len(VARIANT_COLOURS)]


class PointMemo:
    """What a view shows of one point, kept while the point and the other inputs stay the same.

    Points are immutable values and an answer leaves unchanged points as they were, so a redraw
    after a click rebuilds the markers and lines of the changed points only.
    """

    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[Keypoint, object, object]] = {}

    def get(self, key: Hashable, point: Keypoint, inputs: T, make: Callable[[Keypoint, T], R]) -> R:
        cached = self._values.get(key)
        if cached is not None and cached[0] is point and cached[1] == inputs:
            return cached[2]  # type: ignore[return-value]
        value = make(point, inputs)
        self._values[key] = (point, inputs, value)
        return value


def _with_selected(
    values: list[R], points: list[Keypoint], selected: int | None, make: Callable[[Keypoint], R]
) -> list[R]:
    """``values`` (one per point of ``points``, sorted by id) with the selected point's replaced by ``make``'s."""
    index = bisect.bisect_left(points, selected, key=_point_id) if selected is not None else len(points)
    if index < len(points) and points[index].id == selected:
        values[index] = make(points[index])
    return values


_point_id = operator.attrgetter("id")  # a point's id, at C speed


class Presenter:
    """Draws the state into the window."""

    def __init__(self, window: MainWindow, results: Results, hover: HoverPreviewController) -> None:
        self._window = window
        self._results = results
        self._hover = hover
        self._memo = PointMemo()
        self._lists: dict[Hashable, ListMemo] = {}
        self._truth: tuple[object, dict[Point, Point]] = (None, {})  # (pair and target size, its ground truth)

    def _mapped(
        self, kind: Hashable, points: list[Keypoint], shared: Hashable, make: Callable[[Keypoint], R]
    ) -> list[R]:
        """``make`` of every point, through the :class:`ListMemo` of ``kind`` (``shared``: what
        ``make`` depends on besides the point)."""
        memo = self._lists.get(kind)
        if memo is None:
            memo = self._lists[kind] = ListMemo()
        return memo.map(points, shared, make)

    def render(self, session: Session) -> None:
        """Draw the state into every view."""
        points, truth = self._shown_points(session)
        self._draw_canvas(session, points, truth)
        self._fill_panels(session, points, truth)

    def render_canvas(self, session: Session) -> None:
        """Draw the images' views: markers, heatmaps, titles and lines (what a click looks at)."""
        self._draw_canvas(session, *self._shown_points(session))

    def render_panels(self, session: Session) -> None:
        """Draw the views beside the images: the points table, the comparison and the status texts."""
        self._fill_panels(session, *self._shown_points(session))

    def _draw_canvas(self, session: Session, points: list[Keypoint], truth: dict[int, Point]) -> None:
        variants = session.settings.active_variants()
        self._draw_source(session, points)
        self._draw_targets(session, variants, points, truth)
        self._draw_lines(session, variants, points)

    def _fill_panels(self, session: Session, points: list[Keypoint], truth: dict[int, Point]) -> None:
        self._fill_points_table(session, session.settings.active_variants()[0], points, truth)
        self._fill_comparison(session, points, truth)
        self.show_selection(session)

    def _shown_points(self, session: Session) -> tuple[list[Keypoint], dict[int, Point]]:
        """The open pair's points as shown (partial ensembles laid over) and their references by id
        (``model.comparison.references``, worked out again for changed points only)."""
        points = self._results.shown(self._pair_id(session), session.points())
        if session.pair is None:
            return points, {}
        inputs = (session.pair, self._target_size(session))
        if self._truth[0] != inputs:
            self._truth = (inputs, ground_truth(*inputs))
        truth = self._truth[1]
        found = self._mapped("references", points, inputs, lambda p: reference(p, truth))
        return points, {p.id: xy for p, xy in zip(points, found, strict=True) if xy is not None}

    def show_heatmaps(self, session: Session) -> None:
        """Per target view: the hover preview's heatmap and point while the cursor is on the source,
        else the selected point's heatmap. Cheap enough for every preview answer."""
        variants = session.settings.active_variants()
        display = session.settings.display
        pair_id = session.pair.pair_id if session.pair else ""
        comparing = session.settings.compare.active
        for index, (panel, variant) in enumerate(zip(self._window.canvas.targets, variants, strict=False)):
            preview = self._hover.previews.get(variant.name)
            if preview is not None:
                scores, frame = preview.scores, preview.frame
            else:
                heatmap = self._results.heatmap_for(variant.name, pair_id, session.selected)
                scores, frame = (heatmap.scores, heatmap.frame) if heatmap else (None, None)
            panel.set_heatmap_style(display.colormap, display.opacity, display.heatmap_visible)
            panel.set_heatmap(scores, frame)
            colour = variant_colour(index) if comparing else PREVIEW_COLOUR
            panel.set_preview(preview.xy if preview else None, colour)
        preview = self._hover.previews.get(variants[0].name)
        if preview is not None:
            (sx, sy), (tx, ty) = preview.source_xy, preview.xy
            landing = f"target x {tx:.1f}  y {ty:.1f} · confidence {preview.confidence:.2f}"
            self._window.cursor_label.setText(f"source x {sx:.1f}  y {sy:.1f} px → {landing}")

    def show_variant_states(self, session: Session) -> None:
        """Refresh titles and progress bars only (progress reports arrive often)."""
        variants = session.settings.active_variants()
        for panel, variant in zip(self._window.canvas.targets, variants, strict=False):
            panel.set_title(self._target_title(session, variant))
            panel.set_stale(self._results.is_stale(variant.name))
        for name, state in self._results.states.items():
            self._window.compare_panel.variants.set_progress(name, state.text, state.fraction)

    def show_request_state(self, session: Session) -> None:
        """What a new request changes without an answer yet: titles, stale marks, the selection line."""
        self.show_variant_states(session)
        self.show_selection(session)

    def show_selection(self, session: Session) -> None:
        point = self._results.shown_point(self._pair_id(session), session.selected_point)
        label = self._window.selection_label
        if point is None:
            count = len(session.points())
            label.setText(f"{count} point(s) · click the source to add one" if session.pair else "")
            return
        run_id = self._results.variant_runs.get(session.settings.active_variants()[0].name)
        record = shown_record(point, run_id, self._results.variant_runs.values())
        state = self._results.states.get(session.settings.active_variants()[0].name)
        waiting = state.text if state is not None and state.failed else "predicting…"  # failed: nothing comes
        if record is None:
            confidence = waiting
        else:
            confidence = "confidence unknown" if record.confidence is None else f"confidence {record.confidence:.2f}"
        if record is not None and run_id is None:
            confidence += " (saved)"  # from the file, until this sitting's first answer
        elif record is not None and self._results.is_stale(session.settings.active_variants()[0].name):
            confidence += " (stale: " + ("cancelled" if state is not None and state.failed else "recomputing…") + ")"
        # One state: a point waiting for its first prediction is not yet "predicted".
        status = "" if record is None and point.status == "predicted" else f" · {point.status}"
        name = f" “{point.label}”" if point.label else ""
        visibility = VISIBILITY_NAMES[point.visibility]
        label.setText(f"point {point.number}{name} · {confidence}{status} · {visibility}")

    # ---- parts ----

    def _draw_source(self, session: Session, points: list[Keypoint]) -> None:
        canvas = self._window.canvas
        canvas.source.set_title(f"source · {session.pair.source.name}" if session.pair else "source")
        memo = self._memo

        def marker(selected: bool) -> Callable[[Keypoint], Marker]:
            return lambda p: memo.get(("source", p.id), p, selected, self._source_marker)

        markers = self._mapped("source", points, True, marker(False))
        canvas.source.set_markers(_with_selected(markers, points, session.selected, marker(True)))

    @staticmethod
    def _source_marker(point: Keypoint, selected: bool) -> Marker:
        return Marker(point.id, point.src_xy, point_colour(point.id), marker_text(point), "source", selected)

    def _draw_targets(
        self, session: Session, variants: list[Variant], points: list[Keypoint], truth: dict[int, Point]
    ) -> None:
        comparing = session.settings.compare.active
        for index, (panel, variant) in enumerate(zip(self._window.canvas.targets, variants, strict=False)):
            panel.set_title(self._target_title(session, variant))
            run_id = self._results.variant_runs.get(variant.name) if comparing else None
            colour = variant_colour(index) if comparing else None
            markers = self._target_view_markers(session, index, points, truth, run_id, colour)
            panel.set_markers(markers)
            panel.set_stale(self._results.is_stale(variant.name))
        self.show_heatmaps(session)

    def _target_view_markers(
        self,
        session: Session,
        index: int,
        points: list[Keypoint],
        truth: dict[int, Point],
        run_id: str | None,
        colour: tuple[int, int, int] | None,
    ) -> list[Marker]:
        """The markers of target view ``index``, in the points' order."""
        collection, pair_id = session.collection, session.pair.pair_id if session.pair is not None else ""

        def markers(selected: bool) -> Callable[[Keypoint], list[Marker]]:
            def make(point: Keypoint) -> list[Marker]:
                # The flag is about the collection's prediction: the primary variant's (view 0).
                flagged = collection is not None and index == 0 and collection.flagged(pair_id, point)
                inputs = (selected, truth.get(point.id), run_id, colour, flagged)
                return self._memo.get(("target", index, point.id), point, inputs, self._target_markers)

            return make

        if collection is None:  # nothing is flagged: a point's markers depend on the point and these alone
            per_point = self._mapped(("target", index), points, (run_id, colour, tuple(truth.items())), markers(False))
        else:  # flags follow the collection's thresholds and templates: asked of every point
            per_point = [markers(False)(point) for point in points]
        per_point = _with_selected(per_point, points, session.selected, markers(True))
        return list(itertools.chain.from_iterable(per_point))

    @staticmethod
    def _target_markers(
        point: Keypoint, inputs: tuple[bool, Point | None, str | None, tuple[int, int, int] | None, bool]
    ) -> list[Marker]:
        """A point's markers on a target: its target (in comparison mode, the variant's prediction
        in the variant's ``colour``) and its reference where that differs; a flagged one says so."""
        selected, reference, run_id, colour, flagged = inputs
        text = marker_text(point, flagged)
        markers = []
        if colour is not None:
            record = point.prediction(run_id) if run_id else None
            if record is not None:
                markers.append(Marker(point.id, record.xy, colour, text, "predicted", selected))
        elif point.trg_xy is not None:
            markers.append(Marker(point.id, point.trg_xy, point_colour(point.id), text, point.status, selected))
        if reference is not None and (colour is not None or reference != point.trg_xy):
            markers.append(Marker(point.id, reference, REFERENCE_COLOUR, "", "reference", False))
        return markers

    def _draw_lines(self, session: Session, variants: list[Variant], points: list[Keypoint]) -> None:
        canvas = self._window.canvas
        if not session.settings.display.lines_visible:
            canvas.lines.set_links([])
            return
        links = []
        if not session.settings.compare.active:
            view = canvas.targets[0].view
            made = self._mapped("lines", points, view, lambda p: None if p.trg_xy is None else self._link(p, view))
            links = [link for link in made if link is not None]
        elif session.selected_point is not None:  # one fan of lines, from the selected point to each variant
            point = self._results.shown_point(self._pair_id(session), session.selected_point)
            for index, (panel, variant) in enumerate(zip(canvas.targets, variants, strict=False)):
                run_id = self._results.variant_runs.get(variant.name)
                record = point.prediction(run_id) if run_id else None
                if record is not None:
                    links.append(Link(point.src_xy, panel.view, record.xy, variant_colour(index)))
        canvas.lines.set_links(links)

    @staticmethod
    def _link(point: Keypoint, view: ViewBox) -> Link:
        return Link(point.src_xy, view, point.trg_xy, point_colour(point.id))

    def _fill_points_table(
        self, session: Session, primary: Variant, points: list[Keypoint], truth: dict[int, Point]
    ) -> None:
        """Confidence and error of the primary variant per point; its PCK on the pair in the status
        bar (outside comparison mode, where the comparison panel shows every variant's)."""
        run_id = self._results.variant_runs.get(primary.name)
        runs = {primary.name: run_id} if run_id else {}
        size = self._target_size(session)
        confidences = {}
        if size:  # without an answer yet in this sitting, the stored confidences (shown_record)
            shown = (run_id, frozenset(self._results.variant_runs.values()))
            made = self._mapped("confidences", points, shown, lambda p: _confidence(p, shown))
            confidences = dict(zip(map(_point_id, points), made, strict=True))
        # Errors and PCK need the points with a reference only (a few, against every point).
        rows = comparison_rows([p for p in points if p.id in truth], runs, size, truth) if size else []
        found = errors(rows, primary.name)
        self._window.points_table.set_points(points, confidences, found, session.selected)
        label = self._window.pck_label
        # A collection has no ground truth: its status shows review counts instead (review_queue.py).
        if session.settings.compare.active or session.collection is not None or not truth or not size:
            label.setText("")
            return
        threshold = pck_threshold(session.pair, size)
        label.setText(pck_summary({primary.name: pck_by_alpha(rows, primary.name, threshold)}, len(truth)))
        label.setToolTip(f"theta = {threshold:.1f} px, {THETA_RULES[pck_rule(session.pair)]}")

    def _fill_comparison(self, session: Session, points: list[Keypoint], truth: dict[int, Point]) -> None:
        panel = self._window.compare_panel
        settings = session.settings
        panel.set_active(settings.compare.active)
        try:
            listed = settings.compare_variants()
        except EngineError:  # a malformed list is reported by the dialog; show nothing here
            listed = []
        enabled = [v for v in listed if v.name not in settings.compare.disabled]
        tuned = {t.name for t in settings.compare.tuned}
        panel.variants.set_variants(
            [
                VariantRow(
                    v.name,
                    variant_colour(enabled.index(v)) if v in enabled else (150, 150, 150),
                    v in enabled,
                    v.exploratory,
                    removable=v.name in tuned,
                )
                for v in listed
            ]
        )
        self.show_variant_states(session)
        size = self._target_size(session)
        if not settings.compare.active or size is None:
            panel.table.set_rows([], [])
            panel.summary.setText(COMPARE_OFF if not settings.compare.active else "")
            return
        run_ids = {v.name: self._results.variant_runs[v.name] for v in enabled if v.name in self._results.variant_runs}
        rows = comparison_rows(points, run_ids, size, truth)
        failed = {name: state.text for name, state in self._results.states.items() if state.failed}
        panel.table.set_rows(rows, [v.name for v in enabled], failed)
        threshold = pck_threshold(session.pair, size)
        panel.set_summary({name: pck_by_alpha(rows, name, threshold) for name in run_ids}, len(truth))

    @staticmethod
    def _pair_id(session: Session) -> str:
        return session.pair.pair_id if session.pair is not None else ""

    @staticmethod
    def _target_size(session: Session) -> tuple[int, int] | None:
        """(W, H) of the open pair's target, once it has been loaded."""
        if session.pair is None or session.pair.target not in session.images:
            return None
        target = session.images[session.pair.target]
        return target.width, target.height

    def _target_title(self, session: Session, variant: Variant) -> str:
        state = self._results.states.get(variant.name)
        if session.settings.compare.active:
            name = variant.name + (" (exploratory)" if variant.exploratory else "")
        else:
            name = f"target · {session.pair.target.name}" if session.pair else "target"
        marks = " — stale results" if self._results.is_stale(variant.name) else ""
        ensemble = self._results.partial_ensemble(variant.name)
        if ensemble is not None:  # drawn from part of the ensemble: says so after a cancel too
            marks += f" — ensemble {ensemble[0]}/{ensemble[1]}"
        if state is None or state.text == "done":
            return name + marks
        if state.failed:
            return f"{name}{marks} — {state.text}"
        return f"{name}{marks} — {state.text} {round(100 * state.fraction)}%"
