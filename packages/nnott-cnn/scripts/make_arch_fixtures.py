"""Write the PyTorch reference logits of every architecture (needs torch; nox -s fixtures).

For each case (an architecture at a small width and a 28x28 or 32x32 input) this script

1. builds the nnott network and gives every parameter and buffer random values (batch
   norm's running statistics and scales too, and ConvNeXt's layer scales, so that no part
   of the network is a near-identity that would hide a mistake);
2. builds the same network in PyTorch, layer by layer from the nnott network's structure,
   with the residual blocks written out in ``make_layer_fixtures.py``, and loads the very
   same numbers (state-dict names are the same in both);
3. runs a random batch through the PyTorch network in float64, in evaluation mode, and
   stores the input, every parameter and buffer (float32, nnott names) and the logits.

``tests/test_architectures_torch.py`` rebuilds each nnott network from the stored
configuration, loads the stored weights and compares its float32 logits, without torch.

It also counts, with PyTorch's ``FlopCounterMode``, the FLOPs of one image through each
case's network and through each architecture at its published reference input (2 per
multiply-add of every convolution and matrix product, as the summary table counts them),
and writes them to ``tests/fixtures/arch_flops.json``, which ``tests/test_summary.py``
compares with the summary's own count: the FLOPs that ``nnott-cnn summary`` prints are
PyTorch's.

Run from the package directory::

    python scripts/make_arch_fixtures.py          # writes tests/fixtures/arch_<name>.npz
    python scripts/make_arch_fixtures.py --flops  # only tests/fixtures/arch_flops.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_layer_fixtures import (
    TorchBasicBlock,
    TorchConvNeXtBlock,
    TorchGlobalAvgPool,
    TorchLayerNorm2D,
    TorchMBConv,
)

import nnott.cnn.layers as layers
from nnott.backend import seed, to_cpu
from nnott.cnn.architectures import Network, build, list_architectures

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SEED = 20260102
BATCH = 3

CASES: dict[str, dict[str, object]] = {
    "baseline": {"width": 0.25, "in_channels": 1, "input_size": 28},
    "lenet": {"width": 1.0, "in_channels": 1, "input_size": 28},
    "lenet_rgb32": {"arch": "lenet", "width": 0.5, "in_channels": 3, "input_size": 32},
    "alexnet": {"width": 0.03125, "in_channels": 1, "input_size": 28},
    "vgg16": {"width": 0.03125, "in_channels": 1, "input_size": 28},
    "resnet18": {"width": 0.0625, "in_channels": 1, "input_size": 28},
    "resnet18_rgb32": {"arch": "resnet18", "width": 0.0625, "in_channels": 3, "input_size": 32},
    "efficientnet_lite0": {"width": 0.125, "in_channels": 1, "input_size": 28},
    "convnext_tiny": {"width": 0.0625, "in_channels": 1, "input_size": 28},
}

ACTIVATIONS = {
    "ReLU": nn.ReLU,
    "ReLU6": nn.ReLU6,
    "SiLU": nn.SiLU,
    "Identity": nn.Identity,
}


def translate(module: layers.Module) -> nn.Module:
    """The PyTorch module that computes what the nnott ``module`` computes."""
    if isinstance(module, Network):
        return nn.Sequential(OrderedDict((n, translate(m)) for n, m in module.stages()))
    if isinstance(module, layers.Sequential):
        return nn.Sequential(*(translate(m) for m in module))
    if isinstance(module, layers.BasicBlock):
        return TorchBasicBlock(
            module.conv1.in_channels, module.conv1.out_channels, module.conv1.stride
        )
    if isinstance(module, layers.MBConv):
        hidden = module.dw_conv.in_channels
        return TorchMBConv(
            module.in_channels,
            module.out_channels,
            hidden // module.in_channels,
            module.dw_conv.kernel_size[0],
            module.stride,
            type(module.dw_act).__name__.lower(),
        )
    if isinstance(module, layers.ConvNeXtBlock):
        return TorchConvNeXtBlock(module.dim, 1e-6)
    if isinstance(module, layers.Conv2D):
        return nn.Conv2d(
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            module.stride,
            module.padding,
            groups=module.groups,
            bias=module.bias is not None,
        )
    if isinstance(module, layers.Linear):
        return nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    if isinstance(module, layers.BatchNorm2D):
        return nn.BatchNorm2d(module.num_features, module.eps, module.momentum)
    if isinstance(module, layers.LayerNorm2D):
        return TorchLayerNorm2D(module.num_features, module.eps)
    if isinstance(module, layers.MaxPool2D):
        return nn.MaxPool2d(module.kernel_size, module.stride, module.padding)
    if isinstance(module, layers.GlobalAvgPool2D):
        return nn.AdaptiveAvgPool2d(1) if module.keepdims else TorchGlobalAvgPool()
    if isinstance(module, layers.Flatten):
        return nn.Flatten()
    if isinstance(module, layers.Dropout):
        return nn.Dropout(module.p)
    return ACTIVATIONS[type(module).__name__]()


def randomize(model: Network, generator: np.random.Generator) -> dict[str, np.ndarray]:
    """Random float32 values for every parameter and buffer, by nnott name."""
    state = {}
    for name, array in model.state_dict().items():
        shape = tuple(array.shape)
        if name.endswith("running_var"):
            value = generator.uniform(0.5, 2.0, shape)
        elif name.endswith("gamma") or (array.ndim == 1 and name.endswith("weight")):
            value = generator.uniform(0.5, 1.5, shape)  # norm scales and layer scales
        elif array.ndim == 1:
            value = generator.normal(0.0, 0.1, shape)  # biases, shifts, running means
        else:
            value = to_cpu(array)  # the builders' own He-scaled initial weights
        state[name] = np.asarray(value, dtype=np.float32)
    return state


def make_case(case: str, spec: dict[str, object], generator: np.random.Generator) -> dict:
    arch = str(spec.get("arch", case))
    options = {k: v for k, v in spec.items() if k != "arch"}
    options["num_classes"] = 10
    seed(SEED)
    model = build(arch, **options)
    state = randomize(model, generator)
    reference = translate(model).double().eval()
    torch_names = {n for n in reference.state_dict() if not n.endswith("num_batches_tracked")}
    if torch_names != set(state):
        raise RuntimeError(f"{case}: names differ: {sorted(torch_names ^ set(state))[:6]}")
    reference.load_state_dict(
        {n: torch.from_numpy(v.astype(np.float64)) for n, v in state.items()}, strict=False
    )
    channels, size = int(options["in_channels"]), int(options["input_size"])
    x = generator.standard_normal((BATCH, channels, size, size)).astype(np.float32)
    with torch.no_grad():
        logits = reference(torch.from_numpy(x.astype(np.float64))).numpy()
    config = {"arch": arch, **options}
    arrays = {"config": np.array(json.dumps(config)), "x": x, "logits": logits}
    arrays.update({f"state::{name}": value for name, value in state.items()})
    return arrays


def torch_flops(config: dict[str, object]) -> int:
    """PyTorch's count of the FLOPs of one image through the network ``config`` builds.

    The translated network runs on the ``meta`` device: shapes only, no arithmetic, so
    VGG16 at 224x224 costs nothing.
    """
    options = {k: v for k, v in config.items() if k != "arch"}
    reference = translate(build(str(config["arch"]), **options)).to("meta").eval()
    channels, size = int(options["in_channels"]), int(options["input_size"])
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(torch.empty(1, channels, size, size, device="meta"))
    return int(counter.get_total_flops())


def flop_cases() -> dict[str, dict[str, object]]:
    """Every logits case, and every architecture at its published reference input."""
    cases = {
        case: {"arch": str(spec.get("arch", case)), **spec, "num_classes": 10}
        for case, spec in CASES.items()
    }
    for arch in list_architectures():
        channels, size, _ = arch.reference.input_shape
        cases[f"{arch.name}_reference"] = {
            "arch": arch.name,
            "num_classes": arch.reference.num_classes,
            "in_channels": channels,
            "input_size": size,
        }
    return cases


def write_flops() -> None:
    counts = {
        case: {"config": config, "flops": torch_flops(config)}
        for case, config in flop_cases().items()
    }
    path = FIXTURES / "arch_flops.json"
    path.write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(counts)} FLOP counts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--flops", action="store_true", help="only write arch_flops.json")
    args = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if not args.flops:
        torch.manual_seed(SEED)
        generator = np.random.default_rng(SEED)
        for case, spec in CASES.items():
            path = FIXTURES / f"arch_{case}.npz"
            np.savez_compressed(path, **make_case(case, spec, generator))
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    write_flops()


if __name__ == "__main__":
    main()
