"""A multilayer perceptron of any depth, as a list of :class:`~nnott.scalar.layer.Layer`.

Conventions (shared with the vectorized tier, which a test holds to the same numbers):

- ``layer_sizes = [inputs, hidden..., classes]``; layer ``l`` maps ``layer_sizes[l]`` values
  to ``layer_sizes[l + 1]`` and stores ``weights[j][i]`` (``[out][in]``) and ``biases[j]``.
- The last layer's outputs are the logits. The loss of a batch is the **mean** over its
  samples of the softmax cross-entropy (natural log), and the gradients are those of that
  mean: each sample's gradients are summed, then the sum is divided by the batch size.
- Initial weights: see :mod:`nnott.scalar.initialization` (He or Xavier normal, drawn layer
  by layer from ``nnott.backend.rng()``; biases zero).
- Dropout (training only) follows every hidden layer's activation, never the output layer:
  see :mod:`nnott.scalar.dropout`.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from nnott.backend import rng as backend_rng
from nnott.errors import ConfigError
from nnott.scalar.activations import Activation, get_activation
from nnott.scalar.dropout import check_dropout_rate, dropout_scales
from nnott.scalar.initialization import initial_weights
from nnott.scalar.layer import Layer
from nnott.scalar.losses import (
    cross_entropy,
    soft_cross_entropy,
    soft_cross_entropy_gradient,
    softmax,
    softmax_cross_entropy_gradient,
)

if TYPE_CHECKING:  # only for type hints: the draws arrive as Python floats
    import numpy

__all__ = ["BatchStats", "Gradients", "LayerRecord", "Network", "SampleRecord", "SampleTracer"]


@dataclasses.dataclass
class Gradients:
    """Gradients shaped like the network's parameters.

    ``weights[l][j][i]`` is ``dL/dw`` of layer ``l``'s weight from input ``i`` to neuron
    ``j``; ``biases[l][j]`` is ``dL/db`` of that neuron's bias.
    """

    weights: list[list[list[float]]]
    biases: list[list[float]]

    @classmethod
    def zeros(cls, layer_sizes: Sequence[int]) -> Gradients:
        """All-zero gradients for a network with these layer sizes."""
        pairs = list(itertools.pairwise(layer_sizes))
        return cls(
            weights=[[[0.0] * fan_in for _ in range(fan_out)] for fan_in, fan_out in pairs],
            biases=[[0.0] * fan_out for _, fan_out in pairs],
        )

    def scale(self, factor: float) -> None:
        """Multiply every gradient by ``factor`` in place (``1 / batch_size`` for the mean)."""
        for layer_weights, layer_biases in zip(self.weights, self.biases, strict=True):
            for row in layer_weights:
                for i in range(len(row)):
                    row[i] *= factor
            for j in range(len(layer_biases)):
                layer_biases[j] *= factor


@dataclasses.dataclass
class LayerRecord:
    """Everything one layer saw and computed for one sample (the tracer prints these)."""

    inputs: list[float]
    sums: list[float]
    activations: list[float]
    outputs: list[float]
    """What the next layer reads: the activations, after dropout when it applies."""
    dropout_scales: list[float] | None = None
    grad_outputs: list[float] | None = None
    """``dL/d(outputs)``, what the layer above sent back (for the last layer: dL/dlogits)."""
    grad_activations: list[float] | None = None
    """``dL/da``: ``grad_outputs`` times the dropout scales (the same list without dropout)."""
    grad_sums: list[float] | None = None
    """``dL/dz`` of this sample. The three ``grad_*`` fields are filled in by the backward
    pass."""


@dataclasses.dataclass
class SampleRecord:
    """One sample's whole forward and backward pass."""

    index: int
    label: int
    layers: list[LayerRecord]
    probabilities: list[float]
    loss: float
    grad_logits: list[float]
    batch_size: int

    @property
    def logits(self) -> list[float]:
        return self.layers[-1].outputs


class SampleTracer(Protocol):
    """What :meth:`Network.accumulate_gradients` needs from a tracer."""

    def wants_more(self) -> bool: ...

    def trace_sample(self, network: Network, record: SampleRecord) -> None: ...


@dataclasses.dataclass
class BatchStats:
    """Sums over a batch's samples: cross-entropy and the number classified correctly."""

    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0


class Network:
    """A fully connected network of any depth, computed one float at a time.

    >>> net = Network([4, 5, 3], ["relu"])            # 4 inputs, 5 ReLU neurons, 3 classes
    >>> logits = net.forward([0.1, 0.2, 0.3, 0.4])     # three floats
    >>> loss, grads = net.loss_and_gradients([[0.1, 0.2, 0.3, 0.4]], [2])
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activations: Sequence[str | Activation] | None = None,
        *,
        hidden_dropout: float = 0.0,
        rng: numpy.random.Generator | None = None,
    ) -> None:
        """Build the network and draw its initial weights.

        ``activations`` names one activation per hidden layer (``len(layer_sizes) - 2``
        entries; the output layer is then ``identity``), or one per layer
        (``len(layer_sizes) - 1`` entries, the last for the output layer). It defaults to
        ReLU for every hidden layer. ``rng`` (default ``nnott.backend.rng()``) draws the
        initial weights and the dropout masks.
        """
        sizes = [int(size) for size in layer_sizes]
        if len(sizes) < 2 or any(size < 1 for size in sizes):
            raise ConfigError(
                f"layer sizes must be at least two positive integers (inputs, ..., classes), "
                f"not {list(layer_sizes)}"
            )
        chosen = _per_layer_activations(len(sizes) - 1, activations)
        self.layer_sizes = sizes
        self.hidden_dropout = check_dropout_rate(hidden_dropout)
        self._rng = rng
        weights = initial_weights(sizes, chosen, self.rng)
        self.layers = [
            Layer(layer_weights, None, activation)
            for layer_weights, activation in zip(weights, chosen, strict=True)
        ]

    # -- structure ---------------------------------------------------------------------
    @property
    def rng(self) -> numpy.random.Generator:
        """The generator for weights and dropout (``nnott.backend.rng()`` unless given)."""
        return self._rng if self._rng is not None else backend_rng()

    @rng.setter
    def rng(self, generator: numpy.random.Generator | None) -> None:
        """Use ``generator`` for dropout from now on (None: ``nnott.backend.rng()`` again)."""
        self._rng = generator

    @property
    def activations(self) -> list[Activation]:
        """Each layer's activation, output layer last."""
        return [layer.activation for layer in self.layers]

    @property
    def num_classes(self) -> int:
        return self.layer_sizes[-1]

    @property
    def num_parameters(self) -> int:
        """How many weights and biases there are."""
        return sum(layer.num_outputs * (layer.num_inputs + 1) for layer in self.layers)

    def get_weights(self) -> list[list[list[float]]]:
        """A copy of every layer's weights, ``[layer][out][in]``."""
        return [[list(row) for row in layer.weights] for layer in self.layers]

    def get_biases(self) -> list[list[float]]:
        """A copy of every layer's biases, ``[layer][out]``."""
        return [layer.biases for layer in self.layers]

    def set_weights(
        self, weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]
    ) -> None:
        """Overwrite all parameters from nested lists shaped like :meth:`get_weights` and
        :meth:`get_biases` (anything indexable works; values are converted with ``float``)."""
        if len(weights) != len(self.layers) or len(biases) != len(self.layers):
            raise ConfigError(
                f"expected {len(self.layers)} layers of weights and biases, "
                f"got {len(weights)} and {len(biases)}"
            )
        for layer, layer_weights, layer_biases in zip(self.layers, weights, biases, strict=True):
            layer.set_parameters(
                [[float(w) for w in row] for row in layer_weights],
                [float(b) for b in layer_biases],
            )

    # -- forward -------------------------------------------------------------------------
    def forward(self, inputs: Sequence[float]) -> list[float]:
        """The logits for one sample, in inference mode (no dropout)."""
        return self.forward_sample(inputs, training=False)[-1].outputs

    def predict(self, inputs: Sequence[float]) -> int:
        """The most likely class for one sample (the index of the largest logit)."""
        logits = self.forward(inputs)
        return max(range(len(logits)), key=logits.__getitem__)

    def forward_sample(self, inputs: Sequence[float], training: bool = False) -> list[LayerRecord]:
        """Run one sample through every layer and keep what the backward pass needs.

        With ``training`` and a non-zero ``hidden_dropout``, each hidden layer's
        activations are multiplied by a freshly drawn dropout mask.
        """
        if len(inputs) != self.layer_sizes[0]:
            raise ConfigError(f"expected {self.layer_sizes[0]} inputs, got {len(inputs)}")
        records: list[LayerRecord] = []
        values = [float(x) for x in inputs]
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            sums, activations = layer.forward(values)
            record = LayerRecord(values, sums, activations, activations)
            if training and self.hidden_dropout > 0.0 and index < last:
                scales = dropout_scales(self.rng, layer.num_outputs, self.hidden_dropout)
                record.dropout_scales = scales
                record.outputs = [a * s for a, s in zip(activations, scales, strict=True)]
            records.append(record)
            values = record.outputs
        return records

    # -- backward ------------------------------------------------------------------------
    def backward_sample(
        self, records: list[LayerRecord], grad_logits: list[float], grads: Gradients
    ) -> None:
        """Back-propagate one sample from ``dL/dlogits``, adding its gradients into ``grads``.

        Walks the layers from the output back to the input. Each layer turns ``dL/da`` into
        ``dL/dz``, its parameter gradients and ``dL/dx``; ``dL/dx`` of layer ``l`` is
        ``dL/d(outputs)`` of layer ``l - 1``, which dropout scales back into ``dL/da``.
        """
        grad_outputs = grad_logits
        for index in range(len(self.layers) - 1, -1, -1):
            layer, record = self.layers[index], records[index]
            grad_activations = grad_outputs
            if record.dropout_scales is not None:
                # outputs = a·s, so dL/da = dL/d(outputs)·s (dropped neurons get no gradient).
                grad_activations = [
                    g * s for g, s in zip(grad_outputs, record.dropout_scales, strict=True)
                ]
            grad_sums, grad_inputs = layer.backward(
                record.inputs,
                record.sums,
                record.activations,
                grad_activations,
                grads.weights[index],
                grads.biases[index],
                need_input_gradient=index > 0,
            )
            record.grad_outputs = grad_outputs
            record.grad_activations = grad_activations
            record.grad_sums = grad_sums
            if grad_inputs is not None:
                grad_outputs = grad_inputs

    def accumulate_gradients(
        self,
        batch_inputs: Sequence[Sequence[float]],
        batch_labels: Sequence[int | Sequence[float]],
        grads: Gradients,
        *,
        training: bool = True,
        tracer: SampleTracer | None = None,
    ) -> BatchStats:
        """Add every sample's gradients into ``grads`` (a **sum**, not yet a mean).

        Each target is a class index or, after mixup or cutmix, a list of class
        probabilities (then a prediction counts as correct when it picks the target's most
        probable class). Returns the batch's summed loss and number of correct predictions.
        A ``tracer`` that still wants samples is shown each sample's complete record.
        """
        if len(batch_inputs) != len(batch_labels):
            raise ConfigError(f"{len(batch_inputs)} inputs but {len(batch_labels)} labels")
        stats = BatchStats()
        for index, (inputs, target) in enumerate(zip(batch_inputs, batch_labels, strict=True)):
            records = self.forward_sample(inputs, training=training)
            logits = records[-1].outputs
            probabilities = softmax(logits)
            if isinstance(target, Sequence):  # a target distribution (mixup, cutmix)
                if tracer is not None and tracer.wants_more():
                    raise ConfigError("the tracer explains hard labels, not mixed targets")
                label = max(range(len(target)), key=target.__getitem__)  # for accuracy
                loss = soft_cross_entropy(logits, target)
                grad_logits = soft_cross_entropy_gradient(probabilities, target)
            else:
                label = int(target)
                loss = cross_entropy(logits, label)
                grad_logits = softmax_cross_entropy_gradient(probabilities, label)
            self.backward_sample(records, grad_logits, grads)
            stats.loss_sum += loss
            stats.count += 1
            if max(range(len(logits)), key=logits.__getitem__) == label:
                stats.correct += 1
            if tracer is not None and tracer.wants_more():
                tracer.trace_sample(
                    self,
                    SampleRecord(
                        index, label, records, probabilities, loss, grad_logits, len(batch_inputs)
                    ),
                )
        return stats

    def loss_and_gradients(
        self,
        batch_inputs: Sequence[Sequence[float]],
        batch_labels: Sequence[int],
        *,
        training: bool = True,
        tracer: SampleTracer | None = None,
    ) -> tuple[float, Gradients]:
        """The batch's mean cross-entropy and the gradients of that mean.

        Each sample's gradients are summed, then the sum is divided by the batch size.
        Dropout applies when ``training`` is true and ``hidden_dropout`` is non-zero.
        """
        if not batch_inputs:
            raise ConfigError("a batch needs at least one sample")
        grads = Gradients.zeros(self.layer_sizes)
        stats = self.accumulate_gradients(
            batch_inputs, batch_labels, grads, training=training, tracer=tracer
        )
        grads.scale(1.0 / stats.count)
        return stats.loss_sum / stats.count, grads

    def loss(self, batch_inputs: Sequence[Sequence[float]], batch_labels: Sequence[int]) -> float:
        """The mean cross-entropy of a batch in inference mode (no dropout, no gradients)."""
        if not batch_inputs:
            raise ConfigError("a batch needs at least one sample")
        total = 0.0
        for inputs, label in zip(batch_inputs, batch_labels, strict=True):
            total += cross_entropy(self.forward(inputs), int(label))
        return total / len(batch_inputs)

    def __repr__(self) -> str:
        shape = "-".join(str(size) for size in self.layer_sizes)
        names = ",".join(activation.name for activation in self.activations)
        return f"Network({shape}, activations={names}, hidden_dropout={self.hidden_dropout:g})"


def _per_layer_activations(
    num_layers: int, activations: Sequence[str | Activation] | None
) -> list[Activation]:
    """One activation per layer from the caller's hidden-only or per-layer list."""
    if activations is None:
        return [get_activation("relu") for _ in range(num_layers - 1)] + [
            get_activation("identity")
        ]
    if isinstance(activations, str):
        raise ConfigError("activations must be a list of names, e.g. ['relu', 'tanh']")
    chosen = [get_activation(spec) for spec in activations]
    if len(chosen) == num_layers - 1:
        return [*chosen, get_activation("identity")]
    if len(chosen) == num_layers:
        return chosen
    raise ConfigError(
        f"{num_layers - 1} hidden layers need {num_layers - 1} activations "
        f"(or {num_layers} including the output layer), got {len(chosen)}"
    )
