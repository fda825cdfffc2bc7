"""Session and engine state -> what the views show (markers, lines, heatmaps, titles, tables).

Pure drawing: nothing here changes the session. :meth:`Presenter.render` redraws everything
(a few dozen markers cost well under a millisecond), so no view can be left out of date.
"""

from __future__ import annotations

from engine.errors import EngineError
from engine.render import point_colour
from engine.variants import Variant

from ..main_window import MainWindow
from ..model.comparison import PCK_ALPHAS, comparison_rows, pck, pck_threshold
from ..model.correspondence import VISIBILITY_NAMES, Correspondence, Point
from ..model.session import Session
from ..views.compare_panel import VariantRow
from ..views.connection_lines import Link
from ..views.markers import Marker
from .computation import ComputationController

REFERENCE_COLOUR = (255, 255, 255)
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


def variant_colour(index: int) -> tuple[int, int, int]:
    return VARIANT_COLOURS[index % len(VARIANT_COLOURS)]


def references(session: Session) -> dict[int, Point]:
    """Point id -> the point its errors are measured against: the dataset's ground truth where the
    point is a ground-truth keypoint (same source position), else the user's approved target."""
    truth = {g.src_xy: g.trg_xy for g in session.pair.ground_truth} if session.pair else {}
    result = {}
    for point in session.points():
        if point.src_xy in truth:
            result[point.id] = truth[point.src_xy]
        elif point.approved and point.trg_xy is not None:
            result[point.id] = point.trg_xy
    return result


class Presenter:
    """Draws the state into the window."""

    def __init__(self, window: MainWindow, computation: ComputationController) -> None:
        self._window = window
        self._computation = computation

    def render(self, session: Session) -> None:
        variants = session.settings.active_variants()
        points = session.points()
        self._draw_source(session, points)
        self._draw_targets(session, variants, points)
        self._draw_lines(session, variants, points)
        self._fill_points_table(session, variants[0], points)
        self._fill_comparison(session, points)
        self.show_selection(session)

    def show_variant_states(self, session: Session) -> None:
        """Refresh titles and progress bars only (progress reports arrive often)."""
        variants = session.settings.active_variants()
        for panel, variant in zip(self._window.canvas.targets, variants, strict=False):
            panel.set_title(self._target_title(session, variant))
        for name, state in self._computation.states.items():
            self._window.compare_panel.variants.set_progress(name, state.text, state.fraction)

    def show_selection(self, session: Session) -> None:
        point = session.selected_point
        label = self._window.selection_label
        if point is None:
            count = len(session.points())
            label.setText(f"{count} point(s) · click the source to add one" if session.pair else "")
            return
        run_id = self._computation.variant_runs.get(session.settings.active_variants()[0].name)
        record = point.prediction(run_id) if run_id else None
        confidence = f"confidence {record.confidence:.2f}" if record else "predicting…"
        name = f" “{point.label}”" if point.label else ""
        visibility = VISIBILITY_NAMES[point.visibility]
        label.setText(f"point {point.number}{name} · {confidence} · {point.status} · {visibility}")

    # ---- parts ----

    def _draw_source(self, session: Session, points: list[Correspondence]) -> None:
        canvas = self._window.canvas
        canvas.source.set_title(f"source · {session.pair.source.name}" if session.pair else "source")
        canvas.source.set_markers(
            [
                Marker(p.id, p.src_xy, point_colour(p.id), str(p.number), "source", p.id == session.selected)
                for p in points
            ]
        )

    def _draw_targets(self, session: Session, variants: list[Variant], points: list[Correspondence]) -> None:
        comparing = session.settings.compare.active
        truth = references(session)
        display = session.settings.display
        for index, (panel, variant) in enumerate(zip(self._window.canvas.targets, variants, strict=False)):
            panel.set_title(self._target_title(session, variant))
            markers = []
            for point in points:
                selected = point.id == session.selected
                if comparing:
                    run_id = self._computation.variant_runs.get(variant.name)
                    record = point.prediction(run_id) if run_id else None
                    if record is not None:
                        markers.append(
                            Marker(point.id, record.xy, variant_colour(index), str(point.number), "predicted", selected)
                        )
                elif point.trg_xy is not None:
                    markers.append(
                        Marker(
                            point.id, point.trg_xy, point_colour(point.id), str(point.number), point.status, selected
                        )
                    )
                reference = truth.get(point.id)
                if reference is not None and (comparing or reference != point.trg_xy):
                    markers.append(Marker(point.id, reference, REFERENCE_COLOUR, "", "reference", False))
            panel.set_markers(markers)
            pair_id = session.pair.pair_id if session.pair else ""
            heatmap = self._computation.heatmap_for(variant.name, pair_id, session.selected)
            panel.set_heatmap_style(display.colormap, display.opacity, display.heatmap_visible)
            panel.set_heatmap(heatmap.scores if heatmap else None, heatmap.frame if heatmap else None)

    def _draw_lines(self, session: Session, variants: list[Variant], points: list[Correspondence]) -> None:
        canvas = self._window.canvas
        if not session.settings.display.lines_visible:
            canvas.lines.set_links([])
            return
        links = []
        if not session.settings.compare.active:
            links = [
                Link(p.src_xy, canvas.targets[0].view, p.trg_xy, point_colour(p.id))
                for p in points
                if p.trg_xy is not None
            ]
        elif session.selected_point is not None:  # one fan of lines, from the selected point to each variant
            point = session.selected_point
            for index, (panel, variant) in enumerate(zip(canvas.targets, variants, strict=False)):
                run_id = self._computation.variant_runs.get(variant.name)
                record = point.prediction(run_id) if run_id else None
                if record is not None:
                    links.append(Link(point.src_xy, panel.view, record.xy, variant_colour(index)))
        canvas.lines.set_links(links)

    def _fill_points_table(self, session: Session, primary: Variant, points: list[Correspondence]) -> None:
        run_id = self._computation.variant_runs.get(primary.name)
        confidences = {}
        for point in points:
            record = point.prediction(run_id) if run_id else None
            if record is not None:
                confidences[point.id] = record.confidence
        self._window.points_table.set_points(points, confidences, session.selected)

    def _fill_comparison(self, session: Session, points: list[Correspondence]) -> None:
        panel = self._window.compare_panel
        settings = session.settings
        panel.set_active(settings.compare.active)
        try:
            listed = settings.compare_variants()
        except EngineError:  # a malformed list is reported by the dialog; show nothing here
            listed = []
        enabled = [v for v in listed if v.name not in settings.compare.disabled]
        panel.variants.set_variants(
            [
                VariantRow(
                    v.name,
                    variant_colour(enabled.index(v)) if v in enabled else (150, 150, 150),
                    v in enabled,
                    v.exploratory,
                )
                for v in listed
            ]
        )
        self.show_variant_states(session)
        if not settings.compare.active or session.pair is None or session.pair.target not in session.images:
            panel.table.set_rows([], [])
            panel.summary.setText(COMPARE_OFF if not settings.compare.active else "")
            return
        target = session.images[session.pair.target]
        run_ids = {
            v.name: self._computation.variant_runs[v.name] for v in enabled if v.name in self._computation.variant_runs
        }
        truth = references(session)
        rows = comparison_rows(points, run_ids, (target.width, target.height), truth)
        panel.table.set_rows(rows, [v.name for v in enabled])
        threshold = pck_threshold((target.width, target.height), session.pair.target_bbox)
        scores = {name: {alpha: pck(rows, name, threshold, alpha) for alpha in PCK_ALPHAS} for name in run_ids}
        panel.set_summary(scores, len(truth))

    def _target_title(self, session: Session, variant: Variant) -> str:
        state = self._computation.states.get(variant.name)
        if session.settings.compare.active:
            name = variant.name + (" (exploratory)" if variant.exploratory else "")
        else:
            name = f"target · {session.pair.target.name}" if session.pair else "target"
        if state is None or state.text == "done":
            return name
        if state.failed:
            return f"{name} — {state.text}"
        return f"{name} — {state.text} {round(100 * state.fraction)}%"
