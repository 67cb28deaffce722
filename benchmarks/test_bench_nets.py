"""zeronet beside torch on the seed's two networks, float64 and float32.

Three kinds of work, each timed in both frameworks from the same weights:
forward only (torch under ``no_grad``), forward + loss + backward, and one
full training step (zero_grad, forward, loss, backward, step) with SGD and
with Adam. zeronet skips dL/dx in the first layer (the data needs no
gradient), as torch's autograd does; a third forward+backward entry keeps
it, to show what ``input_grad=False`` saves. A last benchmark times the
floor of the MNIST step: its matrix products alone, in raw NumPy.

Before timing, each test runs both twins once from equal weights and checks
that they agree: a benchmark of two different computations would be
meaningless. Nothing here asserts a timing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import reference
import zeronet as zn

# A failed twin check stops a test before it times anything; pytest-benchmark then
# warns that the fixture went unused, which would add a second, misleading error.
pytestmark = pytest.mark.filterwarnings("ignore:Benchmark fixture was not used")

FRAMEWORKS = ["zeronet", "torch"]
OPTIMIZERS = {"sgd": (zn.optim.SGD, {"lr": 1e-3}), "adam": (zn.optim.Adam, {"lr": 1e-3})}
# The twin check guards that both sides do the same work; it is not the parity
# suite. After one call on equal weights the results differ by BLAS rounding
# only (OpenBLAS against MKL), well inside these bounds.
TOLERANCES = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {}}  # {}: assert_close defaults


def forward(c) -> dict[str, Callable[[], object]]:
    def torch_forward() -> torch.Tensor:
        with torch.no_grad():
            return c.torch_model(c.torch_x)
    return {"zeronet": lambda: c.model(c.x), "torch": torch_forward}


def forward_backward(c, input_grad: bool = False) -> dict[str, Callable[[], object]]:
    def zeronet_fb() -> None:
        c.loss_fn(c.model(c.x), c.target)
        c.model.backward(c.loss_fn.backward(), input_grad=input_grad)

    def torch_fb() -> None:
        c.torch_loss_fn(c.torch_model(c.torch_x), c.torch_target).backward()
    return {"zeronet": zeronet_fb, "torch": torch_fb}


def training_step(c, optimizer: str) -> dict[str, Callable[[], object]]:
    cls, options = OPTIMIZERS[optimizer]
    opt = cls(c.model.parameters(), **options)
    torch_opt = reference.mirror_optimizer(opt, list(c.torch_model.parameters()))

    def zeronet_step() -> None:
        opt.zero_grad()
        c.loss_fn(c.model(c.x), c.target)
        c.model.backward(c.loss_fn.backward(), input_grad=False)
        opt.step()

    def torch_step() -> None:
        torch_opt.zero_grad()
        c.torch_loss_fn(c.torch_model(c.torch_x), c.torch_target).backward()
        torch_opt.step()
    return {"zeronet": zeronet_step, "torch": torch_step}


def check_twins(c, twins: dict[str, Callable[[], object]]) -> None:
    """Run both twins once; outputs, parameters and gradients must agree."""
    out, torch_out = twins["zeronet"](), twins["torch"]()
    tol = TOLERANCES[c.dtype]

    def close(actual: np.ndarray | None, expected: torch.Tensor | None, what: str) -> None:
        torch.testing.assert_close(None if actual is None else torch.from_numpy(actual),
                                   expected, **tol, msg=lambda m: f"{what}: {m}")

    if isinstance(out, np.ndarray):
        close(out, torch_out, "output")
    for (name, p), tp in zip(c.model.named_parameters(), c.torch_model.parameters(), strict=True):
        close(p.data, tp.detach(), name)
        close(p.grad, tp.grad, f"{name}.grad")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_forward(bench, case, framework: str) -> None:
    twins = forward(case)
    check_twins(case, twins)
    bench(twins[framework], case.net, case.dtype, "forward", framework)


@pytest.mark.parametrize(("framework", "input_grad"),
                         [("zeronet", False), ("torch", False), ("zeronet", True)],
                         ids=["zeronet", "torch", "zeronet_input_grad"])
def test_forward_backward(bench, case, framework: str, input_grad: bool) -> None:
    twins = forward_backward(case, input_grad=input_grad)
    check_twins(case, twins)
    role = "zeronet input_grad=True" if input_grad else framework
    bench(twins[framework], case.net, case.dtype, "forward+backward", role)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_training_step(bench, case, optimizer: str, framework: str) -> None:
    twins = training_step(case, optimizer)
    check_twins(case, twins)
    bench(twins[framework], case.net, case.dtype, f"step {optimizer}", framework)


def test_training_step_floor(bench, make_case, dtype: str) -> None:
    """The floor of the MNIST step: its 14 matrix products in raw NumPy, nothing else.

    Forward H_k = X_k W_k^T for the 5 layers; backward dL/dW_k = G_k^T X_k for
    the 5 layers and dL/dX_k = G_k W_k for layers 2..5 (not for the data).
    Same weights, input batch, dtype and transposes as zeronet's, into
    preallocated outputs. It sits in the "mnist <dtype> step sgd" group, so
    "zeronet / floor" is everything zeronet adds to pure BLAS (activations,
    loss, bias sums, the SGD update, argument checks and Python).
    """
    c = make_case("mnist", dtype)
    ws = [p.data for name, p in c.model.named_parameters() if name.endswith("weight")]
    batch = c.x.shape[0]
    rng = np.random.default_rng(0)
    xs = [c.x] + [rng.random((batch, w.shape[1]), dtype=dtype) for w in ws[1:]]  # layer inputs
    gs = [rng.random((batch, w.shape[0]), dtype=dtype) for w in ws]  # dL/d(layer outputs)
    hs = [np.empty_like(g) for g in gs]
    dws = [np.empty_like(w) for w in ws]
    dxs = [np.empty_like(x) for x in xs[1:]]

    def gemms() -> None:
        for x, w, h in zip(xs, ws, hs, strict=True):
            np.matmul(x, w.T, out=h)
        for g, x, dw in zip(gs, xs, dws, strict=True):
            np.matmul(g.T, x, out=dw)
        for g, w, dx in zip(gs[1:], ws[1:], dxs, strict=True):
            np.matmul(g, w, out=dx)

    bench(gemms, "mnist", dtype, "step sgd", "floor")
