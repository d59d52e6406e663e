"""nnott.vectorized: the MLP as array operations on NumPy or CuPy.

The same mathematics as :mod:`nnott.scalar`, written once with ``xp`` so that it runs on
the CPU and on the GPU: layers and activations (modules with ``forward``/``backward``),
batch normalisation, dropout, the softmax cross-entropy loss, optimizers and learning-rate
schedules, plus a finite-difference gradient checker (:mod:`nnott.vectorized.gradcheck`).

>>> from nnott.vectorized import mlp, SoftmaxCrossEntropy, SGD
>>> model = mlp(784, [128], 10)
>>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
"""

from nnott.vectorized._version import __version__
from nnott.vectorized.activations import (
    ACTIVATIONS,
    GELU,
    Hardsigmoid,
    Hardswish,
    Identity,
    LeakyReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Tanh,
    get_activation,
)
from nnott.vectorized.callbacks import EarlyStopping
from nnott.vectorized.history import History
from nnott.vectorized.layers import Dropout, Flatten, Linear, Sequential
from nnott.vectorized.losses import SoftmaxCrossEntropy, log_softmax, softmax
from nnott.vectorized.mlp import mlp
from nnott.vectorized.module import Module, Parameter
from nnott.vectorized.normalization import BatchNorm, BatchNorm1d
from nnott.vectorized.optim import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Lookahead,
    Optimizer,
    RMSprop,
    clip_grad_norm,
    get_optimizer,
)
from nnott.vectorized.schedules import (
    SCHEDULES,
    ConstantLR,
    CosineWithWarmup,
    ExponentialLR,
    LRSchedule,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
    get_schedule,
)
from nnott.vectorized.trainer import Evaluation, Trainer

__all__ = [
    "ACTIVATIONS",
    "GELU",
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "AdamW",
    "BatchNorm",
    "BatchNorm1d",
    "ConstantLR",
    "CosineWithWarmup",
    "Dropout",
    "EarlyStopping",
    "Evaluation",
    "ExponentialLR",
    "Flatten",
    "Hardsigmoid",
    "Hardswish",
    "History",
    "Identity",
    "LRSchedule",
    "LeakyReLU",
    "Linear",
    "Lookahead",
    "Module",
    "MultiStepLR",
    "OneCycleLR",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "ReLU6",
    "ReduceLROnPlateau",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "StepLR",
    "Tanh",
    "Trainer",
    "__version__",
    "clip_grad_norm",
    "get_activation",
    "get_optimizer",
    "get_schedule",
    "log_softmax",
    "mlp",
    "softmax",
]
