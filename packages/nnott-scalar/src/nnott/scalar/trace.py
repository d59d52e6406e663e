"""Print a sample's whole forward and backward pass so every number can be checked by hand.

Pass a :class:`Tracer` to :meth:`Network.loss_and_gradients
<nnott.scalar.network.Network.loss_and_gradients>` (or to :func:`nnott.scalar.training.fit`,
or use ``--trace`` on the command line). It prints the first ``samples`` samples it is shown
and then falls silent. Three levels keep the output readable for any size of network:

1. ``summary``: one line per vector (inputs, weighted sums, activations, gradients), long
   vectors cut to their first few values. Fits a 784-input network on one screen.
2. ``neurons``: one block per neuron with its weighted sum written out term by term
   (``z = b + w·x + ...``) and its gradients, cut to the first few terms and neurons.
3. ``full``: level 2 with nothing cut; for tiny networks you check with pen and paper.

The numbers printed are the ones the network computed (the tracer only reads the
:class:`~nnott.scalar.network.SampleRecord`); products such as ``dL/dz·x`` are shown with
their factors so that each line is one step of the chain rule.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import TextIO

from nnott.errors import ConfigError
from nnott.scalar.layer import Layer
from nnott.scalar.network import LayerRecord, Network, SampleRecord

__all__ = ["FULL_TRACE_WARN_TERMS", "TRACE_LEVELS", "TRACE_WARN_CHARACTERS", "Tracer"]

TRACE_LEVELS: dict[int, str] = {1: "summary", 2: "neurons", 3: "full"}
"""Trace verbosity levels by number, with their names."""

TRACE_WARN_CHARACTERS = 1_000_000
"""A trace estimated above this many characters (some 12,000 lines of 80) gets a warning."""

FULL_TRACE_WARN_TERMS = 64
"""Level 3 writes each sum on one line; a layer wider than this gets a warning."""


class Tracer:
    """Prints the forward and backward pass of the first ``samples`` samples it is shown.

    ``level`` is 1, 2 or 3 (see the module docstring). ``digits`` is the number of
    significant digits printed; ``max_values``, ``max_terms`` and ``max_neurons`` cut long
    vectors, sums and layers at levels 1 and 2 (level 3 cuts nothing).
    """

    def __init__(
        self,
        samples: int = 1,
        level: int = 2,
        *,
        stream: TextIO | None = None,
        digits: int = 6,
        max_values: int = 8,
        max_terms: int = 4,
        max_neurons: int = 4,
    ) -> None:
        if level not in TRACE_LEVELS:
            raise ConfigError(f"the trace level must be 1, 2 or 3, not {level}")
        if samples < 0:
            raise ConfigError(f"the number of traced samples cannot be negative ({samples})")
        if digits < 1:
            raise ConfigError(f"the trace needs at least 1 significant digit, not {digits}")
        cuts = {"max_values": max_values, "max_terms": max_terms, "max_neurons": max_neurons}
        for option, limit in cuts.items():
            if limit < 1:
                raise ConfigError(f"the trace's {option} must be at least 1, not {limit}")
        self.samples = samples
        self.level = level
        self.stream = stream
        self.digits = digits
        self.full = level >= 3
        self.max_values = max_values
        self.max_terms = max_terms
        self.max_neurons = max_neurons
        self.traced = 0

    # -- how much it will print --------------------------------------------------------------
    def estimated_characters(self, layer_sizes: Sequence[int]) -> int:
        """Roughly how many characters one traced sample of this network prints.

        Counts the numbers the trace writes (after the cuts of levels 1 and 2), at about
        ``digits + 7`` characters each with their separators and labels, plus the headings.
        It is good to within a factor of about two, which is all :meth:`size_warning`
        needs, and costs nothing to compute (no trace is formatted).
        """
        pairs = list(itertools.pairwise(layer_sizes))
        numbers = 3 * self._shown(layer_sizes[-1], self.max_values) + 4  # softmax, loss
        for index, (fan_in, fan_out) in enumerate(pairs):
            numbers += self._shown(fan_in, self.max_values)  # the x line
            if self.level == 1:  # z, a, dL/da, dL/dz, dL/db and the largest dL/dw
                numbers += 5 * self._shown(fan_out, self.max_values) + 3
                continue
            fan_above = pairs[index + 1][1] if index + 1 < len(pairs) else 0
            terms = self._shown(fan_in, self.max_terms)
            # z = b + w·x... and a; dL/da = Σ dz·w...; f'(z); dL/dz; dL/db; dL/dw_j = dz·x...
            per_neuron = (2 * terms + 4) + (2 * self._shown(fan_above, self.max_terms) + 7)
            numbers += len(self._neuron_indices(fan_out)) * (per_neuron + 3 * terms)
        headings = 150 * (len(pairs) + 2)
        return numbers * (self.digits + 7) + headings

    def size_warning(self, layer_sizes: Sequence[int], samples: int | None = None) -> str | None:
        """A warning when tracing ``samples`` samples (default: ``self.samples``) of this
        network would flood a terminal, or None.

        Two things make a trace unreadable: its total size (over
        :data:`TRACE_WARN_CHARACTERS`), and at level 3 a sum so long that its one line
        fills a screen (a layer wider than :data:`FULL_TRACE_WARN_TERMS`). The warning
        says how big the trace will be and which option cuts it.
        """
        samples = self.samples if samples is None else samples
        if samples < 1:
            return None
        per_sample = self.estimated_characters(layer_sizes)
        widest = max(layer_sizes)  # the longest sum, vector or list of products
        long_lines = self.full and widest > FULL_TRACE_WARN_TERMS
        if not long_lines and samples * per_sample <= TRACE_WARN_CHARACTERS:
            return None
        shape = "-".join(str(size) for size in layer_sizes)
        text = (
            f"the trace of {samples:,} sample{'s' if samples > 1 else ''} of the {shape} "
            f"network will print about {_size(samples * per_sample)}"
        )
        if long_lines:
            return (
                f"{text}, with up to {widest:,} terms on one line; level 3 cuts nothing "
                f"(level 2 cuts each sum after {self.max_terms} terms and each layer after "
                f"{self.max_neurons} neurons)"
            )
        advice = "trace fewer samples"
        if self.level > 1:
            advice += ", or at level 1 (one line per vector)"
        return f"{text}; {advice}"

    # -- the protocol the network calls -----------------------------------------------------
    def wants_more(self) -> bool:
        """True until ``samples`` samples have been printed."""
        return self.traced < self.samples

    def trace_sample(self, network: Network, record: SampleRecord) -> None:
        """Print one sample's record (the network calls this after its backward pass)."""
        self.traced += 1
        lines = self.format_sample(network, record)
        print("\n".join(lines), file=self.stream if self.stream is not None else sys.stdout)

    # -- formatting ------------------------------------------------------------------------
    def format_sample(self, network: Network, record: SampleRecord) -> list[str]:
        """The lines printed for one sample."""
        mode = "training" if any(r.dropout_scales for r in record.layers) else "no dropout"
        lines = [
            f"=== trace {self.traced}: sample {record.index} of a batch of "
            f"{record.batch_size}, label {record.label} ({mode}, level "
            f"{self.level} {TRACE_LEVELS[self.level]}) ===",
            "forward: z_j = b_j + Σ_i w_ji·x_i, a_j = f(z_j)",
        ]
        last = len(network.layers) - 1
        for index, (layer, layer_record) in enumerate(
            zip(network.layers, record.layers, strict=True)
        ):
            lines.extend(self._forward_layer(index, layer, layer_record, index == last))
        lines.extend(self._loss(record))
        lines.append(
            "backward: the gradients of this sample's loss; the batch gradient is their "
            f"sum over the batch divided by {record.batch_size}"
        )
        lines.append(
            f"  dL/dlogit_k = p_k - [k == {record.label}] = {self._vector(record.grad_logits)}"
        )
        for index in range(last, -1, -1):
            above = network.layers[index + 1] if index < last else None
            above_record = record.layers[index + 1] if index < last else None
            lines.extend(
                self._backward_layer(
                    index, network.layers[index], record.layers[index], above, above_record
                )
            )
        return lines

    def _forward_layer(
        self, index: int, layer: Layer, record: LayerRecord, is_output: bool
    ) -> list[str]:
        name = layer.activation.name
        role = "  (outputs are the logits)" if is_output else ""
        lines = [
            f"  layer {index + 1}: {layer.num_inputs} -> {layer.num_outputs}, "
            f"f(z) = {name}(z) = {layer.activation.formula}{role}",
            f"    x = {self._vector(record.inputs)}",
        ]
        if self.level == 1:
            lines.append(f"    z = b + W·x = {self._vector(record.sums)}")
            lines.append(f"    a = {name}(z) = {self._vector(record.activations)}")
        else:
            for j in self._neuron_indices(layer.num_outputs):
                neuron = layer.neurons[j]
                products = [
                    f"{_factor(w, self.digits)}·{_factor(x, self.digits)}"
                    for w, x in zip(neuron.weights, record.inputs, strict=True)
                ]
                terms = [self._number(neuron.bias), *self._cut(products, self.max_terms)]
                lines.append(
                    f"    neuron {j}: z = {' + '.join(terms)} = {self._number(record.sums[j])}"
                )
                lines.append(
                    f"              a = {name}({self._number(record.sums[j])}) = "
                    f"{self._number(record.activations[j])}"
                )
            lines.extend(self._skipped_neurons(layer.num_outputs))
        if record.dropout_scales is not None:
            lines.append(f"    dropout scales s = {self._vector(record.dropout_scales)}")
            lines.append(f"    outputs a·s = {self._vector(record.outputs)}")
        return lines

    def _loss(self, record: SampleRecord) -> list[str]:
        p_label = record.probabilities[record.label]
        return [
            f"  softmax p_k = e^z_k / Σ_m e^z_m = {self._vector(record.probabilities)}",
            f"  loss L = -ln p_{record.label} = -ln {self._number(p_label)} = "
            f"{self._number(record.loss)}",
        ]

    def _backward_layer(
        self,
        index: int,
        layer: Layer,
        record: LayerRecord,
        above: Layer | None,
        above_record: LayerRecord | None,
    ) -> list[str]:
        name = layer.activation.name
        grad_outputs = _required(record.grad_outputs)
        grad_activations = _required(record.grad_activations)
        grad_sums = _required(record.grad_sums)
        dropout = record.dropout_scales is not None
        if above is None:
            lines = [f"  layer {index + 1} ({name}): dL/da = dL/dlogits"]
        else:
            target = "dL/d(a·s)" if dropout else "dL/da"
            lines = [
                f"  layer {index + 1} ({name}): {target}_j = Σ_k dL/dz_k·w_kj "
                f"over layer {index + 2}'s neurons k"
            ]
        if self.level == 1:
            if dropout:
                lines.append(f"    dL/d(a·s) = {self._vector(grad_outputs)}")
                lines.append(f"    dL/da = dL/d(a·s)·s = {self._vector(grad_activations)}")
            elif above is not None:
                lines.append(f"    dL/da = {self._vector(grad_activations)}")
            lines.append(f"    dL/dz = dL/da·f'(z) = {self._vector(grad_sums)}")
            lines.append(f"    dL/db = dL/dz = {self._vector(grad_sums)}")
            lines.append(self._largest_weight_gradient(layer, record, grad_sums))
            return lines
        for j in self._neuron_indices(layer.num_outputs):
            g_out = grad_outputs[j]
            if above is not None and above_record is not None:
                above_grad_sums = _required(above_record.grad_sums)
                products = [
                    f"{_factor(dz, self.digits)}·{_factor(neuron.weights[j], self.digits)}"
                    for dz, neuron in zip(above_grad_sums, above.neurons, strict=True)
                ]
                expansion = " + ".join(self._cut(products, self.max_terms)) + " = "
            else:
                expansion = ""
            derivative = layer.activation.derivative(record.sums[j], record.activations[j])
            target = "dL/d(a·s)" if dropout else "dL/da"
            lines.append(f"    neuron {j}: {target} = {expansion}{self._number(g_out)}")
            if record.dropout_scales is not None:
                lines.append(
                    f"              dL/da = dL/d(a·s)·s = {_factor(g_out, self.digits)}·"
                    f"{_factor(record.dropout_scales[j], self.digits)} = "
                    f"{self._number(grad_activations[j])}"
                )
            lines.append(
                f"              f'(z) = {name}'({self._number(record.sums[j])}) = "
                f"{self._number(derivative)}"
            )
            lines.append(
                f"              dL/dz = dL/da·f'(z) = {_factor(grad_activations[j], self.digits)}·"
                f"{_factor(derivative, self.digits)} = {self._number(grad_sums[j])}"
            )
            lines.append(f"              dL/db = dL/dz = {self._number(grad_sums[j])}")
            weight_grads = [
                f"[{i}] {_factor(grad_sums[j], self.digits)}·{_factor(x, self.digits)} = "
                f"{self._number(grad_sums[j] * x)}"
                for i, x in enumerate(record.inputs)
            ]
            lines.append(
                f"              dL/dw_{j}i = dL/dz·x_i: "
                + ", ".join(self._cut(weight_grads, self.max_terms))
            )
        lines.extend(self._skipped_neurons(layer.num_outputs))
        return lines

    def _largest_weight_gradient(
        self, layer: Layer, record: LayerRecord, grad_sums: Sequence[float]
    ) -> str:
        """Level 1's weight-gradient line: how many there are, and the largest in size with
        its sign and both factors, so that one of them can still be checked by hand."""
        _, j, i = max(
            (abs(g * x), j, i) for j, g in enumerate(grad_sums) for i, x in enumerate(record.inputs)
        )
        g, x = grad_sums[j], record.inputs[i]
        return (
            f"    dL/dw_ji = dL/dz_j·x_i: {layer.num_outputs}×{layer.num_inputs} values, "
            f"the largest in size dL/dw_{j},{i} = {_factor(g, self.digits)}·"
            f"{_factor(x, self.digits)} = {self._number(g * x)}"
        )

    # -- small helpers -------------------------------------------------------------------
    def _shown(self, count: int, limit: int) -> int:
        """How many of ``count`` items a cut at ``limit`` keeps (all of them at level 3)."""
        return count if self.full else min(count, limit)

    def _number(self, value: float) -> str:
        return _number(value, self.digits)

    def _cut(self, items: Sequence[str], limit: int) -> list[str]:
        """``items``, or their first ``limit`` and a note of how many were left out."""
        if self.full or len(items) <= limit:
            return list(items)
        return [*items[:limit], f"… ({len(items) - limit} more)"]

    def _vector(self, values: Sequence[float]) -> str:
        shown = self._cut([self._number(v) for v in values], self.max_values)
        return "[" + ", ".join(shown) + "]"

    def _neuron_indices(self, count: int) -> range:
        return range(count if self.full else min(count, self.max_neurons))

    def _skipped_neurons(self, count: int) -> list[str]:
        if self.full or count <= self.max_neurons:
            return []
        hidden = count - self.max_neurons
        return [f"    … {hidden} more neuron{'s' if hidden > 1 else ''} (level 3 shows all)"]


def _size(characters: int) -> str:
    """A size in characters for a warning: ``"63 kB"``, ``"2.1 MB"``."""
    if characters >= 1_000_000:
        return f"{characters / 1_000_000:.1f} MB"
    return f"{max(1, round(characters / 1000))} kB"


def _number(value: float, digits: int) -> str:
    """A float with ``digits`` significant digits, without trailing zeros (``0.1``, ``-2``)."""
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text


def _factor(value: float, digits: int) -> str:
    """A number ready to multiply: negative numbers in parentheses, ``(-0.25)``."""
    text = _number(value, digits)
    return f"({text})" if text.startswith("-") else text


def _required(values: list[float] | None) -> list[float]:
    if values is None:
        raise ValueError("the tracer was given a record whose backward pass has not run")
    return values
