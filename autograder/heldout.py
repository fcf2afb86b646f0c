"""Judging a trained model on data the autograder controls (the "85% test" and its kin).

One mechanism for every assignment with a trained model (rnn, transformers, gnn): the hidden
test reads held-out inputs and targets *in the grading process*, sends only the inputs to the
student's predictor in the sandbox, and scores the predictions here. The targets never reach
student code, so a predictor cannot read them, and a constant predictor scores what a constant
scores.

Where the held-out data comes from, first found:

1. the instructor's file ``autograder/suites/<slug>/heldout/<name>`` (never committed; ``build``
   also puts the real file of 2. there inside the release's autograder.zip);
2. the real held-out set, from the data root (``KIT_DATA``, ``--data``): for the "85% test", the
   official sentiment140 test file's 359 positive and negative tweets; for gnn, the 20% of
   WikipediaNetwork chameleon's pages that the handout's loader leaves out (``REAL_SOURCES``);
3. the committed generated sample ``heldout/sample_<name>``: for the kit's own fast tests (which
   ask for it with ``KIT_HELDOUT=sample``) and machines without the data. Every results.json graded
   on it says so, and ``build`` and ``verify`` warn.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from coursekit.data import DataUnavailable, data_root
from coursekit.testing import CheckFailed, call, describe, expect


BAR_PHRASE = "on the autograder's held-out data is"  # in every bar's failure message: verify looks for it


@dataclass(frozen=True)
class RealSource:
    """Where a held-out file's real default comes from: ``fetch(data_root)`` returns a file in the
    held-out file's format (or raises DataUnavailable); ``what`` names it in notices."""

    what: str
    fetch: Callable[[Path], Path]


def official_sentiment140_test(root: Path) -> Path:
    from coursekit.data import sentiment140_csv

    return sentiment140_csv(root, test=True, download_missing=False)


def chameleon_heldout(root: Path) -> Path:
    """gnn's held-out file, built (once, under the cache) from ``<root>/wikipedia/chameleon/raw/chameleon.npz``
    by the handout's own ``gnn_data``, which leaves the same pages out of the students' graph."""
    from autograder.suite import import_helper, load_suite

    return import_helper(load_suite("gnn"), "gnn_data").heldout_file(root / "wikipedia", "chameleon")


REAL_SOURCES: dict[str, RealSource] = {
    "sentiment140_heldout.csv": RealSource(
        "the official sentiment140 test file (testdata.manual.2009.06.14.csv: 359 positive or negative tweets)",
        official_sentiment140_test),
    "wikipedia_heldout.npz": RealSource(
        "WikipediaNetwork chameleon's held-out 20% (455 of its 2,277 pages, which the handout's loader leaves out)",
        chameleon_heldout),
}


@dataclass(frozen=True)
class HeldOut:
    path: Path
    kind: str  # "instructor", "real" or "sample"
    what: str


def heldout_source(suite_folder: Path, filename: str) -> HeldOut:
    """Which file judges the trained model: the instructor's, the real set from the data root, or
    the generated sample (see the module's docstring)."""
    own = suite_folder / "heldout" / filename
    if own.exists():
        return HeldOut(own, "instructor", f"heldout/{filename}")
    source = REAL_SOURCES.get(filename)
    if source and os.environ.get("KIT_HELDOUT") != "sample":
        try:
            return HeldOut(source.fetch(data_root()), "real", source.what)
        except DataUnavailable:
            pass
    return HeldOut(suite_folder / "heldout" / f"sample_{filename}", "sample", f"the generated sample_{filename}")


def heldout_path(suite_folder: Path, filename: str) -> Path:
    """The file that judges the trained model (``heldout_source``)."""
    return heldout_source(suite_folder, filename).path


def heldout_names(suite_folder: Path) -> list[str]:
    """The held-out files a suite reads: each has a committed ``heldout/sample_<name>``."""
    return [p.name.removeprefix("sample_") for p in sorted((suite_folder / "heldout").glob("sample_*"))]


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
    expect(passed, f"{label} {BAR_PHRASE} {value:.4g}; the bar is {relation} {bar:g}")
    return value


def samples_in_use(suite_folder: Path) -> list[str]:
    """Held-out files served by the generated sample: neither the instructor's file nor the real
    set is there (or ``KIT_HELDOUT=sample`` asked for the sample)."""
    return [name for name in heldout_names(suite_folder) if heldout_source(suite_folder, name).kind == "sample"]
