"""Build the list of variants to compare, in ``engine.variants``' mini-language, with a live check."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine import FeatureSettings, PromptSpec
from engine.errors import EngineError
from engine.variants import EXPLORATORY_NOTE, parse_variants

from .widgets import combo

KINDS = ("empty", "text", "single", "class", "cpm", "sift")
PRESETS = {
    "Paper prompts": "empty,text,single,class,cpm",
    "Timesteps": "single@t=50,single@t=261,empty@t=50,empty@t=261",
    "Beyond the paper": "single,single@dual,single@ts=50+261,text:a photo of an object",
}
HELP = (
    "Comma-separated items <code>kind[:argument][@option...]</code>. Kinds: <b>empty</b>, <b>text</b> "
    "(<code>text:free words</code>), <b>single</b>[:set], <b>class</b>[:category], <b>cpm</b>[:set], "
    "<b>sift</b>. Options: <code>t=261</code> timestep, <code>layer=2</code>, <code>ensemble=4</code>, "
    "<code>seed=1</code>, <code>ts=50+200</code> multi-timestep average, <code>dual</code> or "
    "<code>dual=2:200</code> dual-layer features (second layer:timestep). "
    f"<i>ts</i> and <i>dual</i> are {EXPLORATORY_NOTE}."
)


class VariantsDialog(QDialog):
    """Edits a variants string; OK is enabled only while it parses."""

    def __init__(self, text: str, prompt: PromptSpec, features: FeatureSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Variants to compare")
        self._prompt, self._features = prompt, features
        self.edit = QLineEdit(text)
        self.edit.textChanged.connect(self._check)
        self.kind = combo(KINDS, "What to add")
        self.argument = QLineEdit()
        self.argument.setPlaceholderText("argument: text, category or prompt set (optional)")
        self.options = QLineEdit()
        self.options.setPlaceholderText("options, e.g. t=261 dual")
        add = QPushButton("Add")
        add.clicked.connect(self._add)
        builder = QHBoxLayout()
        for widget in (self.kind, self.argument, self.options, add):
            builder.addWidget(widget)
        presets = QHBoxLayout()
        for name, value in PRESETS.items():
            button = QPushButton(name)
            button.clicked.connect(lambda _=False, value=value: self.edit.setText(value))
            presets.addWidget(button)
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(help_label)
        layout.addWidget(self.edit)
        layout.addLayout(builder)
        layout.addLayout(presets)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(720, 300)
        self._check()

    def text(self) -> str:
        return self.edit.text().strip()

    def _add(self) -> None:
        item = self.kind.currentText()
        if self.argument.text().strip():
            item += ":" + self.argument.text().strip().replace(",", " ")
        item += "".join(f"@{option}" for option in self.options.text().split())
        self.edit.setText(f"{self.text()},{item}" if self.text() else item)

    def _check(self) -> None:
        try:
            variants = parse_variants(self.text(), self._prompt, self._features)
        except EngineError as exc:
            self.status.setText(f"<span style='color:#d04040'>{exc}</span>")
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
            return
        names = ", ".join(v.name + (" (exploratory)" if v.exploratory else "") for v in variants)
        self.status.setText(f"{len(variants)} variant(s): {names}")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)
