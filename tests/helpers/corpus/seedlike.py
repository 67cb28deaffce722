"""A class-based network written the way the seed report writes it.

Convention: every layer is an object with ``__call__`` (forward) and
``backward(grad)``; ``Linear`` stores ``W`` as (in, out) and ``b`` as (1, out)
and keeps its gradients in ``dW`` and ``db``; x is (N, features); the
cross-entropy takes one-hot targets and does the softmax itself; SGD and Adam
are the network's own (Adam's state per parameter is ``m``, ``v``, ``t``).
The adapters at the bottom tell the checker: ``layout="in_out"``,
``samples="rows"``, ``names=["linear1.W", "linear1.b", "linear2.W", ...]`` (a
sequence in torch's parameter order), Adam ``state_names={"m": "exp_avg", "v":
"exp_avg_sq", "t": "step"}``.

Everything keeps the dtype it is given (float32 in, float32 out).

Injectable bugs (names in ``bugs``; each switches the line marked ``# bug: <name>``):

=======================  ==================================================================
extra-1/N                ``Linear.backward``: ``dW = x.T @ grad / n`` and ``db = ... / n``
                         although the loss gradient is already a mean (seed fig. 1-4)
missing-1/N              ``MSELoss``/``CrossEntropyLoss``: the loss is summed over the batch
                         (``np.sum(per_sample)``) and the gradient has no ``/ n``
factor                   ``MSELoss.backward``: ``diff / (n * d)``, the 2 forgotten
sign                     ``MSELoss.backward``/``CrossEntropyLoss.backward`` return
                         delta = -dE/dy (``2 * (y - y_hat)``, ``y - softmax``; seed eq. 1-7)
transposed               ``Linear.backward``: ``dW = grad.T @ x``, an (out, in) gradient
relu-at-0                ``ReLU.backward``: mask ``x >= 0``
ce-precedence            ``CrossEntropyLoss.backward``: ``probs - y / n`` (seed fig. 1-11)
softmax-overflow         ``CrossEntropyLoss.__call__``: the probabilities used by backward
                         are ``exp(z) / sum(exp(z))`` of the raw logits (seed figs. 1-9, 1-11)
input-mutated            ``MSELoss.__call__``: ``np.subtract(y_pred, y_true, out=y_true)``
                         writes the difference into the target; ``ReLU.__call__``:
                         ``x[x < 0] = 0`` works in place on its input
grad-mutated             ``ReLU.backward``: ``grad[~mask] = 0; return grad`` (seed fig. 1-8)
adam-bias-correction     ``Adam.update``: divides by ``1 - beta`` instead of ``1 - beta ** t``
                         (seed fig. 2-9)
grad-accumulated         ``Net.train_step``: the ``self.zero_grad()`` line is left out, and
                         ``Linear.backward`` adds into ``dW``/``db``
init-fan                 ``kaiming_uniform``: ``fan_in = shape[1]``, the output size of an
                         (in, out) matrix (seed fig. 2-10)
init-gain                ``kaiming_uniform``: ``gain = 1.0`` instead of sqrt(2)
init-distribution        ``kaiming_uniform``: normal with the same std instead of uniform
init-zero                ``Linear.__init__``: ``W = np.zeros(...)`` (seed fig. 1-2)
=======================  ==================================================================
"""

from __future__ import annotations

import math

import numpy as np

BUGS = frozenset({
    "extra-1/N", "missing-1/N", "factor", "sign", "transposed", "relu-at-0", "ce-precedence",
    "softmax-overflow", "input-mutated", "grad-mutated", "adam-bias-correction",
    "grad-accumulated", "init-fan", "init-gain", "init-distribution", "init-zero",
})
NO_BUGS: frozenset[str] = frozenset()


def _bugs(bugs) -> frozenset[str]:
    bugs = frozenset(bugs)
    if bugs - BUGS:
        raise ValueError(f"seedlike: unknown bugs {sorted(bugs - BUGS)}; known: {sorted(BUGS)}")
    return bugs


def kaiming_uniform(shape, rng, dtype=np.float64, bugs=NO_BUGS):
    """He initialisation for ReLU layers: U(-bound, bound), bound = gain * sqrt(3 / fan_in).

    ``shape`` is (in, out), so fan_in is ``shape[0]``.
    """
    fan_in = shape[0]
    if "init-fan" in bugs:
        fan_in = shape[1]  # bug: init-fan
    gain = math.sqrt(2.0)
    if "init-gain" in bugs:
        gain = 1.0  # bug: init-gain
    std = gain / math.sqrt(fan_in)
    if "init-distribution" in bugs:
        return rng.normal(0.0, std, size=shape).astype(dtype)  # bug: init-distribution
    bound = math.sqrt(3.0) * std
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def one_hot(labels, num_classes, dtype=np.float64):
    return np.eye(num_classes, dtype=dtype)[labels]


class Linear:
    """y = x W + b with W (in, out), b (1, out)."""

    def __init__(self, in_dim, out_dim, rng, dtype=np.float64, bugs=NO_BUGS):
        self.bugs = _bugs(bugs)
        self.W = kaiming_uniform((in_dim, out_dim), rng, dtype, self.bugs)
        if "init-zero" in self.bugs:
            self.W = np.zeros((in_dim, out_dim), dtype=dtype)  # bug: init-zero
        self.b = np.zeros((1, out_dim), dtype=dtype)
        self.zero_grad()

    def zero_grad(self):
        self.dW = 0.0
        self.db = 0.0

    def __call__(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        n = self.x.shape[0]
        dW = self.x.T @ grad
        if "transposed" in self.bugs:
            dW = grad.T @ self.x  # bug: transposed
        db = grad.sum(axis=0, keepdims=True)
        if "extra-1/N" in self.bugs:
            dW, db = dW / n, db / n  # bug: extra-1/N
        self.dW += dW
        self.db += db
        return grad @ self.W.T


class ReLU:
    def __init__(self, bugs=NO_BUGS):
        self.bugs = _bugs(bugs)

    def __call__(self, x):
        self.x = x
        if "input-mutated" in self.bugs:
            x[x < 0] = 0  # bug: input-mutated
            return x
        return np.maximum(x, 0)

    def backward(self, grad):
        mask = self.x > 0
        if "relu-at-0" in self.bugs:
            mask = self.x >= 0  # bug: relu-at-0
        if "grad-mutated" in self.bugs:
            grad[~mask] = 0  # bug: grad-mutated
            return grad
        return grad * mask


class MSELoss:
    """mean over the batch of the mean over the outputs of (y_pred - y_true)^2."""

    def __init__(self, bugs=NO_BUGS):
        self.bugs = _bugs(bugs)

    def __call__(self, y_pred, y_true):
        self.diff = y_pred - y_true
        if "input-mutated" in self.bugs:
            self.diff = np.subtract(y_pred, y_true, out=y_true)  # bug: input-mutated
        per_sample = np.mean(self.diff ** 2, axis=1)
        if "missing-1/N" in self.bugs:
            return np.sum(per_sample)  # bug: missing-1/N
        return np.mean(per_sample)

    def backward(self):
        n, d = self.diff.shape
        if "missing-1/N" in self.bugs:
            return 2 * self.diff / d  # bug: missing-1/N
        if "factor" in self.bugs:
            return self.diff / (n * d)  # bug: factor
        if "sign" in self.bugs:
            return -2 * self.diff / (n * d)  # bug: sign
        return 2 * self.diff / (n * d)


class CrossEntropyLoss:
    """softmax + cross-entropy, targets one-hot (N, C), mean over the batch."""

    def __init__(self, bugs=NO_BUGS):
        self.bugs = _bugs(bugs)

    def __call__(self, logits, y_onehot):
        self.y = y_onehot
        self.n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        if "softmax-overflow" in self.bugs:
            e = np.exp(logits)
            self.probs = e / e.sum(axis=1, keepdims=True)  # bug: softmax-overflow
        per_sample = -np.sum(y_onehot * log_probs, axis=1)
        if "missing-1/N" in self.bugs:
            return np.sum(per_sample)  # bug: missing-1/N
        return np.mean(per_sample)

    def backward(self):
        if "ce-precedence" in self.bugs:
            return self.probs - self.y / self.n  # bug: ce-precedence
        if "missing-1/N" in self.bugs:
            return self.probs - self.y  # bug: missing-1/N
        if "sign" in self.bugs:
            return (self.y - self.probs) / self.n  # bug: sign
        return (self.probs - self.y) / self.n


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, key, param, grad):
        param -= self.lr * grad

    def step(self, net):
        for name, layer, attr in net.parameters():
            self.update(name, getattr(layer, attr), getattr(layer, "d" + attr))


class Adam(SGD):
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, bugs=NO_BUGS):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.bugs = _bugs(bugs)
        self.state = {}  # parameter name -> {"m": ..., "v": ..., "t": ...}

    def update(self, key, param, grad):
        if key not in self.state:
            self.state[key] = {"m": np.zeros_like(param), "v": np.zeros_like(param), "t": 0}
        s = self.state[key]
        s["t"] += 1
        s["m"] = self.beta1 * s["m"] + (1 - self.beta1) * grad
        s["v"] = self.beta2 * s["v"] + (1 - self.beta2) * grad ** 2
        c1, c2 = 1 - self.beta1 ** s["t"], 1 - self.beta2 ** s["t"]
        if "adam-bias-correction" in self.bugs:
            c1, c2 = 1 - self.beta1, 1 - self.beta2  # bug: adam-bias-correction
        m_hat = s["m"] / c1
        v_hat = s["v"] / c2
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Net:
    """Linear, ReLU, Linear, ..., Linear for the layer sizes ``sizes``."""

    def __init__(self, sizes, rng, dtype=np.float64, bugs=NO_BUGS):
        self.bugs = _bugs(bugs)
        self.layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                self.layers.append(ReLU(self.bugs))
            self.layers.append(Linear(sizes[i], sizes[i + 1], rng, dtype, self.bugs))

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self):
        """(name, layer, attribute) of every parameter: linear1.W, linear1.b, linear2.W, ..."""
        linears = [layer for layer in self.layers if isinstance(layer, Linear)]
        return [(f"linear{k}.{attr}", layer, attr)
                for k, layer in enumerate(linears, start=1) for attr in ("W", "b")]

    def zero_grad(self):
        for layer in self.layers:
            if isinstance(layer, Linear):
                layer.zero_grad()

    def train_step(self, x, y, loss_fn, optimizer):
        if "grad-accumulated" not in self.bugs:
            self.zero_grad()  # bug: grad-accumulated (this line left out)
        loss = loss_fn(self(x), y)
        self.backward(loss_fn.backward())
        optimizer.step(self)
        return loss


# ------------------------------------------------------------------------------------------
# Adapters: what this network's author hands to reference.compare_*.

LAYOUT, SAMPLES = "in_out", "rows"
LAYER_NAMES = ["W", "b"]  # a Linear layer alone, in torch's order (weight, bias)
STATE_NAMES = {"sgd": None, "adam": {"m": "exp_avg", "v": "exp_avg_sq", "t": "step"}}
OPTIMIZERS = ("sgd", "adam")


def network_names(n_linear):
    return [f"linear{k}.{attr}" for k in range(1, n_linear + 1) for attr in ("W", "b")]


def _load(net, params):
    for name, layer, attr in net.parameters():
        setattr(layer, attr, params[name])


def _loss_and_target(task, target, num_classes, dtype, bugs):
    if task == "classification":
        return CrossEntropyLoss(bugs), one_hot(target, num_classes, dtype)
    return MSELoss(bugs), target


def make_network(sizes, task, bugs=NO_BUGS):
    """forward_backward(params, x, target) -> (output, loss, grads, grad_x)."""
    def forward_backward(params, x, target):
        net = Net(sizes, np.random.default_rng(0), x.dtype, bugs)
        _load(net, params)
        loss_fn, y = _loss_and_target(task, target, sizes[-1], x.dtype, bugs)
        output = net(x)
        loss = loss_fn(output, y)
        grad_x = net.backward(loss_fn.backward())
        grads = {name: getattr(layer, "d" + attr) for name, layer, attr in net.parameters()}
        return output, loss, grads, grad_x
    return forward_backward


def make_layer(kind, bugs=NO_BUGS):
    """forward_backward(params, x, grad_out) -> (output, grads, grad_x) for "linear" or "relu"."""
    def forward_backward(params, x, grad_out):
        if kind == "relu":
            layer = ReLU(bugs)
            return layer(x), {}, layer.backward(grad_out)
        layer = Linear(*params["W"].shape, np.random.default_rng(0), x.dtype, bugs)
        layer.W, layer.b = params["W"], params["b"]
        output = layer(x)
        grad_x = layer.backward(grad_out)
        return output, {"W": layer.dW, "b": layer.db}, grad_x
    return forward_backward


def make_loss(task, bugs=NO_BUGS):
    """forward_backward(output, target) -> (loss, grad_output); targets: class indices or floats."""
    def forward_backward(output, target):
        loss_fn, y = _loss_and_target(task, target, output.shape[1], output.dtype, bugs)
        loss = loss_fn(output, y)
        return loss, loss_fn.backward()
    return forward_backward


def _optimizer(name, hyper, bugs):
    if name == "sgd":
        return SGD(lr=hyper["lr"])
    return Adam(lr=hyper["lr"], beta1=hyper["beta1"], beta2=hyper["beta2"], eps=hyper["eps"],
                bugs=bugs)


def make_optimizer(name, hyper, bugs=NO_BUGS):
    """(step(params, grads) updating params in place, state() or None)."""
    optimizer = _optimizer(name, hyper, bugs)

    def step(params, grads):
        for key in params:
            optimizer.update(key, params[key], grads[key])

    def state():
        return {key: dict(s) for key, s in optimizer.state.items()}
    return step, (state if name == "adam" else None)


def make_training(sizes, task, optimizer_name, hyper, bugs=NO_BUGS):
    """train_step(params, x, target) -> loss before the update; params updated in place."""
    optimizer = _optimizer(optimizer_name, hyper, bugs)
    net = None

    def train_step(params, x, target):
        nonlocal net
        if net is None:
            net = Net(sizes, np.random.default_rng(0), x.dtype, bugs)
        _load(net, params)
        loss_fn, y = _loss_and_target(task, target, sizes[-1], x.dtype, bugs)
        return net.train_step(x, y, loss_fn, optimizer)
    return train_step


def make_init(torch_shape, seed, dtype=np.float64, bugs=NO_BUGS):
    """init() -> a fresh (in, out) weight of a Linear(in, out); torch_shape is (out, in)."""
    out_dim, in_dim = torch_shape
    rng = np.random.default_rng(seed)

    def init():
        return Linear(in_dim, out_dim, rng, dtype, bugs).W
    return init
