"""The one registry of CNN architectures: the CLI, the docs and the tests enumerate it.

Each architecture is a builder function registered with :func:`register`::

    @register(
        "lenet",
        description="LeNet-5 (LeCun et al., 1998): two 5x5 convolutions, three dense layers",
        adaptations={28: "...", 32: "..."},
        reference=Reference(input_shape=(1, 32, 32), num_classes=10, parameters=61_706),
        defaults=RunDefaults(epochs=10, lr=1e-3, optimizer="adam"),
    )
    def lenet(num_classes=10, in_channels=1, width=1.0, input_size=28): ...

Every builder takes the same four arguments, ``num_classes``, ``in_channels``, ``width``
(a multiplier on every hidden channel and unit count, so that the big networks fit on a
laptop CPU) and ``input_size`` (the height and width of the square input), and returns a
:class:`~nnott.cnn.architectures.network.Network`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnott.cnn.architectures.network import SMALL_INPUT_LIMIT
from nnott.errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "Reference",
    "RunDefaults",
    "get_architecture",
    "list_architectures",
    "check_build_arguments",
    "register",
]


@dataclass(frozen=True)
class Reference:
    """The configuration an architecture's published parameter count refers to."""

    input_shape: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    parameters: int | None = None  # the published count; None for nnott's own designs
    source: str = ""  # where the count comes from


@dataclass(frozen=True)
class RunDefaults:
    """The command line's defaults for one architecture (what trains well in reasonable time)."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its builder, what it is, and how it was adapted."""

    name: str
    builder: Callable[..., Any]
    description: str
    adaptations: dict[str, str]
    reference: Reference
    defaults: RunDefaults = field(default_factory=RunDefaults)

    def build(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: float = 1.0,
        input_size: int = 28,
    ) -> Any:
        """Build the network (the builder checks its arguments: :class:`ConfigError`)."""
        return self.builder(
            num_classes=num_classes, in_channels=in_channels, width=width, input_size=input_size
        )

    def adaptation_for(self, input_size: int) -> str:
        """The note on how this architecture treats a ``input_size`` x ``input_size`` input."""
        return self.adaptations["small" if input_size < SMALL_INPUT_LIMIT else "reference"]


ARCHITECTURES: dict[str, Architecture] = {}
"""Every registered architecture by name, in registration order."""


def check_build_arguments(
    num_classes: int, in_channels: int, width: float, input_size: int
) -> None:
    """Refuse builder arguments that cannot make a network (one clear line each)."""
    for what, value in (
        ("num_classes", num_classes),
        ("in_channels", in_channels),
        ("input_size", input_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{what} must be a positive whole number, not {value!r}")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0.0 < width <= 16.0:
        raise ConfigError(f"width must be a number in (0, 16], not {width!r}")


def register(
    name: str,
    *,
    description: str,
    adaptations: dict[str, str],
    reference: Reference,
    defaults: RunDefaults | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated builder under ``name``.

    Returns the builder wrapped so that it checks its arguments first
    (:func:`check_build_arguments`) whether it is called directly or through the registry.

    ``adaptations`` has two notes: ``"small"`` (28x28 and 32x32 inputs) and
    ``"reference"`` (the published design, used from 64x64 up).
    """
    if set(adaptations) != {"small", "reference"}:
        raise ValueError(f"{name}: adaptations need exactly the keys 'small' and 'reference'")

    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is registered twice")

        @functools.wraps(builder)
        def checked(
            num_classes: int = 10, in_channels: int = 1, width: float = 1.0, input_size: int = 28
        ) -> Any:
            check_build_arguments(num_classes, in_channels, width, input_size)
            return builder(
                num_classes=num_classes,
                in_channels=in_channels,
                width=width,
                input_size=input_size,
            )

        ARCHITECTURES[name] = Architecture(
            name, checked, description, dict(adaptations), reference, defaults or RunDefaults()
        )
        return checked

    return decorate


def get_architecture(name: str) -> Architecture:
    """The registered architecture ``name``; :class:`ConfigError` listing the known ones."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(ARCHITECTURES)
        raise ConfigError(f"unknown architecture {name!r}; choose one of {known}") from None


def list_architectures() -> list[Architecture]:
    """Every registered architecture in registration order: baseline, then by year."""
    return list(ARCHITECTURES.values())
