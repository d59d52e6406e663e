"""Learning-rate schedules with PyTorch's values.

When a schedule steps
    Every schedule except :class:`ReduceLROnPlateau` counts *optimizer steps* (batches):
    call :meth:`LRSchedule.step` once after each ``optimizer.step()``. Per-batch stepping
    is what warm-up and one-cycle need, and a schedule set in epochs is the same schedule
    with its lengths multiplied by the batches per epoch (:func:`get_schedule` does that),
    so the values at epoch boundaries equal PyTorch's per-epoch ones.
    :class:`ReduceLROnPlateau` reacts to a validation metric, so it steps once per epoch:
    ``schedule.step(val_loss)``. The class attribute ``interval`` ("batch" or "epoch") says
    which, so a trainer need not know the classes.

Like PyTorch's, a schedule reads the optimizer's learning rate as its base when it is made,
sets the learning rate for step 0 at once, and sets the next one on every ``step()``.
Each schedule is a closed-form function of the step count (:meth:`LRSchedule.lr_at`), so a
checkpoint needs only the step count: ``state_dict()`` returns plain numbers.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any, Protocol

from nnott.errors import CheckpointError, ConfigError

__all__ = [
    "SCHEDULES",
    "ConstantLR",
    "CosineWithWarmup",
    "ExponentialLR",
    "LRSchedule",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
    "get_schedule",
]


class HasLearningRate(Protocol):
    """Anything with a settable ``lr``: every optimizer, and Lookahead."""

    lr: float


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


class LRSchedule:
    """Base class: a learning rate that is a function of the number of steps taken."""

    interval = "batch"

    def __init__(self, optimizer: HasLearningRate) -> None:
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_step = 0
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, step: int) -> float:
        """The learning rate for the ``step``-th optimizer step (counting from 0)."""
        raise NotImplementedError(f"{type(self).__name__} must implement lr_at")

    @property
    def lr(self) -> float:
        """The learning rate in use now."""
        return float(self.optimizer.lr)

    def step(self) -> None:
        """Advance one optimizer step and set the optimizer's learning rate for the next."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)

    def state_dict(self) -> dict[str, Any]:
        return {
            "schedule": type(self).__name__,
            "last_step": self.last_step,
            "base_lr": self.base_lr,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("schedule") != type(self).__name__:
            raise CheckpointError(
                f"the checkpoint holds a {state.get('schedule')} schedule, "
                f"not {type(self).__name__}"
            )
        self.base_lr = float(state["base_lr"])
        self.last_step = int(state["last_step"])
        self.optimizer.lr = self.lr_at(self.last_step)


class ConstantLR(LRSchedule):
    """The learning rate never changes (so that a trainer can always call ``step``)."""

    def lr_at(self, step: int) -> float:
        return self.base_lr


class StepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: HasLearningRate, step_size: int, gamma: float = 0.1) -> None:
        _check(step_size >= 1, f"step_size must be at least 1, not {step_size}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)


class MultiStepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` at each of the given step counts."""

    def __init__(
        self, optimizer: HasLearningRate, milestones: Sequence[int], gamma: float = 0.1
    ) -> None:
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, step)


class ExponentialLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` every step: ``lr = base * gamma**step``."""

    def __init__(self, optimizer: HasLearningRate, gamma: float) -> None:
        _check(0.0 < gamma <= 1.0, f"gamma must be in (0, 1], not {gamma}")
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma**step


class CosineWithWarmup(LRSchedule):
    """Linear warm-up to the base rate, then a cosine decay to ``min_lr``.

    Steps ``0 .. w-1`` use ``base * (s + 1) / w``; from step ``w`` on,
    ``min_lr + (base - min_lr) * (1 + cos(pi * (s - w) / (total_steps - w))) / 2``, which
    reaches ``min_lr`` at ``total_steps`` and stays there. In PyTorch this is
    ``SequentialLR([LinearLR(start_factor=1/w, total_iters=w-1),
    CosineAnnealingLR(T_max=total_steps-w, eta_min=min_lr)], milestones=[w])``
    (plain ``CosineAnnealingLR`` when ``w = 0``).
    """

    def __init__(
        self,
        optimizer: HasLearningRate,
        total_steps: int,
        warmup_steps: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        _check(0 <= warmup_steps < total_steps, "need 0 <= warmup_steps < total_steps")
        _check(min_lr >= 0.0, f"min_lr must be non-negative, not {min_lr}")
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2


def _anneal(start: float, end: float, fraction: float, strategy: str) -> float:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)
    return (end - start) * fraction + start


class OneCycleLR(LRSchedule):
    """The one-cycle policy (Smith): rise from ``max_lr / div_factor`` to ``max_lr`` over
    the first ``pct_start`` of the steps, then fall to ``initial / final_div_factor``.

    Same phases and values as PyTorch's ``OneCycleLR`` (``cycle_momentum`` is not offered:
    the momentum stays fixed). Steps past ``total_steps`` keep the final rate.
    """

    def __init__(
        self,
        optimizer: HasLearningRate,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        _check(total_steps >= 2, f"total_steps must be at least 2, not {total_steps}")
        _check(0.0 < pct_start < 1.0, f"pct_start must be in (0, 1), not {pct_start}")
        _check(anneal_strategy in ("cos", "linear"), "anneal_strategy must be cos or linear")
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.anneal_strategy = anneal_strategy
        initial = self.max_lr / div_factor
        minimum = initial / final_div_factor
        rise_end = float(pct_start * total_steps) - 1.0
        if three_phase:
            self.phases = [
                (rise_end, initial, self.max_lr),
                (2.0 * float(pct_start * total_steps) - 2.0, self.max_lr, initial),
                (float(total_steps - 1), initial, minimum),
            ]
        else:
            self.phases = [
                (rise_end, initial, self.max_lr),
                (float(total_steps - 1), self.max_lr, minimum),
            ]
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        step = min(step, self.total_steps - 1)
        start_step = 0.0
        for index, (end_step, start_lr, end_lr) in enumerate(self.phases):
            if step <= end_step or index == len(self.phases) - 1:
                fraction = (step - start_step) / (end_step - start_step)
                return _anneal(start_lr, end_lr, fraction, self.anneal_strategy)
            start_step = end_step
        raise AssertionError("unreachable: the last phase always answers")


class ReduceLROnPlateau(LRSchedule):
    """Divide the learning rate by ``1 / factor`` when a metric stops improving.

    Call ``step(metric)`` once per epoch with the validation loss (``mode="min"``) or
    accuracy (``mode="max"``). After more than ``patience`` epochs without an improvement
    beyond ``threshold`` the rate is multiplied by ``factor`` (never below ``min_lr``),
    then ``cooldown`` epochs pass before bad epochs count again. PyTorch's rules exactly.
    """

    interval = "epoch"

    def __init__(
        self,
        optimizer: HasLearningRate,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        _check(mode in ("min", "max"), f"mode must be min or max, not {mode!r}")
        _check(threshold_mode in ("rel", "abs"), "threshold_mode must be rel or abs")
        _check(0.0 < factor < 1.0, f"factor must be in (0, 1), not {factor}")
        _check(patience >= 0 and cooldown >= 0, "patience and cooldown must be non-negative")
        self.mode = mode
        self.factor = float(factor)
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.eps = float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return float(self.optimizer.lr)  # the rate changes only in reaction to metrics

    def is_better(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than the threshold."""
        relative = self.threshold_mode == "rel"
        if self.mode == "min":
            bar = self.best * (1.0 - self.threshold) if relative else self.best - self.threshold
            return value < bar
        bar = self.best * (1.0 + self.threshold) if relative else self.best + self.threshold
        return value > bar

    def step(self, metric: Any = None) -> None:  # type: ignore[override]
        """Record one epoch's metric (a float or 0-d array; reading it synchronises once)."""
        if metric is None:
            raise ConfigError("ReduceLROnPlateau.step needs the epoch's metric")
        value = float(metric)
        self.last_step += 1
        if self.is_better(value):
            self.best = value
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            old_lr = float(self.optimizer.lr)
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            lr=float(self.optimizer.lr),
            best=self.best,
            bad_epochs=self.bad_epochs,
            cooldown_counter=self.cooldown_counter,
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.lr = float(state["lr"])
        super().load_state_dict(state)
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])


SCHEDULES: tuple[str, ...] = (
    "constant",
    "step",
    "multistep",
    "exponential",
    "cosine",
    "onecycle",
    "plateau",
)
"""Schedule names for command lines (see :func:`get_schedule`)."""


def _default_milestones(epochs: int) -> list[int]:
    """The multistep schedule's default: after half and after three quarters of the run.

    In a short run both can fall on the same epoch, or on epoch 0 (a one-epoch run), where
    they would divide the rate by ``1 / gamma**2`` at once; each epoch counts once, and
    epoch 0 (the start, not a decay) not at all.
    """
    return sorted({milestone for milestone in (epochs // 2, (3 * epochs) // 4) if milestone > 0})


def get_schedule(
    name: str,
    optimizer: HasLearningRate,
    *,
    epochs: int,
    steps_per_epoch: int,
    **options: Any,
) -> LRSchedule:
    """Build a schedule by name, with lengths given in epochs turned into steps.

    ``constant``; ``step`` (``step_epochs``, default a third of the run, ``gamma`` 0.1);
    ``multistep`` (``milestones`` in epochs, default half and three quarters of the run,
    each epoch once, ``gamma``);
    ``exponential`` (``gamma`` per epoch, default 0.95, spread evenly over its batches);
    ``cosine`` (``warmup_epochs`` default 0, ``min_lr`` default 0); ``onecycle`` (peaks at
    the optimizer's rate; ``pct_start``, ``div_factor``, ``final_div_factor``);
    ``plateau`` (``mode``, ``factor`` 0.1, ``patience`` 10, stepped per epoch).
    """
    _check(epochs >= 1 and steps_per_epoch >= 1, "epochs and steps_per_epoch must be >= 1")
    key = name.strip().lower().replace("-", "").replace("_", "")
    total = epochs * steps_per_epoch
    try:
        if key in ("constant", "none"):
            return ConstantLR(optimizer)
        if key == "step":
            step_epochs = int(options.pop("step_epochs", max(1, epochs // 3)))
            return StepLR(optimizer, step_epochs * steps_per_epoch, **options)
        if key == "multistep":
            milestones = options.pop("milestones", _default_milestones(epochs))
            steps = [int(m) * steps_per_epoch for m in milestones]
            return MultiStepLR(optimizer, steps, **options)
        if key == "exponential":
            gamma = float(options.pop("gamma", 0.95))
            return ExponentialLR(optimizer, gamma ** (1.0 / steps_per_epoch), **options)
        if key == "cosine":
            warmup = int(options.pop("warmup_epochs", 0)) * steps_per_epoch
            return CosineWithWarmup(optimizer, total, warmup_steps=warmup, **options)
        if key == "onecycle":
            return OneCycleLR(optimizer, max_lr=float(optimizer.lr), total_steps=total, **options)
        if key == "plateau":
            return ReduceLROnPlateau(optimizer, **options)
    except TypeError as error:
        raise ConfigError(f"bad option for schedule {name!r}: {error}") from None
    raise ConfigError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
