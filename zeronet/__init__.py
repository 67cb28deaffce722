"""zeronet: a fully connected network in NumPy, every number checked against PyTorch."""

from zeronet import data, init, nn, optim, seed_networks
from zeronet._checks import NonFiniteValueError
from zeronet.checkpoint import CheckpointError, load_checkpoint, read_progress, save_checkpoint
from zeronet.training import FitResult, NonFiniteError, fit

__version__ = "0.2.0"
__all__ = ["CheckpointError", "FitResult", "NonFiniteError", "NonFiniteValueError", "data",
           "fit", "init", "load_checkpoint", "nn", "optim", "read_progress", "save_checkpoint",
           "seed_networks"]
