"""A fully connected layer: a list of neurons that all read the same inputs.

Weight layout (shared with the vectorized tier): ``weights[j][i]`` is the weight from input
``i`` to neuron ``j`` (row ``j`` holds neuron ``j``'s incoming weights, shape ``[out][in]``,
like PyTorch's ``Linear.weight``), and ``biases[j]`` is neuron ``j``'s bias.

The backward pass is written out step by step so the chain rule stays visible:

1. through the activation: ``dL/dz_j = dL/da_j · f'(z_j)``
2. into the parameters:    ``dL/dw_ji += dL/dz_j · x_i`` and ``dL/db_j += dL/dz_j``
3. into the inputs:        ``dL/dx_i = Σ_j dL/dz_j · w_ji``
"""

from __future__ import annotations

from collections.abc import Sequence

from nnott.errors import ConfigError
from nnott.scalar.activations import Activation, get_activation
from nnott.scalar.neuron import Neuron

__all__ = ["Layer"]


class Layer:
    """``num_outputs`` neurons, each with ``num_inputs`` weights, sharing one activation."""

    def __init__(
        self,
        weights: Sequence[Sequence[float]],
        biases: Sequence[float] | None = None,
        activation: str | Activation = "identity",
    ) -> None:
        """Build a layer from its weights ``[out][in]`` and biases ``[out]`` (zero if omitted)."""
        if not weights or not weights[0]:
            raise ConfigError("a layer needs at least one neuron with at least one input")
        if any(len(row) != len(weights[0]) for row in weights):
            raise ConfigError("every row of a layer's weights must have the same length")
        if biases is None:
            biases = [0.0] * len(weights)
        if len(biases) != len(weights):
            raise ConfigError(f"{len(weights)} weight rows but {len(biases)} biases")
        self.activation = get_activation(activation)
        self.neurons = [
            Neuron(row, bias, self.activation) for row, bias in zip(weights, biases, strict=True)
        ]

    @property
    def num_inputs(self) -> int:
        return self.neurons[0].num_inputs

    @property
    def num_outputs(self) -> int:
        return len(self.neurons)

    @property
    def weights(self) -> list[list[float]]:
        """The live weight rows ``[out][in]`` (the neurons' own lists, not copies)."""
        return [neuron.weights for neuron in self.neurons]

    @property
    def biases(self) -> list[float]:
        """The biases ``[out]`` (a new list; set them with :meth:`set_parameters`)."""
        return [neuron.bias for neuron in self.neurons]

    def set_parameters(self, weights: Sequence[Sequence[float]], biases: Sequence[float]) -> None:
        """Overwrite every weight and bias in place, checking the shapes first."""
        if len(weights) != self.num_outputs or len(biases) != self.num_outputs:
            raise ConfigError(
                f"expected {self.num_outputs} weight rows and biases, "
                f"got {len(weights)} and {len(biases)}"
            )
        for neuron, row, bias in zip(self.neurons, weights, biases, strict=True):
            if len(row) != self.num_inputs:
                raise ConfigError(f"expected weight rows of {self.num_inputs}, got {len(row)}")
            neuron.weights[:] = [float(w) for w in row]
            neuron.bias = float(bias)

    def forward(self, inputs: Sequence[float]) -> tuple[list[float], list[float]]:
        """Return every neuron's weighted sum ``z`` and activation ``a``."""
        sums: list[float] = []
        outputs: list[float] = []
        for neuron in self.neurons:
            z, a = neuron.forward(inputs)
            sums.append(z)
            outputs.append(a)
        return sums, outputs

    def backward(
        self,
        inputs: Sequence[float],
        sums: Sequence[float],
        outputs: Sequence[float],
        grad_outputs: Sequence[float],
        grad_weights: list[list[float]],
        grad_biases: list[float],
        need_input_gradient: bool = True,
    ) -> tuple[list[float], list[float] | None]:
        """Back-propagate one sample through this layer.

        ``inputs``, ``sums`` and ``outputs`` are what :meth:`forward` saw and produced;
        ``grad_outputs[j]`` is ``dL/da_j``. The parameter gradients of this sample are
        **added** into ``grad_weights`` and ``grad_biases`` (a mini-batch sums them). Returns
        ``(dL/dz, dL/dx)``; ``dL/dx`` is None when ``need_input_gradient`` is False (the
        first layer's inputs are the data, which need no gradient).
        """
        activation = self.activation

        # Step 1, through the activation: dL/dz_j = dL/da_j · f'(z_j).
        grad_sums = [
            grad_outputs[j] * activation.derivative(sums[j], outputs[j])
            for j in range(self.num_outputs)
        ]

        # Step 2, into the parameters: z_j = b_j + Σ_i w_ji·x_i, so dz_j/dw_ji = x_i and
        # dz_j/db_j = 1.
        for j in range(self.num_outputs):
            grad_z = grad_sums[j]
            grad_biases[j] += grad_z
            grad_row = grad_weights[j]
            for i, x in enumerate(inputs):
                grad_row[i] += grad_z * x

        if not need_input_gradient:
            return grad_sums, None

        # Step 3, into the inputs: x_i feeds every neuron j through w_ji, so its gradient
        # collects a share from each: dL/dx_i = Σ_j dL/dz_j · w_ji.
        grad_inputs = [0.0] * self.num_inputs
        for j, neuron in enumerate(self.neurons):
            grad_z = grad_sums[j]
            for i, w in enumerate(neuron.weights):
                grad_inputs[i] += grad_z * w
        return grad_sums, grad_inputs

    def __repr__(self) -> str:
        return f"Layer({self.num_inputs} -> {self.num_outputs}, {self.activation.name})"
