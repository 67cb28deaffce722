"""Where layers get their parameters: consecutive slices of one large block.

An optimizer step does the same element-wise arithmetic on every parameter,
so it can run once over all of a model's parameters instead of once per
parameter: a few NumPy calls instead of a few per parameter, and for the
seed's small networks those calls are most of the step. That needs the
parameters to lie end to end in memory. So a ``Linear`` layer does not
allocate its weight and bias on its own: :func:`empty` hands out the next
slice of a block of ``BLOCK_SIZE`` elements (a new block when one is full).
Layers built one after another, such as a model's, lie end to end;
``relu_mlp`` first :func:`reserve`\\ s its total, so that its layers never
straddle two blocks. Nothing is ever moved: a ``Parameter.data`` stays the
array it was created as, and an optimizer updates that very array (see
``zeronet.optim.flat`` for how it finds out that it may update them all at
once).

A block lives as long as any array cut from it; memory the OS never had to
touch (the unused end of a block) costs nothing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

#: Elements per block (8 MB of float64); a request larger than this gets a block of its own.
BLOCK_SIZE = 1 << 20

_lock = threading.Lock()
#: dtype -> (the current block, how many of its elements are handed out)
_blocks: dict[np.dtype, tuple[np.ndarray, int]] = {}


def _room(size: int, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """The current block of ``dtype`` and its first free index, with ``size`` elements free."""
    block, used = _blocks.get(dtype, (None, 0))
    if block is None or used + size > block.size:
        block, used = np.empty(max(BLOCK_SIZE, size), dtype=dtype), 0
        _blocks[dtype] = (block, used)
    return block, used


def empty(shape: Sequence[int], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised array of ``shape`` and ``dtype``: the next slice of the current block."""
    dtype, size = np.dtype(dtype), math.prod(shape)
    with _lock:
        block, start = _room(size, dtype)
        _blocks[dtype] = (block, start + size)
    return block[start:start + size].reshape(shape)


def reserve(size: int, dtype: np.dtype | type) -> None:
    """Make the next ``size`` elements that :func:`empty` hands out come from one block."""
    with _lock:
        _room(size, np.dtype(dtype))


def end_to_end(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Copies of ``arrays`` (one dtype) that lie end to end, for Parameters built by hand."""
    dtype = np.result_type(*arrays)
    reserve(sum(a.size for a in arrays), dtype)
    copies = [empty(a.shape, dtype) for a in arrays]
    for copy, a in zip(copies, arrays, strict=True):
        copy[...] = a
    return copies
