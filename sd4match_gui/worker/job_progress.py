"""One progress bar for a whole computation, weighted by measured step times, in the user's words.

The engine reports the start of each step by name ("prompt", "source: VAE latent", "source: UNet
t=261", ...). The worker knows the whole job before it starts: for each variant the prompt, then
per image the VAE encoding and one UNet call per batch of ensemble members, the two images in
turns (:func:`variant_steps`). Once a partial answer of the progressive ensemble is on screen the
text says so ("ensemble 2/8 shown"). This module lays out
those steps, moves a cursor along them as the reports arrive (steps the feature cache made
unnecessary are passed over as done), and turns the cursor into an overall fraction and a
remaining time. Each step kind's duration is a running estimate (exponential average) measured on
this machine, kept by the worker across jobs, so the second pair's estimate is already good.

Qt-free: the worker wraps what :meth:`JobProgress.on_stage` returns into its messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest

from engine.settings import FeatureSettings

SMOOTHING = 0.5  # weight of the newest measurement in the running estimate
# Relative guesses before anything was measured: they only shape the bar, no time is shown from them.
PRIOR_SECONDS = {"prompt": 0.1, "vae": 1.0, "unet": 1.0}
IMAGES = ("source", "target")


@dataclass(frozen=True)
class Step:
    """One step of a job: ``kind`` is "prompt", "vae" or "unet"; ``role`` "source", "target" or ""
    (the prompt); ``members`` the 1-based ensemble members of a UNet call, e.g. (3, 4)."""

    kind: str
    role: str = ""
    members: tuple[int, int] = (0, 0)


def variant_steps(settings: FeatureSettings, max_batch: int) -> list[Step]:
    """The steps of one Stable Diffusion variant on a new pair, in the order the engine runs them
    (:meth:`engine.matcher.Matcher.prepare`): the prompt, then the two images in turns, each turn
    one UNet batch of ensemble members (the first turn of an image starts with its VAE), so that
    a partial match exists after the first batch of each. A dual-layer image runs in one turn."""
    passes = len(settings.timesteps) + (1 if settings.dual_layer is not None else 0)
    ensemble = settings.ensemble
    turns: dict[str, list[list[Step]]] = {}
    for role in IMAGES:
        calls = [
            Step("unet", role, (start + 1, min(start + max_batch, ensemble)))
            for _ in range(passes)
            for start in range(0, ensemble, max_batch)
        ]
        chunks = [calls] if settings.dual_layer is not None else [[call] for call in calls]
        turns[role] = [[Step("vae", role), *chunks[0]], *chunks[1:]]
    steps = [Step("prompt")]
    for rounds in zip_longest(*(turns[role] for role in IMAGES), fillvalue=[]):
        steps.extend(step for turn in rounds for step in turn)
    return steps


class StepTimes:
    """Seconds per step kind on this machine: an exponential average of the measured steps."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def update(self, kind: str, seconds: float) -> None:
        old = self.seconds.get(kind)
        self.seconds[kind] = seconds if old is None else (1 - SMOOTHING) * old + SMOOTHING * seconds

    def estimate(self, kind: str) -> float:
        return self.seconds.get(kind, PRIOR_SECONDS[kind])


@dataclass(frozen=True)
class JobReport:
    """Where the job stands: ``fraction`` of the whole job in [0, 1] (never goes back), a sentence
    for the user, and the estimated seconds left (None until every remaining kind was measured)."""

    fraction: float
    text: str
    remaining_s: float | None


def _kind(stage: str) -> tuple[str, str]:
    """(role, kind) of an engine stage name; kind "" for stages that are not steps of the plan."""
    role, _, rest = stage.partition(": ")
    if role not in IMAGES:
        role, rest = "", stage
    if rest.startswith("VAE"):
        return role, "vae"
    if rest.startswith("UNet"):
        return role, "unet"
    if rest.startswith("loading"):
        return role, "load"
    return role, "prompt" if rest == "prompt" else ""


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{minutes} min"


class JobProgress:
    """The cursor over one computation's steps.

    Args:
        names: the variants of the job, in the order they are computed.
        times: the worker's running step-time estimates (updated here as steps end).
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, names: list[str], times: StepTimes, clock: Callable[[], float] = time.monotonic) -> None:
        self._names = names
        self._times = times
        self._clock = clock
        self._plans: list[list[Step] | None] = [None] * len(names)
        self._stand_in: list[Step] = []  # a planned variant's steps, for the totals of those not yet planned
        self._variant = 0
        self._done = 0  # steps of the current variant that are over (run or passed over)
        self._running: int | None = None  # index of the step in progress, in the current variant
        self._started = 0.0
        self._shown = 0.0
        self._loading = False
        self._partial: tuple[int, int] | None = None  # (k, E) of the current variant's answer on screen

    def plan(self, variant: int, steps: list[Step]) -> None:
        """Say what ``variant`` will run (a variant never planned, e.g. SIFT, has no steps)."""
        self._plans[variant] = steps
        self._stand_in = steps
        self._variant, self._done, self._running = variant, 0, None
        self._partial = None

    def on_stage(self, variant: int, stage: str) -> JobReport:
        """The engine started ``stage`` of ``variant``."""
        role, kind = _kind(stage)
        self._loading = kind == "load"
        steps = self._plans[variant] or []
        if kind in PRIOR_SECONDS and variant == self._variant:
            start = self._done if self._running is None else self._running + 1
            found = next((i for i in range(start, len(steps)) if (steps[i].kind, steps[i].role) == (kind, role)), None)
            if found is not None:
                self._end_running()
                self._done, self._running, self._started = found, found, self._clock()
        return self._report()

    def showing(self, variant: int, done: int, passes: int) -> JobReport:
        """``variant``'s answer from ``done`` of ``passes`` ensemble members is on screen (a partial
        one): the text says so ("ensemble 2/8") until the variant ends."""
        if variant == self._variant:
            self._partial = (done, passes)
        return self._report()

    def finish_variant(self, variant: int) -> JobReport:
        """``variant`` has its answer (computed, from the cache, or failed): all its steps are over."""
        if variant == self._variant:
            self._end_running()
        self._plans[variant] = self._plans[variant] or []
        self._variant, self._done, self._running = variant + 1, 0, None
        self._partial = None
        return self._report()

    # ---- internals ----

    def _end_running(self) -> None:
        if self._running is not None:
            steps = self._plans[self._variant] or []
            self._times.update(steps[self._running].kind, self._clock() - self._started)
            self._done, self._running = self._running + 1, None

    def _steps(self, variant: int) -> list[Step]:
        plan = self._plans[variant]
        return self._stand_in if plan is None else plan

    def _weight(self, steps: list[Step]) -> float:
        return sum(self._times.estimate(step.kind) for step in steps)

    def _report(self) -> JobReport:
        current = self._steps(self._variant) if self._variant < len(self._names) else []
        before = sum(self._weight(self._steps(v)) for v in range(min(self._variant, len(self._names))))
        after = [step for v in range(self._variant + 1, len(self._names)) for step in self._steps(v)]
        done = before + self._weight(current[: self._done])
        total = done + self._weight(current[self._done :]) + self._weight(after)
        finished = self._variant >= len(self._names)
        fraction = 1.0 if finished else done / total if total > 0 else 0.0  # nothing planned yet: 0
        self._shown = max(self._shown, min(fraction, 1.0))
        return JobReport(self._shown, self._text(current), None if finished else self._remaining(current, after))

    def _remaining(self, current: list[Step], after: list[Step]) -> float | None:
        left = current[self._done :] + after
        if not left or any(step.kind not in self._times.seconds for step in left):
            return None  # not measured yet: a guess in seconds would mislead
        seconds = self._weight(left)
        if self._running is not None:
            seconds -= min(self._clock() - self._started, self._times.estimate(current[self._running].kind))
        return max(seconds, 0.0)

    def _text(self, current: list[Step]) -> str:
        prefix = f"{self._names[self._variant]}: " if len(self._names) > 1 and self._variant < len(self._names) else ""
        if self._partial is not None:
            prefix += f"ensemble {self._partial[0]}/{self._partial[1]} shown · "
        if self._loading:
            return prefix + "Loading Stable Diffusion (once per session)"
        if self._variant >= len(self._names):
            return "Done"
        if self._running is None:
            return prefix + "Preparing"
        step = current[self._running]
        if step.kind == "prompt":
            return prefix + "Preparing the prompt"
        image = f"Preparing image {IMAGES.index(step.role) + 1} of {len(IMAGES)}"
        if step.kind == "vae":
            return f"{prefix}{image} (encoding)"
        ensemble = max(s.members[1] for s in current if s.role == step.role and s.kind == "unet")
        member = "" if ensemble == 1 else f", member {step.members[0]}/{ensemble}"
        return f"{prefix}{image} (Stable Diffusion{member})"


def sentence(report: JobReport) -> str:
    """The status-bar line: the step, then the time left (or that it is being estimated)."""
    if report.remaining_s is None:
        return report.text if report.fraction >= 1.0 else f"{report.text} — estimating time left"
    return f"{report.text} — about {_duration(report.remaining_s)} left"
