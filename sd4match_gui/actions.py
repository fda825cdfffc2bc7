"""Every command of the app with its shortcut and explanation, in one table.

Menus, tooltips and the F1 cheat sheet are all built from :data:`ACTIONS`, so they cannot drift
apart. Mouse gestures, which have no QAction, are listed in :data:`MOUSE_GESTURES`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    """One command.

    Attributes:
        name: key in ``MainWindow.actions``.
        text: menu text.
        shortcuts: Qt key sequences (the first is shown in menus).
        tip: one sentence for tooltips and the cheat sheet.
        menu: menu it appears in.
        checkable: a toggle.
    """

    name: str
    text: str
    shortcuts: tuple[str, ...]
    tip: str
    menu: str
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("open_images", "Open two images…", ("Ctrl+O",), "Open a source and a target image.", "File"),
    ActionSpec(
        "open_folder",
        "Open folder…",
        ("Ctrl+Shift+O",),
        "Pair each image of a folder with the next one (or use its pairs.txt).",
        "File",
    ),
    ActionSpec(
        "open_pair_list",
        "Open pair list…",
        ("Ctrl+L",),
        "Open a text/CSV file of 'source target [category]' lines.",
        "File",
    ),
    ActionSpec(
        "open_dataset",
        "Open dataset…",
        (),
        "Open a split of SPair-71k, PF-Pascal or PF-Willow; its keypoints become the reference.",
        "File",
    ),
    ActionSpec("open_demo", "Open demo pair", (), "Open the bundled public-domain portrait pair.", "File"),
    ActionSpec(
        "open_session", "Open session…", ("Ctrl+Shift+L",), "Reopen a saved session (points and settings).", "File"
    ),
    ActionSpec(
        "save_session",
        "Save session",
        ("Ctrl+S",),
        "Save the session; from then on every action is saved automatically.",
        "File",
    ),
    ActionSpec("save_session_as", "Save session as…", ("Ctrl+Shift+S",), "Save the session under a new name.", "File"),
    ActionSpec(
        "export",
        "Export…",
        ("Ctrl+E",),
        "Export correspondences: sd-correspondence JSON (optionally with every point's heatmap), SPair-71k "
        "JSON, PF-Pascal CSV, COCO keypoints or labelme pairs.",
        "File",
    ),
    ActionSpec(
        "new_collection",
        "New collection…",
        ("Ctrl+Shift+N",),
        "Annotate many images from one template: its keypoints are predicted on every image, then reviewed.",
        "File",
    ),
    ActionSpec(
        "export_coco",
        "Export collection as COCO…",
        (),
        "Write the collection as COCO keypoints (the template and every image, in the schema's order).",
        "File",
    ),
    ActionSpec(
        "import", "Import JSON…", ("Ctrl+I",), "Import an sd-correspondence JSON export into this session.", "File"
    ),
    ActionSpec(
        "recover",
        "Recover unsaved work…",
        (),
        "List the untitled sessions kept when another pair was opened or the app ended unsaved: reopen or discard.",
        "File",
    ),
    ActionSpec(
        "settings", "Settings…", ("Ctrl+,",), "Model, prompt and DINOv2 locations; device and precision.", "File"
    ),
    ActionSpec("quit", "Quit", ("Ctrl+Q",), "Close the app (the session is already saved if it has a file).", "File"),
    # Edit
    ActionSpec("undo", "Undo", ("Ctrl+Z",), "Undo the last point action.", "Edit"),
    ActionSpec("redo", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the last undone point action.", "Edit"),
    ActionSpec("delete", "Delete point", ("Delete", "Backspace"), "Delete the selected point pair.", "Edit"),
    ActionSpec("accept", "Accept prediction", ("Return", "Enter"), "Mark the selected prediction as correct.", "Edit"),
    ActionSpec("reject", "Reject point", ("R",), "Mark the selected point as having no valid match.", "Edit"),
    ActionSpec(
        "visibility_0", "Visibility: not labelled (0)", ("0",), "COCO visibility 0 for the selected point.", "Edit"
    ),
    ActionSpec("visibility_1", "Visibility: occluded (1)", ("1",), "COCO visibility 1 for the selected point.", "Edit"),
    ActionSpec("visibility_2", "Visibility: visible (2)", ("2",), "COCO visibility 2 for the selected point.", "Edit"),
    ActionSpec("nudge_left", "Nudge target left", ("Left",), "Move the selected target 1 pixel left.", "Edit"),
    ActionSpec("nudge_right", "Nudge target right", ("Right",), "Move the selected target 1 pixel right.", "Edit"),
    ActionSpec("nudge_up", "Nudge target up", ("Up",), "Move the selected target 1 pixel up.", "Edit"),
    ActionSpec("nudge_down", "Nudge target down", ("Down",), "Move the selected target 1 pixel down.", "Edit"),
    ActionSpec(
        "accept_passing",
        "Accept passing predictions",
        ("Shift+Return",),
        "Collection: accept every prediction of this image that is not flagged.",
        "Edit",
    ),
    ActionSpec(
        "accept_passing_all",
        "Accept passing predictions on all images",
        (),
        "Collection: accept every prediction that is not flagged, on every image.",
        "Edit",
    ),
    ActionSpec(
        "clear_image",
        "Clear image",
        (),
        "Collection: drop this image's predictions and corrections; it is predicted again.",
        "Edit",
    ),
    ActionSpec("next_point", "Select next point", ("N",), "Select the next point.", "Edit"),
    ActionSpec("previous_point", "Select previous point", ("P",), "Select the previous point.", "Edit"),
    # View
    ActionSpec("fit", "Fit images", ("F",), "Show both images whole.", "View"),
    ActionSpec(
        "zoom_current", "Zoom both to current point", ("Z",), "Zoom source and targets onto the selected point.", "View"
    ),
    ActionSpec(
        "toggle_heatmap",
        "Heatmap",
        ("H",),
        "Show the correlation heatmap of the selected point.",
        "View",
        checkable=True,
    ),
    ActionSpec(
        "toggle_preview",
        "Hover preview",
        ("Shift+H",),
        "While the cursor is over the source, show where that pixel lands on each target and its heatmap "
        "(from features already computed; hovering never starts an extraction).",
        "View",
        checkable=True,
    ),
    ActionSpec("toggle_lines", "Lines", ("L",), "Draw lines between paired points.", "View", checkable=True),
    ActionSpec(
        "toggle_compare", "Comparison mode", ("C",), "One target view per prompt variant.", "View", checkable=True
    ),
    ActionSpec(
        "edit_variants", "Edit variants…", ("Ctrl+Shift+C",), "Choose the variants the comparison shows.", "View"
    ),
    # Tools
    ActionSpec(
        "tune_prompt",
        "Tune a prompt on this session…",
        (),
        "Learn a Single, Class or CPM prompt from this session's accepted and corrected points; "
        "it joins the comparison list.",
        "Tools",
    ),
    # Go
    ActionSpec("next_pair", "Next pair", ("D",), "Open the next pair of the list.", "Go"),
    ActionSpec("previous_pair", "Previous pair", ("A",), "Open the previous pair of the list.", "Go"),
    ActionSpec(
        "next_to_review",
        "Next image needing review",
        ("Shift+D",),
        "Collection: open the highest image of the review queue (in the order shown) that has unreviewed "
        "predictions and was not opened yet.",
        "Go",
    ),
    ActionSpec(
        "next_flagged",
        "Next flagged point",
        ("Shift+N",),
        "Collection: select the next prediction flagged for review (low confidence or large cycle error).",
        "Go",
    ),
    ActionSpec(
        "resume_propagation",
        "Resume propagation",
        (),
        "Collection: go on predicting the images that are not predicted yet (after a Cancel).",
        "Go",
    ),
    ActionSpec("cancel", "Cancel computation", ("Escape",), "Stop feature extraction at the next stage.", "Go"),
    # Help
    ActionSpec("cheat_sheet", "Keyboard shortcuts", ("F1",), "Show this cheat sheet.", "Help"),
    ActionSpec("about", "About", (), "Version, licences and where the photos come from.", "Help"),
)

MOUSE_GESTURES: tuple[tuple[str, str], ...] = (
    ("Click on the source", "Add a point; its match and heatmap appear on the target."),
    ("Click on a marker", "Select that point (its heatmap is shown)."),
    ("Click on a target", "Correct the selected point's match to that spot."),
    ("Drag a marker", "Move it: a source marker is re-predicted, a target marker is corrected."),
    ("Drag elsewhere", "Pan."),
    ("Mouse wheel", "Zoom around the cursor."),
)

MENUS = ("File", "Edit", "View", "Tools", "Go", "Help")
