"""Hypothesis fuzzing of every public function; the harness is harness.py."""
