"""The study on top of zeronet: the seed's experiments re-run in zeronet and PyTorch.

* ``runs/``: the runs as data (configs), their data sets, models and trainers,
  the one training loop, the seed's formulas (errors included) and the
  ablation and sensitivity studies;
* ``bench/``: the benchmark twins (zeronet and torch doing the same work), the
  engine that times them, and the table with its speed targets;
* ``report/``: ``zeronet report``: running everything, the numbers as typed
  records (results.json), the tables, figures and text (Jinja2 templates) of
  report.md, written into a directory replaced atomically;
* ``commands.py``: ``zeronet report``, ``zeronet bench`` and ``zeronet check``,
  plugin subcommands of the library's ``zeronet`` command; ``threads.py``: one
  thread count for both frameworks; ``machine.py``: what the timings ran on;
  ``progress.py``: the report's progress and time left; ``records.py``: typed
  records to and from JSON.

Dependencies point one way: ``zeronet`` <- ``reference`` <- this package.
"""
