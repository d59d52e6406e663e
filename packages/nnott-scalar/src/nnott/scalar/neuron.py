"""One artificial neuron: a weighted sum of its inputs plus a bias, then an activation.

``z = b + Σ_i w_i·x_i`` and ``a = f(z)``. Everything is a Python float and every step is an
explicit loop, so the arithmetic reads exactly like the formula.
"""

from __future__ import annotations

from collections.abc import Sequence

from nnott.scalar.activations import Activation, get_activation

__all__ = ["Neuron"]


class Neuron:
    """A neuron with one weight per input, a bias and an activation.

    ``weights[i]`` multiplies input ``i``. The list is updated in place by the optimizer, so
    anyone holding a reference (such as :attr:`nnott.scalar.layer.Layer.weights`) sees the
    current values.
    """

    __slots__ = ("activation", "bias", "weights")

    def __init__(
        self, weights: Sequence[float], bias: float = 0.0, activation: str | Activation = "identity"
    ) -> None:
        self.weights: list[float] = [float(w) for w in weights]
        self.bias = float(bias)
        self.activation = get_activation(activation)

    @property
    def num_inputs(self) -> int:
        return len(self.weights)

    def weighted_sum(self, inputs: Sequence[float]) -> float:
        """``z = b + Σ_i w_i·x_i``, summed left to right."""
        z = self.bias
        for w, x in zip(self.weights, inputs, strict=True):
            z += w * x
        return z

    def forward(self, inputs: Sequence[float]) -> tuple[float, float]:
        """Return ``(z, a)``: the weighted sum and the activation of it."""
        z = self.weighted_sum(inputs)
        return z, self.activation.value(z)

    def __repr__(self) -> str:
        return f"Neuron({self.num_inputs} inputs, {self.activation.name})"
