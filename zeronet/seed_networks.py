"""The seed report's two networks and the settings it trained them with, written once.

Both are four hidden ReLU layers of 16 units between Linear layers
(``zeronet.nn.relu_mlp(network.sizes)``):

* sine fitting, section 2.1: 1 input, 1 output (table 1-1), MSE; batch 100,
  2000 epochs, learning rate 0.002 (table 2-1);
* MNIST digits, section 2.2: 784 = 28 x 28 inputs, 10 outputs (table 2-4),
  cross-entropy; batch 1000, 50 epochs, learning rate 0.009 (table 2-5).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedNetwork:
    """One of the seed's networks: its layer widths and its training settings."""

    task: str
    #: Widths of the Linear layers' inputs and outputs: input, 16, 16, 16, 16, output.
    sizes: tuple[int, ...]
    batch_size: int
    epochs: int
    lr: float

    @property
    def hidden(self) -> tuple[int, ...]:
        """The hidden widths, (16, 16, 16, 16)."""
        return self.sizes[1:-1]


SINE = SeedNetwork("sine", (1, 16, 16, 16, 16, 1), batch_size=100, epochs=2000, lr=0.002)
MNIST = SeedNetwork("mnist", (784, 16, 16, 16, 16, 10), batch_size=1000, epochs=50, lr=0.009)
