"""The benchmarks: twins (cases.py), the engine that times them, the table and its targets."""
