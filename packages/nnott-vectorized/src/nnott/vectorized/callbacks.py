"""Early stopping: stop when the monitored metric has not improved for ``patience`` epochs.

The trainer asks :meth:`EarlyStopping.update` once per epoch with a host number (the
validation loss by default) and learns whether this epoch is the best so far and whether
to stop. The best weights themselves are kept by the trainer (as device copies, so
keeping them costs no host transfer); this object only counts. Its state is a small dict
of Python numbers, saved in checkpoints so that a resumed run stops where the
uninterrupted one would have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nnott.errors import ConfigError

__all__ = ["EarlyStopping", "EarlyStoppingDecision"]


@dataclass(frozen=True)
class EarlyStoppingDecision:
    """What one epoch's value means: a new best, and whether training should stop now."""

    improved: bool
    should_stop: bool


class EarlyStopping:
    """Patience-based stopping on a metric to minimise (``mode="min"``) or maximise.

    An epoch improves when its value beats the best so far by more than ``min_delta``.
    After ``patience`` epochs in a row without improvement, :meth:`update` says stop.
    """

    def __init__(self, patience: int = 5, *, mode: str = "min", min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ConfigError(f"early-stopping patience must be at least 1, not {patience}")
        if mode not in ("min", "max"):
            raise ConfigError(f"early-stopping mode must be 'min' or 'max', not {mode!r}")
        if min_delta < 0:
            raise ConfigError(f"early-stopping min_delta must be >= 0, not {min_delta}")
        self.patience = patience
        self.mode = mode
        self.min_delta = float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0

    def is_improvement(self, value: float) -> bool:
        """True when ``value`` beats the best so far by more than ``min_delta``."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int) -> EarlyStoppingDecision:
        """Record one epoch's value; say whether it is the new best and whether to stop."""
        improved = self.is_improvement(value)
        if improved:
            self.best, self.best_epoch, self.bad_epochs = float(value), epoch, 0
        else:
            self.bad_epochs += 1
        return EarlyStoppingDecision(improved, self.bad_epochs >= self.patience)

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = None if state.get("best") is None else float(state["best"])
        self.best_epoch = state.get("best_epoch")
        self.bad_epochs = int(state.get("bad_epochs", 0))

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, mode={self.mode!r}, "
            f"best={self.best}, bad_epochs={self.bad_epochs})"
        )
