"""Layers, containers and losses; ``storage``: where the layers' parameters live."""

from zeronet.nn import storage
from zeronet.nn.layers import Linear, ReLU, relu_mlp
from zeronet.nn.losses import CrossEntropyLoss, MSELoss, log_softmax
from zeronet.nn.module import Module, Parameter, Sequential

__all__ = ["CrossEntropyLoss", "Linear", "MSELoss", "Module", "Parameter", "ReLU",
           "Sequential", "log_softmax", "relu_mlp", "storage"]
