"""Write the PyTorch reference values that the nnott-vectorized tests compare against.

Run it where torch is installed (``nox -s fixtures`` does):

    python packages/nnott-vectorized/scripts/make_torch_fixtures.py

It writes small ``.npz`` files of plain float64/int64 arrays into ``tests/fixtures``
(loaded with ``allow_pickle=False``): inputs, weights, outputs and gradients of every
module, a few steps of every optimizer on fixed gradients, and the learning rates of every
schedule. The tests never import torch. Every value is float64 so that the tests can demand
agreement to 1e-10 relative.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
torch.set_default_dtype(torch.float64)


def as_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def forward_backward(module: nn.Module, x: np.ndarray, grad_output: np.ndarray) -> dict:
    """Output, input gradient and parameter gradients of ``module`` for upstream ``grad_output``."""
    inputs = torch.tensor(x, requires_grad=True)
    module.zero_grad()
    y = module(inputs)
    y.backward(torch.tensor(grad_output))
    result = {"y": as_numpy(y), "dx": as_numpy(inputs.grad)}
    for name, parameter in module.named_parameters():
        result[f"d{name}"] = as_numpy(parameter.grad)
    return result


def layers(rng: np.random.Generator) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}

    # Linear
    linear = nn.Linear(5, 3)
    out["linear_weight"] = as_numpy(linear.weight)
    out["linear_bias"] = as_numpy(linear.bias)
    out["linear_x"] = rng.standard_normal((4, 5))
    out["linear_grad_output"] = rng.standard_normal((4, 3))
    for key, value in forward_backward(linear, out["linear_x"], out["linear_grad_output"]).items():
        out[f"linear_{key}"] = value

    # BatchNorm1d: one training pass with gradients, a second pass, then evaluation
    bn = nn.BatchNorm1d(4, momentum=0.2, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, 4)))
        bn.bias.copy_(torch.tensor(rng.standard_normal(4)))
    out["bn_weight"], out["bn_bias"] = as_numpy(bn.weight), as_numpy(bn.bias)
    out["bn_x"] = rng.standard_normal((6, 4)) * 2.0 + 1.0
    out["bn_grad_output"] = rng.standard_normal((6, 4))
    for key, value in forward_backward(bn, out["bn_x"], out["bn_grad_output"]).items():
        out[f"bn_train_{key}"] = value
    out["bn_x2"] = rng.standard_normal((5, 4)) - 0.5
    bn(torch.tensor(out["bn_x2"]))
    out["bn_running_mean"] = as_numpy(bn.running_mean)
    out["bn_running_var"] = as_numpy(bn.running_var)
    bn.eval()
    for key, value in forward_backward(bn, out["bn_x"], out["bn_grad_output"]).items():
        out[f"bn_eval_{key}"] = value

    # A whole MLP (Flatten, Linear, BatchNorm1d, Tanh, Linear) with the loss on top
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 3)
    )
    for name, tensor in model.state_dict().items():
        if "num_batches_tracked" not in name:
            out[f"mlp_param_{name}"] = as_numpy(tensor)
    out["mlp_x"] = rng.standard_normal((4, 2, 3))
    out["mlp_labels"] = np.array([0, 2, 1, 2], dtype=np.int64)
    inputs = torch.tensor(out["mlp_x"], requires_grad=True)
    loss = nn.functional.cross_entropy(model(inputs), torch.tensor(out["mlp_labels"]))
    loss.backward()
    out["mlp_loss"] = as_numpy(loss)
    out["mlp_dx"] = as_numpy(inputs.grad)
    for name, parameter in model.named_parameters():
        out[f"mlp_grad_{name}"] = as_numpy(parameter.grad)
    return out


ACTIVATIONS = {
    "identity": nn.Identity(),
    "relu": nn.ReLU(),
    "leaky_relu": nn.LeakyReLU(0.01),
    "relu6": nn.ReLU6(),
    "sigmoid": nn.Sigmoid(),
    "tanh": nn.Tanh(),
    "gelu": nn.GELU(approximate="tanh"),
    "silu": nn.SiLU(),
    "hardsigmoid": nn.Hardsigmoid(),
    "hardswish": nn.Hardswish(),
}


def activations(rng: np.random.Generator) -> dict[str, np.ndarray]:
    # Random values plus every kink and a few large magnitudes.
    special = np.array([0.0, -3.0, 3.0, 6.0, -6.0, 30.0, -30.0, 1e-3, -1e-3])
    x = np.concatenate([special, rng.standard_normal(23) * 3.0]).reshape(4, 8)
    grad_output = rng.standard_normal(x.shape)
    out = {"x": x, "grad_output": grad_output}
    for name, module in ACTIVATIONS.items():
        result = forward_backward(module, x, grad_output)
        out[f"{name}_y"], out[f"{name}_dx"] = result["y"], result["dx"]
    return out


def losses(rng: np.random.Generator) -> dict[str, np.ndarray]:
    logits = rng.standard_normal((5, 4)) * 2.0
    labels = np.array([0, 3, 1, 1, 2], dtype=np.int64)
    soft = rng.uniform(0.0, 1.0, (5, 4))
    soft /= soft.sum(axis=1, keepdims=True)
    out = {"logits": logits, "labels": labels, "soft": soft, "large_logits": logits * 500.0}
    for smoothing in (0.0, 0.1):
        tag = f"s{int(smoothing * 100)}"
        for kind, targets in (("hard", torch.tensor(labels)), ("soft", torch.tensor(soft))):
            z = torch.tensor(logits, requires_grad=True)
            loss = nn.functional.cross_entropy(z, targets, label_smoothing=smoothing)
            loss.backward()
            out[f"{kind}_{tag}_loss"], out[f"{kind}_{tag}_grad"] = as_numpy(loss), as_numpy(z.grad)
    z = torch.tensor(out["large_logits"], requires_grad=True)
    loss = nn.functional.cross_entropy(z, torch.tensor(labels))
    loss.backward()
    out["large_loss"], out["large_grad"] = as_numpy(loss), as_numpy(z.grad)
    return out


STEPS = 7
OPTIMIZER_CONFIGS = {
    "sgd": (torch.optim.SGD, {"lr": 0.1}),
    "sgd_momentum": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    "sgd_nesterov_wd": (
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    "sgd_dampening": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.8, "dampening": 0.5}),
    "adam": (torch.optim.Adam, {"lr": 0.01}),
    "adam_wd": (torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    "adamw": (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.01}),
    "rmsprop_centered_momentum": (
        torch.optim.RMSprop,
        {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01},
    ),
}
LR_CHANGE_AT, LR_CHANGE_FACTOR = 4, 0.5  # at this step every run's lr is halved
LOOKAHEAD_K, LOOKAHEAD_ALPHA = 3, 0.5


def optimizers(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = [(3, 4), (4,)]
    out: dict[str, np.ndarray] = {}
    for index, shape in enumerate(shapes):
        out[f"param{index}"] = rng.standard_normal(shape)
        out[f"grads{index}"] = rng.standard_normal((STEPS, *shape))

    def run(factory, lookahead: bool = False) -> list[np.ndarray]:
        params = [torch.tensor(out[f"param{i}"], requires_grad=True) for i in range(len(shapes))]
        optimizer = factory(params)
        slow = [p.detach().clone() for p in params]
        trajectory = [[] for _ in params]
        for step in range(STEPS):
            if step == LR_CHANGE_AT:
                for group in optimizer.param_groups:
                    group["lr"] *= LR_CHANGE_FACTOR
            for i, p in enumerate(params):
                p.grad = torch.tensor(out[f"grads{i}"][step])
            optimizer.step()
            if lookahead and (step + 1) % LOOKAHEAD_K == 0:
                with torch.no_grad():
                    for p, s in zip(params, slow, strict=True):
                        s += LOOKAHEAD_ALPHA * (p - s)
                        p.copy_(s)
            for i, p in enumerate(params):
                trajectory[i].append(as_numpy(p))
        return [np.stack(t) for t in trajectory]

    for name, (cls, options) in OPTIMIZER_CONFIGS.items():
        for i, trajectory in enumerate(run(lambda p, c=cls, o=options: c(p, **o))):
            out[f"{name}_{i}"] = trajectory
    lookahead_inner = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)  # noqa: E731
    for i, trajectory in enumerate(run(lookahead_inner, lookahead=True)):
        out[f"lookahead_sgd_{i}"] = trajectory

    grads = [torch.tensor(out[f"grads{i}"][0]) for i in range(len(shapes))]
    for max_norm in (1.0, 100.0):
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        out[f"clip{int(max_norm)}_norm"] = as_numpy(total)
        for i, p in enumerate(params):
            out[f"clip{int(max_norm)}_grad{i}"] = as_numpy(p.grad)
    return out


def schedule_lrs(make, steps: int, base_lr: float = 0.1, metrics=None) -> np.ndarray:
    """The learning rate used at each of ``steps`` optimizer steps (PyTorch's order)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    schedule = make(optimizer)
    lrs = []
    for step in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step(metrics[step]) if metrics is not None else schedule.step()
    return np.array(lrs)


def schedules(rng: np.random.Generator) -> dict[str, np.ndarray]:
    S = torch.optim.lr_scheduler
    warmup, total, min_lr = 5, 20, 1e-3
    out = {
        "step": schedule_lrs(lambda o: S.StepLR(o, step_size=3, gamma=0.5), 12),
        "multistep": schedule_lrs(lambda o: S.MultiStepLR(o, [2, 5, 9], gamma=0.1), 12),
        "exponential": schedule_lrs(lambda o: S.ExponentialLR(o, gamma=0.9), 12),
        "cosine_warmup": schedule_lrs(
            lambda o: S.SequentialLR(
                o,
                [
                    S.LinearLR(o, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1),
                    S.CosineAnnealingLR(o, T_max=total - warmup, eta_min=min_lr),
                ],
                milestones=[warmup],
            ),
            total,
        ),
        "cosine_plain": schedule_lrs(lambda o: S.CosineAnnealingLR(o, T_max=total), total),
        "onecycle": schedule_lrs(
            lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=total, cycle_momentum=False), total
        ),
        "onecycle_linear_three_phase": schedule_lrs(
            lambda o: S.OneCycleLR(
                o,
                max_lr=0.2,
                total_steps=total,
                pct_start=0.25,
                anneal_strategy="linear",
                div_factor=10.0,
                final_div_factor=100.0,
                three_phase=True,
                cycle_momentum=False,
            ),
            total,
        ),
    }
    metrics_min = np.array([1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.85, 0.86, 0.87, 0.9, 0.88, 0.9])
    out["plateau_min_metrics"] = metrics_min
    out["plateau_min"] = schedule_lrs(
        lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=1, cooldown=1),
        len(metrics_min),
        metrics=metrics_min,
    )
    metrics_max = np.array([0.5, 0.6, 0.6, 0.6, 0.61, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7])
    out["plateau_max_metrics"] = metrics_max
    out["plateau_max"] = schedule_lrs(
        lambda o: S.ReduceLROnPlateau(
            o, mode="max", factor=0.1, patience=2, threshold=0.05, threshold_mode="abs", min_lr=2e-4
        ),
        len(metrics_max),
        metrics=metrics_max,
    )
    return out


def main() -> None:
    torch.manual_seed(0)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=UserWarning)  # the SequentialLR step(0) notice
    for name, make in (
        ("layers", layers),
        ("activations", activations),
        ("losses", losses),
        ("optim", optimizers),
        ("schedules", schedules),
    ):
        arrays = make(np.random.default_rng(sum(map(ord, name))))
        np.savez(FIXTURES / f"{name}.npz", **arrays)
        print(f"wrote {FIXTURES / name}.npz ({len(arrays)} arrays)")


if __name__ == "__main__":
    main()
