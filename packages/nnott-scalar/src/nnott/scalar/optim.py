"""Stochastic gradient descent with momentum, one float at a time.

The update is PyTorch's form of momentum (the same as the vectorized tier's):

    v ← momentum · v + g          (v starts at zero, so the first step has v = g)
    w ← w - lr · v

With ``momentum = 0`` this is plain gradient descent, ``w ← w - lr · g``. The velocity ``v``
remembers the recent direction of travel, which smooths the noise of small mini-batches.
"""

from __future__ import annotations

from nnott.errors import ConfigError
from nnott.scalar.network import Gradients, Network

__all__ = ["SGD"]


class SGD:
    """Updates a :class:`~nnott.scalar.network.Network`'s weights and biases in place."""

    def __init__(self, network: Network, lr: float, momentum: float = 0.0) -> None:
        if not lr > 0.0:
            raise ConfigError(f"the learning rate must be positive, not {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), not {momentum}")
        self.network = network
        self.lr = float(lr)
        self.momentum = float(momentum)
        zeros = Gradients.zeros(network.layer_sizes)
        self.velocity = zeros
        """One velocity per parameter, shaped like :class:`Gradients`."""
        self.steps = 0

    def step(self, grads: Gradients) -> None:
        """Apply one update from ``grads`` (the batch-mean gradients)."""
        lr, momentum = self.lr, self.momentum
        for index, layer in enumerate(self.network.layers):
            weight_velocity = self.velocity.weights[index]
            bias_velocity = self.velocity.biases[index]
            for j, neuron in enumerate(layer.neurons):
                weights, grad_row, velocity_row = (
                    neuron.weights,
                    grads.weights[index][j],
                    weight_velocity[j],
                )
                for i in range(len(weights)):
                    velocity_row[i] = momentum * velocity_row[i] + grad_row[i]
                    weights[i] -= lr * velocity_row[i]
                bias_velocity[j] = momentum * bias_velocity[j] + grads.biases[index][j]
                neuron.bias -= lr * bias_velocity[j]
        self.steps += 1

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g}, momentum={self.momentum:g})"
