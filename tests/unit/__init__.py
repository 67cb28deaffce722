"""The library's units: bad input, checkpoints, the optimizer's fast path, gradients, properties."""
