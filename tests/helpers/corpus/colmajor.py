"""A column-major network in the style of course notebooks (Nielsen's book, Ng's course).

Convention: samples are columns. X is (features, m), every weight
``weights[i]`` is (out, in), every bias ``biases[i]`` is (out, 1), and a layer
computes Z = W A + b; scores and probabilities are (C, m), regression targets
(D, m), class labels (m,). Gradients are lists ``nabla_w``, ``nabla_b`` of the
same shapes. Optimizers work on the flat list [W0, b0, W1, b1, ...]: plain
SGD, momentum (``velocity``, torch's form v = beta v + g) and Adam with Ng's
names ``v``, ``s``, ``t``. The adapters at the bottom tell the checker:
``layout="out_in"``, ``samples="columns"``, ``names={"weights[0]": "0.weight",
"biases[0]": "0.bias", ...}`` (a mapping), ``state_names={"velocity":
"momentum_buffer"}`` for momentum and ``{"v": "exp_avg", "s": "exp_avg_sq",
"t": "step"}`` for Adam.

Everything keeps the dtype it is given (float32 in, float32 out).

Injectable bugs (names in ``bugs``; each switches the line marked ``# bug: <name>``):

=======================  ==================================================================
extra-1/N                ``Network.backprop``: ``nabla_w = delta @ A.T / m`` and
                         ``nabla_b = ... / m`` (the course's 1/m, on an averaged delta)
missing-1/N              ``mse_cost``/``ce_cost``: summed over the m samples; the gradients
                         (``softmax_cross_entropy``, inline in ``train_step``) without ``/ m``
factor                   ``mse_cost``: ``0.5 * sum`` of the squares and ``dA = A - Y``
                         (eq. 1-5's E = 1/2 sum, against torch's mean)
sign                     ``mse_cost``/``softmax_cross_entropy`` (and inline in ``train_step``)
                         return delta = -dC/dA: ``2 * (Y - A) / ...``, ``(Y - P) / m``
transposed               ``Network.backprop``: ``nabla_w = A @ delta.T``, an (in, out) gradient
relu-at-0                ``relu_backward``: ``dA * (Z >= 0)``
ce-precedence            ``softmax_cross_entropy`` and the gradient written inline in
                         ``Network.train_step``: ``P - Y / m``
softmax-overflow         ``ce_cost``: the cost is ``-log(softmax(Z))``, the log of the
                         probabilities: -log(0) = inf once one underflows
input-mutated            ``Network.backprop``: dA_prev is written into the cached activation
                         ``A[...] = W.T @ delta`` "to save memory", which for layer 0 is X
grad-mutated             ``relu_backward``: ``dZ = dA; dZ[Z <= 0] = 0`` (the copy forgotten)
adam-bias-correction     ``Adam.update``: ``v / (1 - beta1)``, ``s / (1 - beta2)``
grad-accumulated         ``Network.train_step``: ``self.zero_grad()`` runs on the first step
                         only, so every step adds into the previous sums
init-fan                 ``init_weights``: ``bound = 1 / sqrt(n_out)`` (W.shape[0])
init-gain                ``init_weights``: ``bound = sqrt(6 / n_in)`` (He's ReLU bound for
                         torch's default)
init-distribution        ``init_weights``: normal with the same std as U(-bound, bound)
init-zero                ``init_weights``: ``W = np.zeros(...)``
=======================  ==================================================================

The default initialisation is torch.nn.Linear's: W and b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)).
"""

from __future__ import annotations

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
        raise ValueError(f"colmajor: unknown bugs {sorted(bugs - BUGS)}; known: {sorted(BUGS)}")
    return bugs


def init_weights(sizes, rng, dtype=np.float64, bugs=NO_BUGS):
    """weights[i] (sizes[i+1], sizes[i]) and biases[i] (sizes[i+1], 1), like torch.nn.Linear."""
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):  # noqa: RUF007 (Nielsen's idiom)
        bound = 1 / np.sqrt(n_in)
        if "init-fan" in bugs:
            bound = 1 / np.sqrt(n_out)  # bug: init-fan
        if "init-gain" in bugs:
            bound = np.sqrt(6 / n_in)  # bug: init-gain
        W = rng.uniform(-bound, bound, (n_out, n_in))
        if "init-distribution" in bugs:
            W = rng.normal(0, bound / np.sqrt(3), (n_out, n_in))  # bug: init-distribution
        if "init-zero" in bugs:
            W = np.zeros((n_out, n_in))  # bug: init-zero
        weights.append(W.astype(dtype))
        biases.append(rng.uniform(-1 / np.sqrt(n_in), 1 / np.sqrt(n_in), (n_out, 1)).astype(dtype))
    return weights, biases


def relu(Z):
    return np.maximum(Z, 0)


def relu_backward(dA, Z, bugs=NO_BUGS):
    if "grad-mutated" in bugs:
        dZ = dA  # bug: grad-mutated
        dZ[Z <= 0] = 0
        return dZ
    if "relu-at-0" in bugs:
        return dA * (Z >= 0)  # bug: relu-at-0
    return dA * (Z > 0)


def softmax(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def log_softmax(Z):
    shifted = Z - Z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def ce_cost(Z, labels, bugs=NO_BUGS):
    """Mean cross-entropy of the scores Z (C, m) for class labels (m,)."""
    m = Z.shape[1]
    log_p = log_softmax(Z)
    if "softmax-overflow" in bugs:
        log_p = np.log(softmax(Z))  # bug: softmax-overflow
    total = -np.sum(log_p[labels, np.arange(m)])
    if "missing-1/N" in bugs:
        return total  # bug: missing-1/N
    return total / m


def one_hot(labels, num_classes, dtype):
    """(C, m) with a 1 in row labels[i] of column i."""
    Y = np.zeros((num_classes, len(labels)), dtype=dtype)
    Y[labels, np.arange(len(labels))] = 1
    return Y


def softmax_cross_entropy(Z, labels, bugs=NO_BUGS):
    """(cost, dC/dZ) for scores Z (C, m)."""
    m = Z.shape[1]
    P = softmax(Z)
    Y = one_hot(labels, Z.shape[0], Z.dtype)
    dZ = (P - Y) / m
    if "missing-1/N" in bugs:
        dZ = P - Y  # bug: missing-1/N
    if "sign" in bugs:
        dZ = (Y - P) / m  # bug: sign
    if "ce-precedence" in bugs:
        dZ = P - Y / m  # bug: ce-precedence
    return ce_cost(Z, labels, bugs), dZ


def mse_cost(A, Y, bugs=NO_BUGS):
    """(cost, dC/dA): the mean of (A - Y)^2 over all D x m entries."""
    D, m = A.shape
    if "factor" in bugs:
        return 0.5 * np.sum((A - Y) ** 2), A - Y  # bug: factor
    if "missing-1/N" in bugs:
        return np.sum((A - Y) ** 2) / D, 2 * (A - Y) / D  # bug: missing-1/N
    if "sign" in bugs:
        return np.mean((A - Y) ** 2), 2 * (Y - A) / (D * m)  # bug: sign
    return np.mean((A - Y) ** 2), 2 * (A - Y) / (D * m)


class Network:
    def __init__(self, sizes, rng, dtype=np.float64, bugs=NO_BUGS):
        self.sizes = sizes
        self.bugs = _bugs(bugs)
        self.weights, self.biases = init_weights(sizes, rng, dtype, self.bugs)
        self.nabla_w = self.nabla_b = None

    def feedforward(self, X):
        """Scores (C, m) and the cache (activations, zs); no activation after the last layer."""
        activations, zs = [X], []
        A = X
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            Z = W @ A + b
            zs.append(Z)
            A = relu(Z) if i < len(self.weights) - 1 else Z
            activations.append(A)
        return A, (activations, zs)

    def backprop(self, dZ, cache):
        """nabla_w, nabla_b and dC/dX from dC/dZ of the last layer."""
        activations, zs = cache
        L = len(self.weights)
        m = dZ.shape[1]
        nabla_w, nabla_b = [None] * L, [None] * L
        delta = dZ
        for i in range(L - 1, -1, -1):
            A = activations[i]
            nabla_w[i] = delta @ A.T
            if "transposed" in self.bugs:
                nabla_w[i] = A @ delta.T  # bug: transposed
            nabla_b[i] = delta.sum(axis=1, keepdims=True)
            if "extra-1/N" in self.bugs:
                nabla_w[i], nabla_b[i] = nabla_w[i] / m, nabla_b[i] / m  # bug: extra-1/N
            dA = self.weights[i].T @ delta
            if "input-mutated" in self.bugs:
                A[...] = dA  # bug: input-mutated (A is X when i == 0)
                dA = A
            if i > 0:
                delta = relu_backward(dA, zs[i - 1], self.bugs)
        return nabla_w, nabla_b, dA

    def params(self):
        """[W0, b0, W1, b1, ...]"""
        return [p for W, b in zip(self.weights, self.biases, strict=True) for p in (W, b)]

    def zero_grad(self):
        self.nabla_w = [np.zeros_like(W) for W in self.weights]
        self.nabla_b = [np.zeros_like(b) for b in self.biases]

    def train_step(self, X, target, optimizer, task):
        """One step on the mini-batch X (features, m); returns the cost before the update."""
        if "grad-accumulated" not in self.bugs or self.nabla_w is None:
            self.zero_grad()  # bug: grad-accumulated (only the first step resets)
        Z, cache = self.feedforward(X)
        m = X.shape[1]
        if task == "classification":
            cost = ce_cost(Z, target, self.bugs)
            P, Y = softmax(Z), one_hot(target, Z.shape[0], Z.dtype)
            dZ = (P - Y) / m  # dC/dZ written inline
            if "ce-precedence" in self.bugs:
                dZ = P - Y / m  # bug: ce-precedence
            if "missing-1/N" in self.bugs:
                dZ = P - Y  # bug: missing-1/N
            if "sign" in self.bugs:
                dZ = (Y - P) / m  # bug: sign
        else:
            cost, dZ = mse_cost(Z, target, self.bugs)
        delta_w, delta_b, _ = self.backprop(dZ, cache)
        for i in range(len(self.weights)):
            self.nabla_w[i] += delta_w[i]
            self.nabla_b[i] += delta_b[i]
        optimizer.update(self.params(), flat_grads(self.nabla_w, self.nabla_b))
        return cost


def flat_grads(nabla_w, nabla_b):
    """[dW0, db0, dW1, db1, ...], in the order of Network.params()."""
    return [g for nw, nb in zip(nabla_w, nabla_b, strict=True) for g in (nw, nb)]


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g


class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta = lr, beta
        self.velocity = None

    def update(self, params, grads):
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self.velocity[i] = self.beta * self.velocity[i] + g
            p -= self.lr * self.velocity[i]


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, bugs=NO_BUGS):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.bugs = _bugs(bugs)
        self.v = self.s = None
        self.t = 0

    def update(self, params, grads):
        if self.v is None:
            self.v = [np.zeros_like(p) for p in params]
            self.s = [np.zeros_like(p) for p in params]
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self.v[i] = self.beta1 * self.v[i] + (1 - self.beta1) * g
            self.s[i] = self.beta2 * self.s[i] + (1 - self.beta2) * g ** 2
            v_hat = self.v[i] / (1 - self.beta1 ** self.t)
            s_hat = self.s[i] / (1 - self.beta2 ** self.t)
            if "adam-bias-correction" in self.bugs:
                v_hat = self.v[i] / (1 - self.beta1)  # bug: adam-bias-correction
                s_hat = self.s[i] / (1 - self.beta2)
            p -= self.lr * v_hat / (np.sqrt(s_hat) + self.eps)


# ------------------------------------------------------------------------------------------
# Adapters: what this network's author hands to reference.compare_*.

LAYOUT, SAMPLES = "out_in", "columns"
LAYER_NAMES = {"W": "weight", "b": "bias"}  # a linear layer alone
STATE_NAMES = {"sgd": None, "momentum": {"velocity": "momentum_buffer"},
               "adam": {"v": "exp_avg", "s": "exp_avg_sq", "t": "step"}}
OPTIMIZERS = ("sgd", "momentum", "adam")


def network_names(n_linear):
    names = {}
    for i in range(n_linear):
        names[f"weights[{i}]"] = f"{2 * i}.weight"
        names[f"biases[{i}]"] = f"{2 * i}.bias"
    return names


def _flat_names(n_linear):
    return [n for i in range(n_linear) for n in (f"weights[{i}]", f"biases[{i}]")]


def _network(sizes, params, dtype, bugs):
    net = Network(sizes, np.random.default_rng(0), dtype, bugs)
    net.weights = [params[f"weights[{i}]"] for i in range(len(sizes) - 1)]
    net.biases = [params[f"biases[{i}]"] for i in range(len(sizes) - 1)]
    return net


def _cost(task, Z, target, bugs):
    if task == "classification":
        return softmax_cross_entropy(Z, target, bugs)
    return mse_cost(Z, target, bugs)


def make_network(sizes, task, bugs=NO_BUGS):
    """forward_backward(params, X, target) -> (output, loss, grads, grad_X), all columns."""
    bugs = _bugs(bugs)

    def forward_backward(params, X, target):
        net = _network(sizes, params, X.dtype, bugs)
        Z, cache = net.feedforward(X)
        cost, dZ = _cost(task, Z, target, bugs)
        nabla_w, nabla_b, dX = net.backprop(dZ, cache)
        grads = dict(zip(_flat_names(len(sizes) - 1), flat_grads(nabla_w, nabla_b), strict=True))
        return Z, cost, grads, dX
    return forward_backward


def make_layer(kind, bugs=NO_BUGS):
    """forward_backward(params, X, grad_out) -> (output, grads, grad_X) for "linear" or "relu"."""
    bugs = _bugs(bugs)

    def forward_backward(params, X, grad_out):
        if kind == "relu":
            return relu(X), {}, relu_backward(grad_out, X, bugs)
        net = _network(params["W"].shape[::-1], {"weights[0]": params["W"],
                                                 "biases[0]": params["b"]}, X.dtype, bugs)
        Z, cache = net.feedforward(X)
        nabla_w, nabla_b, dX = net.backprop(grad_out, cache)
        return Z, {"W": nabla_w[0], "b": nabla_b[0]}, dX
    return forward_backward


def make_loss(task, bugs=NO_BUGS):
    """forward_backward(scores (C, m), target) -> (cost, dC/dscores)."""
    bugs = _bugs(bugs)

    def forward_backward(output, target):
        return _cost(task, output, target, bugs)
    return forward_backward


def _optimizer(name, hyper, bugs):
    if name == "sgd":
        return SGD(lr=hyper["lr"])
    if name == "momentum":
        return Momentum(lr=hyper["lr"], beta=hyper["momentum"])
    return Adam(lr=hyper["lr"], beta1=hyper["beta1"], beta2=hyper["beta2"], eps=hyper["eps"],
                bugs=bugs)


def make_optimizer(name, hyper, bugs=NO_BUGS):
    """(step(params, grads) updating the arrays in place, state() or None)."""
    optimizer = _optimizer(name, hyper, _bugs(bugs))
    keys = []

    def step(params, grads):
        keys[:] = list(params)
        optimizer.update([params[k] for k in keys], [grads[k] for k in keys])

    def state():
        if name == "momentum":
            return {k: {"velocity": v} for k, v in zip(keys, optimizer.velocity, strict=True)}
        return {k: {"v": v, "s": s, "t": optimizer.t}
                for k, v, s in zip(keys, optimizer.v, optimizer.s, strict=True)}
    return step, (None if name == "sgd" else state)


def make_training(sizes, task, optimizer_name, hyper, bugs=NO_BUGS):
    """train_step(params, X, target) -> cost before the update; params updated in place."""
    bugs = _bugs(bugs)
    optimizer = _optimizer(optimizer_name, hyper, bugs)
    net = None

    def train_step(params, X, target):
        nonlocal net
        if net is None:
            net = _network(sizes, params, X.dtype, bugs)
        net.weights = [params[f"weights[{i}]"] for i in range(len(sizes) - 1)]
        net.biases = [params[f"biases[{i}]"] for i in range(len(sizes) - 1)]
        return net.train_step(X, target, optimizer, task)
    return train_step


def make_init(torch_shape, seed, dtype=np.float64, bugs=NO_BUGS):
    """init() -> a fresh (out, in) weights[0] of init_weights([in, out])."""
    out_dim, in_dim = torch_shape
    rng = np.random.default_rng(seed)

    def init():
        return init_weights([in_dim, out_dim], rng, dtype, _bugs(bugs))[0][0]
    return init
