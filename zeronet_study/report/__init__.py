"""``zeronet report``: build.py runs it all; results, summaries, tables, figures, text write it."""
