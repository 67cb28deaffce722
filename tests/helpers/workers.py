"""Stand-ins for an ablation case's run, for the worker-pool tests (run in spawned workers).

Each marks in a folder (``$ZERONET_TEST_MARKS``) when it starts and ends, and
sleeps between, so a test sees how many ran at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from zeronet_study.runs.ablation import Case, CaseResult

SECONDS = 0.3


def marked_case(case: Case, sine_dir: str) -> CaseResult:
    """Mark the start, sleep, mark the end; return a result naming the case's label."""
    marks = Path(os.environ["ZERONET_TEST_MARKS"])
    name = case.label.replace(" ", "_")
    (marks / f"start-{name}").touch()
    time.sleep(SECONDS)
    (marks / f"end-{name}").touch()
    return CaseResult(study=case.study, group=case.group, label=case.label,
                      formulas=case.formulas, init=case.config.init,
                      model_seed=case.config.model_seed, loader_seed=case.config.loader_seed,
                      data_seed=case.data_seed, epochs=case.config.epochs, train_loss=1.0,
                      test_loss=float(case.config.model_seed), best_test_loss=1.0,
                      mean_last_epochs=1, mean_last_train_loss=1.0, mean_last_test_loss=1.0,
                      diverged_at_step=None, diverged_at_epoch=None, diverged_loss=None)


def failing_first_case(case: Case, sine_dir: str) -> CaseResult:
    """``marked_case``, except that "case 0" fails at once."""
    if case.label == "case 0":
        raise RuntimeError(f"injected failure in {case.label}")
    return marked_case(case, sine_dir)
