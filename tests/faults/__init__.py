"""Faults: broken data files, interrupted downloads, NaN/inf in training, resuming."""
