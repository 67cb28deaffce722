"""The study: training loop, report pipeline, benchmark engine, its commands."""
