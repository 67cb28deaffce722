"""The experiments as data: one frozen dataclass per run, from the seed's tables.

Networks and hyper-parameters are the seed's (``zeronet.seed_networks``:
tables 1-1, 2-1, 2-4, 2-5); the published results the report compares
against come from tables 2-2, 2-3 and 2-6.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from zeronet.seed_networks import MNIST, SINE
from zeronet_study.records import OPTIONAL

Task = Literal["sine", "mnist"]
Init = Literal["zeros", "torch-default", "kaiming-relu"]

#: What each ``init`` value means, as written in the report.
INIT_DESCRIPTIONS: dict[str, str] = {
    "zeros": "all weights and biases 0 (the seed's Linear, fig. 1-2)",
    "torch-default": "torch.nn.Linear's default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) "
                     "(zeronet.nn.Linear's default)",
    "kaiming-relu": "Kaiming uniform, ReLU gain: W ~ U(-sqrt(6/fan_in), sqrt(6/fan_in)), "
                    "b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (seed fig. 2-10, fan corrected)",
}


@dataclass(frozen=True)
class RunConfig:
    """One training run; the same config drives zeronet and PyTorch."""

    name: str
    task: Task
    loss: Literal["mse", "ce"]
    optimizer: Literal["sgd", "adam"]
    batch_size: int
    epochs: int
    lr: float
    init: Init
    title: str
    #: The seed table whose published numbers this run is compared with ("" if none).
    seed_table: str = ""
    #: Seed figures this run's loss curve and prediction plot correspond to.
    seed_loss_figure: str = ""
    seed_prediction_figure: str = ""
    #: Why this run exists when it is not one of the seed's own configurations.
    variant_note: str = ""
    hidden: tuple[int, ...] = SINE.hidden  # the seed's four layers of 16, both networks
    model_seed: int = 0
    loader_seed: int = 0

    #: Recorded in results.json after the fields (derived from them).
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("dims", "init_description")

    @property
    def dims(self) -> tuple[int, ...]:
        """The layer widths: the seed network's input and output around ``hidden``."""
        sizes = (SINE if self.task == "sine" else MNIST).sizes
        return (sizes[0], *self.hidden, sizes[-1])

    @property
    def init_description(self) -> str:
        return INIT_DESCRIPTIONS[self.init]


_SINE = {"task": "sine", "loss": "mse", "batch_size": SINE.batch_size, "epochs": SINE.epochs,
         "lr": SINE.lr}
_MNIST = {"task": "mnist", "loss": "ce", "batch_size": MNIST.batch_size, "epochs": MNIST.epochs,
          "lr": MNIST.lr}

RUNS: tuple[RunConfig, ...] = (
    RunConfig(
        name="sine-sgd", **_SINE, optimizer="sgd", init="zeros",
        title="Sine, SGD, zero init (seed baseline)", seed_table="2-2",
        seed_loss_figure="2-7", seed_prediction_figure="2-8"),
    RunConfig(
        name="sine-sgd-default-init", **_SINE, optimizer="sgd", init="torch-default",
        title="Sine, SGD, torch default init (variant)", seed_table="2-2",
        seed_loss_figure="2-7", seed_prediction_figure="2-8",
        variant_note="the seed's baseline with torch.nn.Linear's default initialisation "
                     "instead of zeros, since a zero-initialised ReLU net cannot learn"),
    RunConfig(
        name="sine-adam", **_SINE, optimizer="adam", init="kaiming-relu",
        title="Sine, Adam, Kaiming init", seed_table="2-3",
        seed_loss_figure="2-11", seed_prediction_figure="2-12"),
    RunConfig(
        name="mnist-adam", **_MNIST, optimizer="adam", init="kaiming-relu",
        title="MNIST, Adam, Kaiming init", seed_table="2-6", seed_loss_figure="2-18"),
)

@dataclass(frozen=True, kw_only=True)
class SeedPublished:
    """The end-of-training numbers one of the seed's tables publishes."""

    train_loss: float
    train_accuracy: float | None = field(default=None, metadata=OPTIONAL)
    test_loss: float
    test_accuracy: float | None = field(default=None, metadata=OPTIONAL)
    cost_time: float


#: The seed's published end-of-training numbers (tables 2-2, 2-3, 2-6).
SEED_RESULTS: dict[str, SeedPublished] = {
    "2-2": SeedPublished(train_loss=23.52810382025281, test_loss=34.4841798582198,
                         cost_time=12.414246082305908),
    "2-3": SeedPublished(train_loss=0.24208677812596643, test_loss=0.5913421787744951,
                         cost_time=15.060735702514648),
    "2-6": SeedPublished(train_loss=0.12257579051845764, train_accuracy=97.00,
                         test_loss=0.21438339574377618, test_accuracy=94.13,
                         cost_time=85.88880467414856),
}
#: The seed table each main run's group is compared with.
GROUP_TABLES = {"sine-sgd": "2-2", "sine-adam": "2-3", "mnist-adam": "2-6"}

#: Epochs per run in ``--quick`` mode (smoke tests and CI).
QUICK_EPOCHS = {"sine": 3, "mnist": 1}


def quick(config: RunConfig) -> RunConfig:
    """The same run cut to a few epochs."""
    return dataclasses.replace(config, epochs=min(config.epochs, QUICK_EPOCHS[config.task]))
