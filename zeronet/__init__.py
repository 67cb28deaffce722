"""zeronet: a fully connected network in NumPy, every number checked against PyTorch."""

from zeronet import data, init, nn, optim

__version__ = "0.1.0"
__all__ = ["data", "init", "nn", "optim"]
