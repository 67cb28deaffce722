"""What the speed benchmarks time: the same work in zeronet and in torch, built from one seed.

A :class:`Twin` is one row of the benchmark table: a zeronet callable, the
torch callable doing the same work from the same weights and inputs, and,
for the MNIST epoch, the floor (the work no implementation can avoid, in raw
NumPy). ``check`` runs both once and raises if they disagree, so that a
benchmark never compares two different computations.

Used by ``zeronet bench`` / the report (``zeronet_study.bench.engine``) and by
the pytest-benchmark suite (benchmarks/), so both time exactly the same things.
The inputs are drawn from ``SEED`` (timings depend on the shapes only): the
sine twins time a sample of the seed's curve, not the seed's data set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

import reference
import zeronet as zn
from zeronet.data import sine
from zeronet.seed_networks import MNIST, SINE

SEED = 20240607
SINE_SIZES, MNIST_SIZES = SINE.sizes, MNIST.sizes
SINE_BATCH, MNIST_BATCH = SINE.batch_size, MNIST.batch_size
SINE_SAMPLES, MNIST_SAMPLES = 1000, 60_000
#: (batch, in, out): the seed's layers (table 1-1 / 2-4 shapes) and one large layer.
LINEAR_SHAPES = ((100, 1, 16), (1000, 784, 16), (1000, 16, 16), (1000, 16, 10),
                 (4096, 1024, 1024))
#: The twin check's tolerances: both sides did the same work (this is a guard, not
#: the parity suite). float64: one call from equal weights differs by BLAS rounding
#: only, ~1e-15 relative. float32: the gradients here sum up to 4096 products of
#: unit-normal numbers, in another order in OpenBLAS than in MKL; the rounding
#: error grows like sqrt(4096) * 6e-8 * |terms|, up to ~5e-5 absolute on values
#: of ~30 (measured), beyond torch.testing's defaults (1.3e-6, 1e-5).
TOLERANCES: dict[str, dict[str, float]] = {"float64": {"rtol": 1e-10, "atol": 1e-12},
                                           "float32": {"rtol": 1e-5, "atol": 2e-4}}


@dataclass
class Twin:
    """One benchmark row: zeronet and torch doing the same ``work``."""

    name: str
    group: str  # "op", "step", "epoch", "run", "scaling"
    dtype: str
    zeronet: Callable[[], object]
    torch: Callable[[], object] | None  # None: a row of zeronet against zeronet
    check: Callable[[], None] = lambda: None
    floors: dict[str, Callable[[], object]] = field(default_factory=dict)
    #: What the row records about the twin: fields of ``records.BenchRow`` (data, epochs,
    #: batch, width).
    info: dict[str, str | int] = field(default_factory=dict)
    checked: bool = False

    def roles(self) -> dict[str, Callable[[], object]]:
        torch_role = {} if self.torch is None else {"torch": self.torch}
        return {"zeronet": self.zeronet, **torch_role, **self.floors}

    def verify(self) -> None:
        """Run ``check`` once, before any timing (timing steps the two sides unequally)."""
        if not self.checked:
            self.check()
            self.checked = True


def _close(actual: object, expected: object, dtype: str, what: str) -> None:
    """reference.assert_close with this module's tolerance for ``dtype``."""
    reference.assert_close(actual, expected, **TOLERANCES[dtype], name=what)


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


# ------------------------------------------------------------------ single operations

def linear_twins(dtype: str, batch: int, n_in: int, n_out: int) -> list[Twin]:
    """Linear forward (torch under no_grad), and forward+backward with dL/dx (a hidden layer)."""
    rng = _rng()
    layer = zn.nn.Linear(n_in, n_out, dtype=dtype, rng=rng)
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    g = rng.standard_normal((batch, n_out)).astype(dtype)
    t_layer = reference.mirror(zn.nn.Sequential(layer))[0]
    tx = torch.from_numpy(x).requires_grad_(True)
    tg = torch.from_numpy(g)
    shape = f"{batch}x{n_in}->{n_out}"

    def t_forward() -> torch.Tensor:
        with torch.no_grad():
            return t_layer(tx)

    def z_both() -> np.ndarray:
        layer.weight.grad = layer.bias.grad = None
        layer(x)
        return layer.backward(g)

    def t_both() -> torch.Tensor:
        t_layer.zero_grad()
        tx.grad = None
        t_layer(tx).backward(tg)
        return tx.grad

    def check() -> None:
        _close(layer(x), t_forward(), dtype, "output")
        _close(z_both(), t_both(), dtype, "dL/dx")
        _close(layer.weight.grad, t_layer.weight.grad, dtype, "dL/dW")
        _close(layer.bias.grad, t_layer.bias.grad, dtype, "dL/db")
    return [Twin(f"Linear forward {shape}", "op", dtype, lambda: layer(x), t_forward, check),
            Twin(f"Linear forward+backward {shape}", "op", dtype, z_both, t_both, check)]


def relu_twin(dtype: str, shape: tuple[int, int]) -> Twin:
    rng = _rng()
    relu = zn.nn.ReLU()
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    tx, tg = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)

    def z() -> np.ndarray:
        relu(x)
        return relu.backward(g)

    def t() -> torch.Tensor:
        tx.grad = None
        torch.relu(tx).backward(tg)
        return tx.grad
    return Twin(f"ReLU forward+backward {shape[0]}x{shape[1]}", "op", dtype, z, t,
                lambda: _close(z(), t(), dtype, "dL/dx"))


def loss_twin(dtype: str, kind: str, shape: tuple[int, int]) -> Twin:
    """MSE or cross-entropy (class indices): loss and dL/d(output)."""
    rng = _rng()
    out = rng.standard_normal(shape).astype(dtype)
    if kind == "mse":
        target = rng.standard_normal(shape).astype(dtype)
        loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss = zn.nn.MSELoss()
    else:
        target = rng.integers(0, shape[1], shape[0])
        loss_fn = zn.nn.CrossEntropyLoss()
    t_loss = reference.mirror_loss(loss_fn)
    t_out, t_target = torch.from_numpy(out).requires_grad_(True), torch.from_numpy(target)

    def z() -> np.ndarray:
        loss_fn(out, target)
        return loss_fn.backward()

    def t() -> torch.Tensor:
        t_out.grad = None
        t_loss(t_out, t_target).backward()
        return t_out.grad
    name = "MSELoss" if kind == "mse" else "CrossEntropyLoss"
    return Twin(f"{name} forward+backward {shape[0]}x{shape[1]}", "op", dtype, z, t,
                lambda: _close(z(), t(), dtype, "dL/d(output)"))


def optimizer_twin(dtype: str, optimizer: str, sizes: tuple[int, ...], label: str) -> Twin:
    """One optimizer step on every parameter of ``sizes``'s MLP, gradients given."""
    rng = _rng()
    model = zn.nn.relu_mlp(sizes, dtype=dtype, rng=rng)
    t_model = reference.mirror(model)
    params, t_params = model.parameters(), list(t_model.parameters())
    for p, tp in zip(params, t_params, strict=True):
        p.grad = rng.standard_normal(p.shape).astype(dtype)
        tp.grad = torch.from_numpy(p.grad.copy())
    opt = (zn.optim.SGD(params, lr=1e-3, momentum=0.9) if optimizer == "sgd"
           else zn.optim.Adam(params, lr=1e-3))
    t_opt = reference.mirror_optimizer(opt, t_params)

    def check() -> None:
        for p, tp in zip(params, t_params, strict=True):
            _close(p.data, tp.detach(), dtype, "parameter")
    n = sum(p.data.size for p in params)
    name = "SGD (momentum)" if optimizer == "sgd" else "Adam"
    return Twin(f"{name} step, {label} net ({n} parameters)", "op", dtype, opt.step,
                t_opt.step, check)


def op_twins(dtype: str, *, large: bool = True) -> list[Twin]:
    """Every single-operation twin; ``large=False`` leaves out those on 4096-row arrays."""
    shapes = [s for s in LINEAR_SHAPES if large or s[0] < 4096]
    twins = [t for shape in shapes for t in linear_twins(dtype, *shape)]
    twins += [relu_twin(dtype, (1000, 16)), loss_twin(dtype, "mse", (100, 1)),
              loss_twin(dtype, "ce", (1000, 10))]
    if large:
        twins += [relu_twin(dtype, (4096, 1024)), loss_twin(dtype, "mse", (4096, 1024)),
                  loss_twin(dtype, "ce", (4096, 1000))]
    twins += [optimizer_twin(dtype, opt, sizes, label) for opt in ("sgd", "adam")
              for sizes, label in ((SINE_SIZES, "sine"), (MNIST_SIZES, "MNIST"))]
    return twins


# ------------------------------------------------------------------ whole networks

@dataclass
class Net:
    """The seed's network in zeronet and (same weights) in torch, with loss and optimizer."""

    model: zn.nn.Sequential
    loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss
    opt: zn.optim.Optimizer
    t_model: torch.nn.Sequential
    t_loss: torch.nn.Module
    t_opt: torch.optim.Optimizer

    def zeronet_step(self, xb: np.ndarray, yb: np.ndarray) -> None:
        """The tuned loop: every option that saves time spelled out (no dL/dx of the data)."""
        self.opt.zero_grad()
        self.loss_fn(self.model(xb), yb)
        self.model.backward(self.loss_fn.backward(), input_grad=False)
        self.opt.step()

    def natural_step(self, xb: np.ndarray, yb: np.ndarray) -> None:
        """The loop as the seed and a torch user write it, with every default."""
        opt, loss_fn, model = self.opt, self.loss_fn, self.model
        opt.zero_grad()
        loss_fn(model(xb), yb)
        model.backward(loss_fn.backward())
        opt.step()

    def torch_step(self, xb: np.ndarray, yb: np.ndarray) -> None:
        self.t_opt.zero_grad()
        self.t_loss(self.t_model(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
        self.t_opt.step()

    def check(self, dtype: str) -> None:
        """Gradients of the last step and the weights after it agree.

        float32 weights get atol 2.5e-3: in its first steps Adam moves every
        weight by about lr (1e-3) whatever its gradient's size, so a tiny
        gradient whose sign the two BLAS libraries round differently moves
        the weight 2 lr apart (seen with 1000x1024 layers).
        """
        weights = TOLERANCES[dtype] if dtype == "float64" else {"rtol": 1e-5, "atol": 2.5e-3}
        for (name, p), tp in zip(self.model.named_parameters(), self.t_model.parameters(),
                                 strict=True):
            _close(p.grad, tp.grad, dtype, f"{name}.grad")
            reference.assert_close(p.data, tp.detach(), **weights, name=name)


def build_net(sizes: tuple[int, ...], dtype: str, optimizer: str, lr: float) -> Net:
    model = zn.nn.relu_mlp(sizes, dtype=dtype, rng=_rng())
    loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss = (
        zn.nn.MSELoss() if sizes[-1] == 1 else zn.nn.CrossEntropyLoss())
    opt = (zn.optim.SGD(model.parameters(), lr=lr) if optimizer == "sgd"
           else zn.optim.Adam(model.parameters(), lr=lr))
    t_model = reference.mirror(model)
    return Net(model, loss_fn, opt, t_model, reference.mirror_loss(loss_fn),
               reference.mirror_optimizer(opt, list(t_model.parameters())))


def sine_sample(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """1000 points of the seed's curve drawn from ``SEED``: not the seed's data set, its shapes.

    x ~ U(-2 pi, 2 pi) from ``default_rng(SEED)``, y by ``zn.data.sine.targets``.
    """
    x = _rng().uniform(sine.LOW, sine.HIGH, (SINE_SAMPLES, 1))
    return x.astype(dtype), sine.targets(x).astype(dtype)


def mnist_data(dtype: str) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST's 60000 training images as the report prepares them, or random pixels if absent.

    The timings depend only on the shapes; the third value says which was used.
    """
    try:
        images, labels, _, _ = zn.data.load_mnist(download=False)
    except (FileNotFoundError, ValueError):
        rng = _rng()
        return (rng.random((MNIST_SAMPLES, 784), dtype=np.dtype(dtype).type),
                rng.integers(0, 10, MNIST_SAMPLES), "random pixels (MNIST not found)")
    return zn.data.flatten_pixels(images, dtype), labels.astype(np.int64), "MNIST"


def step_twin(dtype: str, task: str, optimizer: str) -> Twin:
    """One training step on a fixed batch of the seed's ``task`` network."""
    if task == "sine":
        x, y = sine_sample(dtype)
        net = build_net(SINE_SIZES, dtype, optimizer, 1e-3)
        xb, yb = x[:SINE_BATCH], y[:SINE_BATCH]
    else:
        x, y, _ = mnist_data(dtype)
        net = build_net(MNIST_SIZES, dtype, optimizer, 1e-3)
        xb, yb = x[:MNIST_BATCH], y[:MNIST_BATCH]

    def check() -> None:
        net.zeronet_step(xb, yb)
        net.torch_step(xb, yb)
        net.check(dtype)
    batch = SINE_BATCH if task == "sine" else MNIST_BATCH
    name = f"{'sine' if task == 'sine' else 'MNIST'} training step (batch {batch}, " \
           f"{optimizer.upper()})"
    return Twin(name, "step", dtype,
                lambda: net.zeronet_step(xb, yb), lambda: net.torch_step(xb, yb), check)


def epoch_loaders(x: np.ndarray, y: np.ndarray, batch: int) -> zn.data.DataLoader:
    return zn.data.DataLoader(x, y, batch, shuffle=True, seed=SEED)


def flat_copy(net: Net) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """A copy of the net's parameters end to end, room for their gradients, and each one's
    (parameter, gradient) views into the two: the floors' flat buffers."""
    params = [p.data.copy() for p in net.model.parameters()]
    sizes = np.cumsum([0] + [p.size for p in params])
    data = np.concatenate([p.ravel() for p in params])
    grad = np.empty_like(data)
    views = [(data[a:b].reshape(p.shape), grad[a:b].reshape(p.shape))
             for a, b, p in zip(sizes[:-1], sizes[1:], params, strict=True)]
    return data, grad, views


def flat_adam(data: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, step: int,
              beta1: float = 0.9, beta2: float = 0.999, lr: float = 1e-3,
              eps: float = 1e-8) -> None:
    """The sine floors' Adam step over flat buffers, straight-line: 13 NumPy calls."""
    np.add(m, (1 - beta1) * (grad - m), out=m)
    np.multiply(v, beta2, out=v)
    np.add(v, (1 - beta2) * grad * grad, out=v)
    denom = np.sqrt(v)
    denom /= (1 - beta2**step) ** 0.5
    denom += eps
    update = (-lr / (1 - beta1**step)) * m
    update /= denom
    np.add(data, update, out=data)


def sine_floor(x: np.ndarray, y: np.ndarray, net: Net) -> Callable[[], None]:
    """One sine epoch of Adam steps as straight-line NumPy: about the fewest calls the work takes.

    No classes, no argument checks, no allocations the arithmetic doesn't
    need: per step 5 x (X W^T, + b), 4 ReLUs, the MSE gradient, 5 x (G^T X,
    1^T G) written straight into one flat gradient buffer, 4 x (G W, * mask),
    and Adam's update over flat buffers. For these tiny layers the cost is the
    number of NumPy calls (~1-2 us each), not arithmetic, so this is what any
    NumPy implementation of the step pays at least.
    """
    data, grad, views = flat_copy(net)
    layers = list(zip(views[0::2], views[1::2], strict=True))  # ((W, dW), (b, db)) per layer
    m, v = np.zeros_like(data), np.zeros_like(data)
    ones = np.ones(SINE_BATCH, dtype=x.dtype)
    loader = epoch_loaders(x, y, SINE_BATCH)
    step = [0]

    def epoch() -> None:
        for xb, yb in loader:
            acts = [xb]
            for i, ((w, _), (b, _)) in enumerate(layers):
                h = np.dot(acts[-1], w.T)
                h += b
                acts.append(np.maximum(h, 0) if i < 4 else h)
            g = acts[-1] - yb
            g *= 2.0 / g.size
            for i in range(4, -1, -1):
                (w, dw), (_, db) = layers[i]
                np.dot(g.T, acts[i], out=dw)
                np.dot(ones, g, out=db)
                if i:
                    g = np.dot(g, w)
                    g *= acts[i] > 0
            step[0] += 1
            flat_adam(data, grad, m, v, step[0])
    return epoch


#: The sine epoch's second floor: the floor plus the NumPy calls of zeronet's checks.
CHECKED = "straight-line with zeronet's checks"


def sine_checked_floor(x: np.ndarray, y: np.ndarray, net: Net) -> Callable[[], None]:
    """The sine floor with every NumPy call zeronet's step makes, still written straight-line.

    On top of ``sine_floor``: NumPy's warnings switched off for the forward
    pass, each Linear output checked for NaN/inf (a dot product), each ReLU's
    mask made in the forward pass (two calls), the target checked and the loss
    value computed, and the gradients computed apart and gathered into the
    flat buffer (one concatenate), as ``zeronet.optim.flat`` does. What stays
    between this and zeronet is the classes: calls of methods, argument
    checks in Python, the optimizer's bookkeeping.
    """
    data, grad, views = flat_copy(net)
    weights, biases = [w for w, _ in views[0::2]], [b for b, _ in views[1::2]]
    m, v = np.zeros_like(data), np.zeros_like(data)
    ones = np.ones(SINE_BATCH, dtype=x.dtype)
    loader = epoch_loaders(x, y, SINE_BATCH)
    step = [0]

    def epoch() -> None:
        for xb, yb in loader:
            acts, masks, h = [], [], xb
            with np.errstate(over="ignore", invalid="ignore"):
                for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
                    acts.append(h)
                    h = np.dot(h, w.T)
                    h += b
                    if not math.isfinite(np.vdot(h, h)):
                        raise ValueError("overflow")
                    if i < 4:
                        masks.append(~(h <= 0))
                        h = np.maximum(h, 0)
            if not math.isfinite(np.vdot(yb, yb)):
                raise ValueError("target")
            diff = h - yb
            if not math.isfinite(float(np.vdot(diff, diff)) / diff.size):
                raise ValueError("loss")
            g = (2.0 / diff.size) * diff
            grads: list[np.ndarray] = []
            for i in range(4, -1, -1):
                grads[:0] = [np.dot(g.T, acts[i]), np.dot(ones, g)]
                if i:
                    g = np.dot(g, weights[i]) * masks[i - 1]
            np.concatenate([a.ravel() for a in grads], out=grad)
            step[0] += 1
            flat_adam(data, grad, m, v, step[0])
    return epoch


def epoch_of(step: Callable[[np.ndarray, np.ndarray], None],
             loader: zn.data.DataLoader) -> Callable[[], None]:
    """One epoch: ``step`` on every batch of ``loader``."""
    def epoch() -> None:
        for xb, yb in loader:
            step(xb, yb)
    return epoch


def epoch_twin(name: str, dtype: str, net: Net, x: np.ndarray, y: np.ndarray, batch: int,
               floors: dict[str, Callable[[], object]],
               info: dict[str, object] | None = None) -> Twin:
    """One epoch of training steps over shuffled batches, each framework with its own loader.

    Both loaders are seeded alike, so both frameworks see the same batches in
    the same order; the check runs one epoch in each and compares.
    """
    z = epoch_of(net.zeronet_step, epoch_loaders(x, y, batch))
    t = epoch_of(net.torch_step, epoch_loaders(x, y, batch))

    def check() -> None:
        z()
        t()
        net.check(dtype)
    return Twin(name, "epoch", dtype, z, t, check, floors, info or {})


def sine_epoch_twin(dtype: str, optimizer: str = "adam", *, checked_floor: bool = True) -> Twin:
    """One epoch of the seed's sine run: 10 shuffled batches of 100, a training step each.

    With Adam, the floors: straight-line NumPy, and (``checked_floor``) the
    same with the calls of zeronet's checks (``sine_checked_floor``).
    """
    x, y = sine_sample(dtype)
    net = build_net(SINE_SIZES, dtype, optimizer, 1e-3)
    floors = {"floor": sine_floor(x, y, net)} if optimizer == "adam" else {}
    if floors and checked_floor:
        floors[CHECKED] = sine_checked_floor(x, y, net)
    return epoch_twin(f"sine epoch (10 batches of 100, {optimizer.upper()})", dtype, net, x, y,
                      SINE_BATCH, floors)


def mnist_floor(x: np.ndarray, net: Net, *, every_product: bool) -> Callable[[], None]:
    """One MNIST epoch of what no implementation can avoid, in raw NumPy.

    Gather each shuffled batch from the training set (as the DataLoader does)
    and run the epoch's matrix products in the same dtype and layout as
    zeronet, into preallocated outputs: with ``every_product``, all 14 of
    each step (5 forward X W^T, 5 weight gradients G^T X, 4 input gradients
    G W); otherwise only the two with the 784-wide input (the first layer's
    X W^T and G^T X), which are most of the arithmetic.
    """
    rng = _rng()
    loader = epoch_loaders(x, np.zeros(len(x)), MNIST_BATCH)
    weights = [p.data for name, p in net.model.named_parameters() if name.endswith("weight")]
    if not every_product:
        weights = weights[:1]
    dtype = x.dtype
    acts = [rng.random((MNIST_BATCH, w.shape[1]), dtype=dtype.type) for w in weights[1:]]
    grads = [rng.random((MNIST_BATCH, w.shape[0]), dtype=dtype.type) for w in weights]
    outs = [np.empty_like(g) for g in grads]
    weight_grads = [np.empty_like(w) for w in weights]
    input_grads = [np.empty_like(a) for a in acts]

    def epoch() -> None:
        for xb, _ in loader:
            inputs = [xb, *acts]
            for a, w, out in zip(inputs, weights, outs, strict=True):
                np.dot(a, w.T, out=out)
            for g, a, dw in zip(grads, inputs, weight_grads, strict=True):
                np.dot(g.T, a, out=dw)
            for g, w, dx in zip(grads[1:], weights[1:], input_grads, strict=True):
                np.dot(g, w, out=dx)
    return epoch


def mnist_epoch_twin(dtype: str) -> Twin:
    """One epoch of the seed's MNIST run (60 shuffled batches of 1000, Adam), with its floors."""
    x, y, source = mnist_data(dtype)
    net = build_net(MNIST_SIZES, dtype, "adam", 1e-3)
    floors = {"floor": mnist_floor(x, net, every_product=True),
              "floor (784-wide products)": mnist_floor(x, net, every_product=False)}
    return epoch_twin("MNIST epoch (60 batches of 1000, Adam)", dtype, net, x, y, MNIST_BATCH,
                      floors, {"data": source})


def natural_loop_twin(dtype: str) -> Twin:
    """The MNIST epoch as a user writes its loop (every default) against the tuned loop.

    Two nets from the same seed, each with its own loader seeded alike: the
    check runs one epoch of each and requires the same weights, bit for bit.
    """
    x, y, source = mnist_data(dtype)
    natural, tuned = (build_net(MNIST_SIZES, dtype, "adam", 1e-3) for _ in range(2))
    natural_epoch = epoch_of(natural.natural_step, epoch_loaders(x, y, MNIST_BATCH))
    tuned_epoch = epoch_of(tuned.zeronet_step, epoch_loaders(x, y, MNIST_BATCH))

    def check() -> None:
        natural_epoch()
        tuned_epoch()
        for (name, p), q in zip(natural.model.named_parameters(), tuned.model.parameters(),
                                strict=True):
            np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    return Twin("MNIST epoch, natural loop (60 batches of 1000, Adam)", "epoch", dtype,
                natural_epoch, None, check, {"tuned loop": tuned_epoch}, {"data": source})


def sine_run_twin(dtype: str, epochs: int) -> Twin:
    """The seed's full sine Adam run: ``epochs`` epochs of 10 batches (one round = one epoch)."""
    twin = sine_epoch_twin(dtype, "adam", checked_floor=False)
    twin.name = f"sine full run ({epochs} epochs, Adam)"
    twin.group = "run"
    twin.info["epochs"] = epochs
    return twin


# ------------------------------------------------------------------ scaling

def scaling_twin(dtype: str, *, batch: int, width: int) -> Twin:
    """An Adam training step of the MNIST net with ``width`` hidden units, on ``batch`` rows."""
    rng = _rng()
    sizes = (784, width, width, width, width, 10)
    net = build_net(sizes, dtype, "adam", 1e-3)
    xb = rng.random((batch, 784), dtype=np.dtype(dtype).type)
    yb = rng.integers(0, 10, batch)

    def check() -> None:
        net.zeronet_step(xb, yb)
        net.torch_step(xb, yb)
        net.check(dtype)
    return Twin(f"Adam step, batch {batch}, width {width}", "scaling", dtype,
                lambda: net.zeronet_step(xb, yb), lambda: net.torch_step(xb, yb), check,
                info={"batch": batch, "width": width})
