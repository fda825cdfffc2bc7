"""Prompt tuning, GUI-free: ``sd4match tune`` and the app's "tune on this session" both call this.

>>> trainer = PromptTrainer(TrainingConfig("single", "my-cats", epochs=2, batch_size=4), matcher)
>>> result = trainer.fit(TrainingSet.open("json", "session.json"), library="prompts",
...                      on_step=lambda report: print(report.step, report.loss))
>>> result.prompt_file          # prompts/Single_my-cats_sd2-1_TokenEmbeds75/caption.pt

One optimiser step: this process's share of the step's pairs, in micro-batches; for each, the
prompt tokens (the only trainable parameters), the frozen CLIP encoder, the frozen truncated UNet
with gradients, the paper's loss, and a backward pass; then one Adam step. Under ``accelerate
launch`` the prompt module is wrapped by ``accelerator.prepare`` (DistributedDataParallel), which
all-reduces its gradients; nothing is synchronised by hand. After each epoch the prompt is scored
on the validation pairs (shared out between processes) and kept when it beats the best so far.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import fmean
from typing import Any, NoReturn

import torch
from accelerate.utils import gather_object
from torch import nn

from .. import __version__, atomic
from ..cache import LRUCache, tensor_bytes
from ..datasets import PairSample
from ..errors import Cancelled, NumericError, SettingsError
from ..evaluation.distributed import shard
from ..export.document import now_utc
from ..features.stable_diffusion import StableDiffusionFeatures
from ..images import LoadedImage
from ..matcher import Matcher
from ..paths import prompt_library_home
from ..progress import SILENT, Progress
from ..prompts.text_encoder import TextConditioner
from ..settings import FeatureSettings, LocalisationSettings
from .checkpoint import SIDECAR_FORMAT, SIDECAR_VERSION, RunFolder, TrainingState, save_tensors
from .config import RESUMABLE_CHANGES, TrainingConfig
from .data import TrainingSet, check_categories, prompt_key
from .prompt_modules import TokenPrompts, initial_cpm, parameter_groups, prompt_file_tensors
from .reports import EpochReport, StepReport, TrainingResult
from .schedule import Schedule, noise_generator
from .step import PairLoss, TrainingExample
from .validation import Validator

POSTERIOR_CACHE_LIMIT = 4 << 30
MIXED_PRECISION = {"float32": "no", "float16": "fp16", "bfloat16": "bf16"}


def create_accelerator(config: TrainingConfig, device: torch.device | str) -> Any:
    """The ``accelerate.Accelerator`` of a run on ``device`` (under ``accelerate launch``: every process's).

    Precision "auto" is float16 on CUDA (the paper's), float32 elsewhere, unless ``accelerate
    launch --mixed_precision`` chose. Class prompts leave the categories absent from a step
    unused, which DistributedDataParallel must be told about.
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    device = torch.device(device)
    if config.precision != "auto":
        mixed_precision = MIXED_PRECISION[config.precision]
    elif os.environ.get("ACCELERATE_MIXED_PRECISION"):
        mixed_precision = None  # accelerate reads the launcher's choice
    else:
        mixed_precision = "fp16" if device.type == "cuda" else "no"
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=config.variant == "class")]
    try:
        return Accelerator(cpu=device.type == "cpu", mixed_precision=mixed_precision, kwargs_handlers=handlers)
    except ValueError as exc:  # accelerate's state is per process and cannot change precision once set
        raise SettingsError(f"cannot set up training on {device}: {exc}") from exc


class PromptTrainer:
    """Tunes a Single, Class or CPM prompt on annotated pairs.

    Args:
        config: the run's settings.
        matcher: holds the frozen models (its SD parts, and DINOv2 for CPM); its runtime device
            must be the accelerator's.
        accelerator: when None, one is created for the matcher's device. Under ``accelerate
            launch`` create it first with :func:`create_accelerator` and load the matcher on
            ``accelerator.device``.
    """

    def __init__(self, config: TrainingConfig, matcher: Matcher, accelerator: Any = None) -> None:
        self.config = config
        self.matcher = matcher
        self.accelerator = accelerator or create_accelerator(config, matcher.runtime.device)
        if self.accelerator.device.type != matcher.runtime.device.type:
            raise SettingsError(
                f"the models are on {matcher.runtime.device} but training runs on {self.accelerator.device}"
            )
        self._patches: LRUCache[torch.Tensor] = LRUCache(512 << 20, tensor_bytes)

    def fit(
        self,
        train: TrainingSet,
        validation: TrainingSet | None = None,
        library: str | Path | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
        on_step: Callable[[StepReport], None] | None = None,
        on_epoch: Callable[[EpochReport], None] | None = None,
        progress: Progress = SILENT,
    ) -> TrainingResult:
        """Train (or continue training) and keep the best prompt in ``library``.

        Args:
            train: the pairs to learn from.
            validation: pairs that pick the best epoch; None keeps the last epoch's prompt.
            library: the prompt library folder the run writes into (default: the user's library).
            resume: continue from the run's ``resume.pt`` (same settings and data; ``epochs`` may grow).
            overwrite: start afresh even if the folder holds an earlier run.
            on_step, on_epoch: called on the main process after each step / validated epoch.
            progress: stage reports; a cancel request stops the run between steps (or during
                validation), saving its state first: the result has ``stopped`` set.

        Raises:
            SettingsError: unusable settings or data (too few points, unknown categories, a batch
                larger than the data, an existing run without ``resume`` or ``overwrite``).
            Cancelled: a cancel request arrived while the models were still loading (nothing to save).
            NumericError: the loss or the prompt became NaN or infinite; the step is not saved.
        """
        folder = Path(library).expanduser() if library is not None else prompt_library_home()
        run = RunFolder(folder, self.config.variant, self.config.prompt_set)
        run.check_start(resume, overwrite)
        session = _Session(self, run, train, validation, on_step, on_epoch, progress)
        try:
            session.start(resume)
        except BaseException:
            session.accelerator.free_memory()  # run() frees it on every other path
            raise
        return session.run()

    # ---- pieces the session uses ----

    def dino_patches(self, image: LoadedImage) -> torch.Tensor:
        """``N x C`` DINOv2 patch tokens of an image (frozen, so cached by digest)."""
        dinov2 = self.matcher.dinov2()
        return self._patches.get_or_create((dinov2.identity, image.digest), lambda: dinov2.patch_features(image.rgb))


class _Session:
    """One call of :meth:`PromptTrainer.fit`: the models, the data, the state, and the loop."""

    def __init__(
        self,
        trainer: PromptTrainer,
        run: RunFolder,
        train: TrainingSet,
        validation: TrainingSet | None,
        on_step: Callable[[StepReport], None] | None,
        on_epoch: Callable[[EpochReport], None] | None,
        progress: Progress,
    ) -> None:
        config = trainer.config
        self.trainer, self.config, self.run_folder = trainer, config, run
        self.accelerator = trainer.accelerator
        self.on_step, self.on_epoch, self.progress = on_step, on_epoch, progress
        # 1. Data: usable pairs, prompt keys, and a step plan that needs a full batch of them.
        self.train = train.usable(config.min_points, "training")
        self.validation = validation.usable(1, "validation") if validation is not None else None
        self.keys = check_categories(config.variant, self.train, self.validation)
        processes = self.accelerator.num_processes
        if config.batch_size % processes:
            raise SettingsError(f"batch size {config.batch_size} is not a multiple of the {processes} processes")
        if config.batch_size > len(self.train):
            raise SettingsError(
                f"batch size {config.batch_size} is larger than the {len(self.train)} training pairs; "
                f"use --batch-size {len(self.train)} or fewer (app: Pairs per step), or annotate more pairs"
            )
        self.schedule = Schedule(len(self.train), config.batch_size, config.epochs, config.seed)

    # ---- setup ----

    def start(self, resume: bool) -> None:
        """Load the models, build the prompt and optimiser, restore a saved state if resuming."""
        config, accelerator = self.config, self.accelerator
        saved = self._saved_state() if resume else None  # a run that cannot resume fails before the models load
        self.progress("loading models", 0.0)
        backend = self.trainer.matcher.stable_diffusion(self.progress)
        parts = backend.parts
        self.conditioner = TextConditioner(parts.tokenizer, parts.text_encoder, accelerator.autocast)
        if config.variant == "cpm":
            module: nn.Module = initial_cpm(self.conditioner, self.trainer.matcher.dinov2(), config.seed)
        else:
            module = TokenPrompts.initialise(self.keys, self.conditioner, config.seed)
        optimizer = torch.optim.Adam(parameter_groups(module, config))
        if saved is not None:
            module.load_state_dict(saved.module)
            optimizer.load_state_dict(saved.optimizer)
            self.state = saved
        else:
            self.state = self._fresh()
            if accelerator.is_main_process:
                self.run_folder.clear()  # an overwritten run's prompt must not outlive it
        accelerator.wait_for_everyone()
        self.model, self.optimizer = accelerator.prepare(module, optimizer)
        if self.state.scaler is not None and accelerator.scaler is not None:
            accelerator.scaler.load_state_dict(self.state.scaler)
        self.loss = PairLoss(backend, config, accelerator.autocast)
        self._hold_every_posterior(backend)
        settings = FeatureSettings(
            timestep=config.timestep, layer=config.layer, ensemble=config.ensemble, size=config.size, seed=config.seed
        )
        localisation = LocalisationSettings(method=config.selection, temperature=config.temperature)
        self.validator = Validator(backend, settings, localisation, config.alpha, accelerator.autocast)
        self.models = {"sd": parts.identity}
        if config.variant == "cpm":
            self.models["dinov2"] = self.trainer.matcher.dinov2().identity

    def _hold_every_posterior(self, backend: StableDiffusionFeatures) -> None:
        """Grow the posterior cache to hold every training and validation image (within a limit).

        At 768 px the VAE encoder costs 2.6 TFLOP an image, more than the image's share of the UNet
        forward and backward (2.25 TFLOP); its mean and std take 0.3 MB. SPair-71k's 1,800 images
        fit in 0.5 GB, so after the first epoch no image is encoded again.
        """
        sets = [self.train] if self.validation is None else [self.train, self.validation]
        images = {
            (path, pair.flip) for data in sets for pair in data.pairs for path in (pair.source_path, pair.target_path)
        }
        latent = backend.parts.vae.config.latent_channels * (self.config.size // 8) ** 2
        needed = len(images) * 2 * latent * 4  # mean and std, float32
        backend.latents.max_bytes = max(backend.latents.max_bytes, min(needed, POSTERIOR_CACHE_LIMIT))

    def _fresh(self) -> TrainingState:
        return TrainingState(0, {}, {}, None, [], [], self.config.to_dict(), self._fingerprints(), list(self.keys))

    def _saved_state(self) -> TrainingState:
        """The run's ``resume.pt``, if this call's settings and data may continue it."""
        state = TrainingState.load(self.run_folder.resume_file)
        changed = self.config.differences(TrainingConfig.from_dict(state.config))
        if changed:
            raise SettingsError(
                f"cannot resume '{self.run_folder.folder}': these settings differ from the saved run: "
                f"{', '.join(changed)} (only {', '.join(RESUMABLE_CHANGES)} may change)"
            )
        if state.data != self._fingerprints() or state.keys != list(self.keys):
            raise SettingsError(
                f"cannot resume '{self.run_folder.folder}': the training or validation pairs are not the saved run's"
            )
        state.config = self.config.to_dict()
        return state

    def _fingerprints(self) -> dict[str, str | None]:
        return {
            "train": self.train.fingerprint(),
            "validation": self.validation.fingerprint() if self.validation is not None else None,
        }

    # ---- the loop ----

    def run(self) -> TrainingResult:
        schedule, state = self.schedule, self.state
        stopped = False
        try:
            while True:
                finished_epochs = state.step // schedule.steps_per_epoch
                if state.step and state.step % schedule.steps_per_epoch == 0 and len(state.history) < finished_epochs:
                    self._end_epoch(finished_epochs)
                if state.step >= schedule.total_steps:
                    break
                self.progress("training", state.step / schedule.total_steps)
                self._step()
        except Cancelled:
            stopped = True
            self._save_state()
        finally:
            # The accelerator keeps what it prepared; a long-lived app would otherwise hold every run's prompt.
            self.accelerator.free_memory()
        return self._result(stopped)

    def _step(self) -> None:
        config, accelerator, state = self.config, self.accelerator, self.state
        started = time.perf_counter()
        epoch = self.schedule.epoch_of(state.step)
        items = self.schedule.step_items(state.step, accelerator.process_index, accelerator.num_processes)
        chunks = [items[start : start + config.micro_batch] for start in range(0, len(items), config.micro_batch)]
        total = torch.zeros((), device=accelerator.device)
        for index, chunk in enumerate(chunks):
            samples = [
                (self.train.pairs[pair], noise_generator(config.seed, epoch, position)) for pair, position in chunk
            ]
            examples = [TrainingExample.load(sample, self._key(sample), generator) for sample, generator in samples]
            # Gradients of all micro-batches but the last accumulate locally; the last one all-reduces.
            synchronise = index == len(chunks) - 1
            with contextlib.nullcontext() if synchronise else accelerator.no_sync(self.model):
                losses = self.loss(examples, self._states(self.model, examples))
                accelerator.backward(losses.sum() / len(items))
            total = total + losses.detach().sum()
        loss = float(accelerator.reduce(total, "sum")) / config.batch_size  # the same on every process
        if not math.isfinite(loss):
            self._diverged(f"the loss is {loss}")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not all(bool(torch.isfinite(parameter).all()) for parameter in self.model.parameters()):
            self._diverged("the prompt's parameters became infinite or NaN")
        state.step += 1
        state.epoch_losses.append(loss)
        if state.step % config.save_every == 0 or state.step % self.schedule.steps_per_epoch == 0:
            self._save_state()
        if self.on_step is not None and accelerator.is_main_process:
            report = StepReport(state.step, self.schedule.total_steps, epoch + 1, loss, time.perf_counter() - started)
            self.on_step(report)

    def _diverged(self, what: str) -> NoReturn:
        """Stop before anything of this step is saved: the kept prompt and ``resume.pt`` stay the last finite ones."""
        config = self.config
        raise NumericError(
            f"training diverged at step {self.state.step + 1} of {self.schedule.total_steps}: {what}; nothing of "
            f"this step was saved. Lower the learning rate (now {config.learning_rate:g}"
            + (f", linear {config.linear_learning_rate:g}" if config.variant == "cpm" else "")
            + f") or train in float32 (mixed precision now {self.accelerator.mixed_precision})"
        )

    def _end_epoch(self, epoch: int) -> None:
        """Validate the prompt after ``epoch`` (1-based) epochs, keep it if best, record and save."""
        state, accelerator = self.state, self.accelerator
        score = self._validate()
        kept = [report for report in map(EpochReport.from_dict, state.history) if report.improved]
        best = kept[-1] if kept else None
        # Ties keep the earlier prompt, as the official ``pck > best_pck``; the first epoch is always kept.
        improved = score is None or best is None or best.score is None or score > best.score
        if improved and accelerator.is_main_process:
            module = accelerator.unwrap_model(self.model)
            save_tensors(self.run_folder.prompt_file, prompt_file_tensors(module, self.conditioner))
        report = EpochReport(
            epoch=epoch,
            step=state.step,
            train_loss=fmean(state.epoch_losses) if state.epoch_losses else float("nan"),
            score=score,
            best_epoch=epoch if improved else best.epoch,  # type: ignore[union-attr]
            best_score=score if improved else best.score,  # type: ignore[union-attr]
            improved=improved,
        )
        state.history.append(report.to_dict())
        state.epoch_losses = []
        self._save_state()
        if self.on_epoch is not None and accelerator.is_main_process:
            self.on_epoch(report)

    def _validate(self) -> float | None:
        if self.validation is None:
            return None
        accelerator = self.accelerator
        module = accelerator.unwrap_model(self.model)
        mine = shard(self.validation.pairs, accelerator.process_index, accelerator.num_processes)
        if isinstance(module, TokenPrompts):
            states: dict[str, torch.Tensor] = {}

            def token_states(sample: PairSample, source: LoadedImage, target: LoadedImage) -> torch.Tensor:
                key = self._key(sample)
                if key not in states:
                    states[key] = self._encode(module([key]))
                return states[key]

            scores = self.validator.scores(mine, token_states, self._key, self.progress)
        else:

            def pair_states(sample: PairSample, source: LoadedImage, target: LoadedImage) -> torch.Tensor:
                return self._encode(self._cpm_middle(module, [(source, target)]))

            scores = self.validator.scores(mine, pair_states, None, self.progress)
        return fmean(gather_object(scores))

    # ---- prompts ----

    def _key(self, sample: PairSample) -> str:
        return prompt_key(self.config.variant, sample)

    def _states(self, model: nn.Module, examples: Sequence[TrainingExample]) -> torch.Tensor:
        """``B x L x D`` conditioning of the examples (through ``model``, so that DDP sees the forward)."""
        if self.config.variant == "cpm":
            return self._encode(self._cpm_middle(model, [(example.source, example.target) for example in examples]))
        return self._encode(model([example.key for example in examples]))

    def _cpm_middle(self, model: nn.Module, pairs: Sequence[tuple[LoadedImage, LoadedImage]]) -> torch.Tensor:
        sources = torch.stack([self.trainer.dino_patches(source) for source, _ in pairs])
        targets = torch.stack([self.trainer.dino_patches(target) for _, target in pairs])
        return model(sources, targets)

    def _encode(self, middle: torch.Tensor) -> torch.Tensor:
        return self.conditioner.encode_token_embeddings(self.conditioner.splice(middle))

    # ---- files ----

    def _save_state(self) -> None:
        """Write ``resume.pt`` and the sidecar (main process), then let every process go on."""
        accelerator, state = self.accelerator, self.state
        if accelerator.is_main_process:
            module_state = accelerator.unwrap_model(self.model).state_dict()
            state.module = {name: tensor.detach().cpu().clone() for name, tensor in module_state.items()}
            state.optimizer = self.optimizer.state_dict()
            state.scaler = accelerator.scaler.state_dict() if accelerator.scaler is not None else None
            state.save(self.run_folder.resume_file)
            atomic.write_json(self.run_folder.sidecar, self._sidecar())
        accelerator.wait_for_everyone()

    def _sidecar(self) -> dict[str, Any]:
        config, accelerator = self.config, self.accelerator
        history = [EpochReport.from_dict(item) for item in self.state.history]
        kept = [report for report in history if report.improved]
        return {
            "format": SIDECAR_FORMAT,
            "format_version": SIDECAR_VERSION,
            "engine_version": __version__,
            "updated_at": now_utc(),
            "variant": config.variant,
            "prompt_set": config.prompt_set,
            "prompt_file": self.run_folder.prompt_file.name if kept else None,
            "settings": config.to_dict(),
            "runtime": {
                "device": accelerator.device.type,
                "mixed_precision": accelerator.mixed_precision,
                "processes": accelerator.num_processes,
            },
            "models": self.models,
            "data": {
                "train": self.train.summary(),
                "validation": self.validation.summary() if self.validation is not None else None,
            },
            "selection": {
                "metric": f"{config.selection} PCK@{config.alpha:g} (square frame)"
                if self.validation is not None
                else "none (no validation pairs): the last epoch's prompt is kept",
                "best_epoch": kept[-1].best_epoch if kept else None,
                "best_score": kept[-1].best_score if kept else None,
            },
            "progress": {"steps_done": self.state.step, "total_steps": self.schedule.total_steps},
            "history": [report.to_dict() for report in history],
        }

    def _result(self, stopped: bool) -> TrainingResult:
        folder = self.run_folder
        return TrainingResult(
            prompt_file=folder.prompt_file if folder.prompt_file.is_file() else None,
            sidecar=folder.sidecar,
            resume_file=folder.resume_file,
            steps_done=self.state.step,
            total_steps=self.schedule.total_steps,
            history=tuple(EpochReport.from_dict(item) for item in self.state.history),
            stopped=stopped,
        )
