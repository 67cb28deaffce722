"""Data: the mini-batch loader and the MNIST reader."""

from zeronet.data.loader import DataLoader
from zeronet.data.mnist import load_mnist, read_idx

__all__ = ["DataLoader", "load_mnist", "read_idx"]
