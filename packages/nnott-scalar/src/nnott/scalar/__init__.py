"""nnott.scalar: a multilayer perceptron written as explicit Python loops over floats.

Every number is a Python ``float`` and every step of the forward and backward pass is a
visible loop, so the whole algorithm can be read, stepped through in a debugger, and
checked by hand with :class:`Tracer`. The vectorized tier (``nnott.vectorized``) computes
the same mathematics with arrays; a test holds the two to the same numbers.

>>> from nnott.scalar import Network, SGD
>>> net = Network([4, 8, 3], ["tanh"])
>>> loss, grads = net.loss_and_gradients([[0.5, -1.0, 0.25, 2.0]], [2])
>>> SGD(net, lr=0.1, momentum=0.9).step(grads)
"""

from nnott.scalar._version import __version__
from nnott.scalar.activations import (
    ACTIVATION_NAMES,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    get_activation,
)
from nnott.scalar.augmentation import ListAugmentation
from nnott.scalar.dropout import dropout_scales
from nnott.scalar.initialization import he_std, init_std, initial_weights, xavier_std
from nnott.scalar.layer import Layer
from nnott.scalar.losses import (
    cross_entropy,
    soft_cross_entropy,
    soft_cross_entropy_gradient,
    softmax,
    softmax_cross_entropy_gradient,
)
from nnott.scalar.network import BatchStats, Gradients, LayerRecord, Network, SampleRecord
from nnott.scalar.neuron import Neuron
from nnott.scalar.optim import SGD
from nnott.scalar.trace import TRACE_LEVELS, Tracer
from nnott.scalar.training import EpochStats, Evaluation, History, evaluate, fit, train_epoch

__all__ = [
    "ACTIVATION_NAMES",
    "GELU",
    "SGD",
    "TRACE_LEVELS",
    "Activation",
    "BatchStats",
    "EpochStats",
    "Evaluation",
    "Gradients",
    "History",
    "Identity",
    "Layer",
    "LayerRecord",
    "LeakyReLU",
    "ListAugmentation",
    "Network",
    "Neuron",
    "ReLU",
    "SampleRecord",
    "Sigmoid",
    "Tanh",
    "Tracer",
    "__version__",
    "cross_entropy",
    "dropout_scales",
    "evaluate",
    "fit",
    "get_activation",
    "he_std",
    "init_std",
    "initial_weights",
    "soft_cross_entropy",
    "soft_cross_entropy_gradient",
    "softmax",
    "softmax_cross_entropy_gradient",
    "train_epoch",
    "xavier_std",
]
