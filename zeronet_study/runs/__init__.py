"""The study's runs: configs, data, models, trainers, the loop, the seed's formulas, ablations."""
