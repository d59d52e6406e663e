"""Learning-rate schedules against PyTorch's schedulers, resumption, and the factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnott.backend import to_device
from nnott.errors import CheckpointError, ConfigError
from nnott.vectorized import (
    SCHEDULES,
    SGD,
    ConstantLR,
    CosineWithWarmup,
    ExponentialLR,
    Lookahead,
    MultiStepLR,
    OneCycleLR,
    Parameter,
    ReduceLROnPlateau,
    StepLR,
    get_schedule,
)

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "schedules.npz", allow_pickle=False)

CONFIGS = {
    "step": lambda o: StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: MultiStepLR(o, [5, 2, 9], gamma=0.1),
    "exponential": lambda o: ExponentialLR(o, gamma=0.9),
    "cosine_warmup": lambda o: CosineWithWarmup(o, total_steps=20, warmup_steps=5, min_lr=1e-3),
    "cosine_plain": lambda o: CosineWithWarmup(o, total_steps=20),
    "onecycle": lambda o: OneCycleLR(o, max_lr=0.1, total_steps=20),
    "onecycle_linear_three_phase": lambda o: OneCycleLR(
        o,
        max_lr=0.2,
        total_steps=20,
        pct_start=0.25,
        anneal_strategy="linear",
        div_factor=10.0,
        final_div_factor=100.0,
        three_phase=True,
    ),
    "plateau_min": lambda o: ReduceLROnPlateau(o, mode="min", factor=0.5, patience=1, cooldown=1),
    "plateau_max": lambda o: ReduceLROnPlateau(
        o, mode="max", factor=0.1, patience=2, threshold=0.05, threshold_mode="abs", min_lr=2e-4
    ),
}


def make_optimizer(lr: float = 0.1) -> SGD:
    return SGD([Parameter(np.zeros(2))], lr=lr)


def learning_rates(schedule, steps: int, metrics=None) -> list[float]:
    rates = []
    for step in range(steps):
        rates.append(schedule.optimizer.lr)
        if metrics is None:
            schedule.step()
        else:
            schedule.step(metrics[step])
    return rates


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_learning_rates_match_torch(name):
    expected = FIXTURE[name]
    metrics = FIXTURE.get(f"{name}_metrics")
    schedule = CONFIGS[name](make_optimizer())
    np.testing.assert_allclose(
        learning_rates(schedule, len(expected), metrics), expected, rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_resuming_from_a_state_dict_continues_the_same_rates(name):
    expected = FIXTURE[name]
    metrics = FIXTURE.get(f"{name}_metrics")
    first = CONFIGS[name](make_optimizer())
    before = learning_rates(first, 7, metrics)
    state = first.state_dict()
    resumed = CONFIGS[name](make_optimizer())
    resumed.load_state_dict(state)
    rest = learning_rates(resumed, len(expected) - 7, None if metrics is None else metrics[7:])
    np.testing.assert_allclose(before + rest, expected, rtol=1e-12, atol=1e-15)


def test_schedules_drive_lookahead_and_accept_device_metrics():
    optimizer = Lookahead(make_optimizer(0.2))
    schedule = StepLR(optimizer, step_size=1, gamma=0.5)
    schedule.step()
    assert optimizer.lr == optimizer.optimizer.lr == pytest.approx(0.1)
    plateau = ReduceLROnPlateau(make_optimizer(), patience=0)
    plateau.step(to_device(np.array(1.0)))
    plateau.step(to_device(np.array(2.0)))
    assert plateau.lr == pytest.approx(0.01)


def test_intervals_say_when_to_step():
    assert CosineWithWarmup.interval == "batch" and OneCycleLR.interval == "batch"
    assert ReduceLROnPlateau.interval == "epoch"
    with pytest.raises(ConfigError, match="metric"):
        ReduceLROnPlateau(make_optimizer()).step()


def test_cosine_and_onecycle_hold_their_last_rate_past_the_end():
    cosine = CosineWithWarmup(make_optimizer(), total_steps=10, warmup_steps=2, min_lr=0.01)
    assert cosine.lr_at(10) == cosine.lr_at(25) == pytest.approx(0.01)
    one_cycle = OneCycleLR(make_optimizer(), max_lr=0.1, total_steps=10)
    assert one_cycle.lr_at(30) == one_cycle.lr_at(9)


def test_factory_turns_epochs_into_steps():
    def build(name, **options):
        return get_schedule(name, make_optimizer(), epochs=6, steps_per_epoch=4, **options)

    step = build("step", step_epochs=2, gamma=0.5)
    assert isinstance(step, StepLR) and step.step_size == 8
    multi = build("multistep", milestones=[2, 4])
    assert multi.milestones == [8, 16]
    exponential = build("exponential", gamma=0.5)
    assert exponential.lr_at(4) == pytest.approx(0.05)  # one epoch later: halved
    cosine = build("cosine", warmup_epochs=1, min_lr=0.001)
    assert (cosine.total_steps, cosine.warmup_steps) == (24, 4)
    assert build("one-cycle").total_steps == 24
    assert isinstance(build("plateau", patience=3), ReduceLROnPlateau)
    assert isinstance(build("constant"), ConstantLR)
    assert len(SCHEDULES) == 7
    with pytest.raises(ConfigError, match="unknown schedule"):
        build("warm-restarts")
    with pytest.raises(ConfigError, match="bad option"):
        build("step", momentum=0.9)


@pytest.mark.parametrize("epochs,milestones", [(1, []), (2, [4]), (3, [4, 8]), (8, [16, 24])])
def test_default_milestones_fall_on_distinct_epochs_after_the_start(epochs, milestones):
    # Half and three quarters of a 1-epoch run are both epoch 0, of a 2-epoch run both
    # epoch 1: the rate used to start at base * gamma**2, or drop by gamma**2 at once.
    multi = get_schedule("multistep", make_optimizer(), epochs=epochs, steps_per_epoch=4)
    assert multi.milestones == milestones
    assert multi.lr_at(0) == pytest.approx(0.1)


def test_state_of_another_schedule_is_refused():
    state = StepLR(make_optimizer(), step_size=2).state_dict()
    with pytest.raises(CheckpointError, match="StepLR"):
        ExponentialLR(make_optimizer(), gamma=0.9).load_state_dict(state)
