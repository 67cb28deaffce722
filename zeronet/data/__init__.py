"""Data: the mini-batch loader, the MNIST reader and the seed's sine data."""

from zeronet.data import sine
from zeronet.data.loader import DataLoader
from zeronet.data.mnist import flatten_pixels, load_mnist, read_idx
from zeronet.data.sine import SineData, sample_sine

__all__ = ["DataLoader", "SineData", "flatten_pixels", "load_mnist", "read_idx", "sample_sine",
           "sine"]
