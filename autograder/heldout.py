"""Judging a trained model on data the autograder controls (the "85% test" and its kin).

One mechanism for every assignment with a trained model (rnn, transformers, gnn): the hidden
test reads held-out inputs and targets *in the grading process*, sends only the inputs to the
student's predictor in the sandbox, and scores the predictions here. The targets never reach
student code, so a predictor cannot read them, and a constant predictor scores what a constant
scores.

Where the held-out data comes from: the instructor's file ``autograder/suites/<slug>/heldout/<name>``
when present (never committed: put it there before ``build``; see the README), otherwise the
committed synthetic sample ``heldout/sample_<name>``, which the bundled reference model is trained to
pass in smoke mode and which CI uses.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from coursekit.testing import CheckFailed, call, describe, expect


def heldout_path(suite_folder: Path, filename: str) -> Path:
    """The instructor's held-out file if present, else the bundled synthetic sample."""
    real = suite_folder / "heldout" / filename
    return real if real.exists() else suite_folder / "heldout" / f"sample_{filename}"


def judge_predictions(sub, predictor: str, inputs: Any, targets: Any, *, metric: Callable[[Any, Any], float],
                      bar: float, higher_is_better: bool, label: str, timeout: float = 120.0,
                      strict: bool = False) -> float:
    """Call ``predictor(inputs)`` in the sandbox, score it here, record it on the leaderboard and
    fail unless the score clears ``bar`` (``strict``: passes it, as "exceeds 85%" asks). Returns the score."""
    predictions = sub.run(call, predictor, inputs, timeout=timeout)
    try:
        value = float(metric(predictions, targets))
    except CheckFailed:
        raise
    except Exception as error:  # the predictions had the wrong form: say what came back
        raise CheckFailed(f"{predictor} returned {describe(predictions)}, which could not be scored ({error})") from None
    sub.record(label, value)
    if strict:
        passed = value > bar if higher_is_better else value < bar
        relation = "above" if higher_is_better else "below"
    else:
        passed = value >= bar if higher_is_better else value <= bar
        relation = "at least" if higher_is_better else "at most"
    expect(passed, f"{label} on the autograder's held-out data is {value:.4g}; the bar is {relation} {bar:g}")
    return value


def samples_in_use(suite_folder: Path) -> list[str]:
    """Held-out files still served by the generated sample (``heldout/sample_<name>``) because the
    instructor's real ``heldout/<name>`` is not there."""
    folder = suite_folder / "heldout"
    return [p.name.removeprefix("sample_") for p in sorted(folder.glob("sample_*"))
            if not (folder / p.name.removeprefix("sample_")).exists()]
