"""zeronet against PyTorch, operation by operation and run by run."""
