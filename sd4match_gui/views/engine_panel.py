"""Engine controls: backend, prompt, timestep, layer, ensemble, input size, seed, localisation, device.

The panel only shows values and reports edits: ``changed`` carries the full new settings,
``device_changed`` the device word (which belongs to the app's preferences, not to a session).
Controls the running backend or prompt ignores are disabled, and their tooltip says why.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from engine import FeatureSettings, LocalisationSettings, PromptSpec
from engine.prompts.categories import PFPASCAL_CATEGORIES
from engine.prompts.spec import VARIANTS
from engine.settings import BACKENDS, DEVICES, LOCALISATIONS

from .widgets import combo, signals_blocked, spin

PROMPT_SETS = ("spair", "pfpascal")
TIPS = {
    "backend": "sd: Stable Diffusion features (SD4Match). sift: dense SIFT, needs no weights, far less accurate. "
    "auto: sd when its weights are installed.",
    "variant": "empty: no text. text: the template below. single/class/cpm: SD4Match's learned prompts "
    "(one for all, one per category, conditional on the pair via DINOv2).",
    "text": "Text prompt; {category} is replaced by the category.",
    "category": "Object category (class prompts and {category} in templates).",
    "prompt_set": "Which learned prompts: spair, pfpascal or a tuned set's name.",
    "timestep": "Diffusion timestep t of the noised latent (paper: 50; DIFT: 261).",
    "layer": "UNet up block whose output is the feature (1: 1280 channels, S/16 grid).",
    "ensemble": "Noise draws averaged (paper: 8); fewer is faster and noisier.",
    "size": "Side S of the square model input (paper: 768).",
    "seed": "Seed of the per-image noise (results are reproducible per image).",
    "localisation": "kernel: kernel soft-argmax (paper). argmax: best cell. softargmax: plain soft-argmax.",
    "device": "Where the model runs; auto picks CUDA, then Apple MPS, then the CPU.",
}
SIFT_IGNORES = "the SIFT backend has no prompt, diffusion timestep, UNet layer or noise."
AUTO_RUNS_SIFT = (
    "without the Stable Diffusion weights the backend auto runs dense SIFT, which has no prompt, "
    "diffusion timestep, UNet layer or noise (Download, or Settings, to use them)."
)
ONLY_FOR_PROMPTS = {
    "text": ("text",),
    "category": ("text", "class"),
    "prompt_set": ("single", "class", "cpm"),
}


class EnginePanel(QWidget):
    """A form of engine settings.

    Signals:
        changed(PromptSpec, FeatureSettings, LocalisationSettings): after any edit.
        device_changed(str)
    """

    changed = Signal(object, object, object)
    device_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._features = FeatureSettings(backend="auto")
        self._localisation = LocalisationSettings()
        self._resolved = ""  # the backend that really runs ("auto" becomes sd or sift); "" until known
        form = self._form = QFormLayout(self)
        self.backend = combo(BACKENDS, TIPS["backend"])
        self.variant = combo(VARIANTS, TIPS["variant"])
        self.text = QLineEdit()
        self.text.setToolTip(TIPS["text"])
        self.category = combo(("", *PFPASCAL_CATEGORIES), TIPS["category"], editable=True)
        self.prompt_set = combo(PROMPT_SETS, TIPS["prompt_set"], editable=True)
        self.timestep = spin(0, 999, TIPS["timestep"])
        self.layer = spin(0, 3, TIPS["layer"])
        self.ensemble = spin(1, 64, TIPS["ensemble"])
        self.size = spin(64, 2048, TIPS["size"], step=64)
        self.seed = spin(0, 2**31 - 1, TIPS["seed"])
        self.localisation = combo(LOCALISATIONS, TIPS["localisation"])
        self.device = combo(DEVICES, TIPS["device"])
        rows = (
            ("Backend", self.backend),
            ("Prompt", self.variant),
            ("Text", self.text),
            ("Category", self.category),
            ("Prompt set", self.prompt_set),
            ("Timestep", self.timestep),
            ("Layer", self.layer),
            ("Ensemble", self.ensemble),
            ("Input size", self.size),
            ("Seed", self.seed),
            ("Localisation", self.localisation),
            ("Device", self.device),
        )
        for label, widget in rows:
            form.addRow(label, widget)
        for box in (self.backend, self.variant, self.localisation):
            box.currentIndexChanged.connect(self._emit)
        for box in (self.category, self.prompt_set):  # editable: emit on a choice or a finished edit, not per key
            box.activated.connect(self._emit)
            box.lineEdit().editingFinished.connect(self._emit)
        self.text.editingFinished.connect(self._emit)
        for box in (self.timestep, self.layer, self.ensemble, self.size, self.seed):
            box.valueChanged.connect(self._emit)
        self.device.currentTextChanged.connect(self.device_changed)

    def set_values(self, prompt: PromptSpec, features: FeatureSettings, localisation: LocalisationSettings) -> None:
        """Show settings without emitting ``changed``."""
        self._features, self._localisation = features, localisation
        with signals_blocked(self):
            self.backend.setCurrentText(features.backend)
            self.variant.setCurrentText(prompt.variant)
            self.text.setText(prompt.text)
            self.category.setCurrentText(prompt.category or "")
            self.prompt_set.setCurrentText(prompt.prompt_set)
            self.timestep.setValue(features.timestep)
            self.layer.setValue(features.layer)
            self.ensemble.setValue(features.ensemble)
            self.size.setValue(features.size)
            self.seed.setValue(features.seed)
            self.localisation.setCurrentText(localisation.method)
        self._update_enabled()

    def set_resolved_backend(self, backend: str) -> None:
        """The backend that runs now ("sd" or "sift"): with "auto" and no weights, SIFT's ignored
        controls are disabled too."""
        self._resolved = backend
        self._update_enabled()

    def set_device(self, device: str) -> None:
        with signals_blocked(self.device):
            self.device.setCurrentText(device)

    def values(self) -> tuple[PromptSpec, FeatureSettings, LocalisationSettings]:
        prompt = PromptSpec(
            variant=self.variant.currentText(),
            text=self.text.text(),
            category=self.category.currentText().strip() or None,
            prompt_set=self.prompt_set.currentText().strip() or "spair",
        )
        features = dataclasses.replace(
            self._features,
            backend=self.backend.currentText(),
            timestep=self.timestep.value(),
            layer=self.layer.value(),
            ensemble=self.ensemble.value(),
            size=self.size.value(),
            seed=self.seed.value(),
        )
        localisation = dataclasses.replace(self._localisation, method=self.localisation.currentText())
        return prompt, features, localisation

    def _emit(self, *_: object) -> None:
        self._update_enabled()
        self.changed.emit(*self.values())

    def _update_enabled(self) -> None:
        """Disable what the running backend or the chosen prompt ignores, saying why in the tooltip."""
        backend = self.backend.currentText()
        sift = backend == "sift" or (backend == "auto" and self._resolved == "sift")
        sift_reason = SIFT_IGNORES if backend == "sift" else AUTO_RUNS_SIFT
        for name in ("variant", "timestep", "layer", "ensemble", "seed"):
            self._set_applies(name, not sift, sift_reason)
        variant = self.variant.currentText()
        for name, variants in ONLY_FOR_PROMPTS.items():
            quoted = " and ".join(f"'{v}'" for v in variants)
            reason = sift_reason if sift else f"only the prompt {quoted} uses it (the prompt is '{variant}')."
            self._set_applies(name, not sift and variant in variants, reason)

    def _set_applies(self, name: str, applies: bool, reason: str) -> None:
        widget = getattr(self, name)
        widget.setEnabled(applies)
        widget.setToolTip(TIPS[name] if applies else f"{TIPS[name]}\nNot used now: {reason}")
        self._form.labelForField(widget).setEnabled(applies)
