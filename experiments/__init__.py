"""Experiments on top of zeronet: the seed's formulas, ablations and report runs."""
