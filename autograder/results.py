"""The results stage: Gradescope's results.json and the table printed for humans.

Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (``score``,
``execution_time``, ``output``, ``tests[]`` with ``name``, ``score``, ``max_score``, ``output``,
``visibility``; ``leaderboard``). Hidden tests are ``after_published``; the top-level output
tells the student how many hidden tests each graded name has, so nobody is surprised.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from coursekit.testing import Outcome


@dataclass(frozen=True)
class GradedTest:
    outcome: Outcome
    hidden: bool

    def as_gradescope(self) -> dict:
        return {
            "name": self.outcome.spec.name,
            "score": round(self.outcome.score, 4),
            "max_score": self.outcome.spec.points,
            "output": self.outcome.message,
            "visibility": "after_published" if self.hidden else "visible",
        }


def results_json(tests: list[GradedTest], seconds: float, leaderboard: dict[str, float] | None = None,
                 notice: str = "") -> dict:
    """The results.json document for one graded submission."""
    hidden = Counter(t.outcome.spec.graded_name for t in tests if t.hidden)
    summary = "; ".join(f"{name}: {count}" for name, count in hidden.items())
    output = "Graded from your notebook's definitions; training and plots were not re-run."
    output += f" {notice}" if notice else ""
    if summary:
        output += f" Hidden tests, shown after grades are published: {summary}."
    document = {
        "score": round(sum(t.outcome.score for t in tests), 4),
        "execution_time": round(seconds, 2),
        "output": output,
        "visibility": "visible",
        "tests": [t.as_gradescope() for t in tests],
    }
    if leaderboard:
        document["leaderboard"] = [{"name": k, "value": v} for k, v in leaderboard.items()]
    return document


def unreadable_results(reason: str, seconds: float, max_score: float) -> dict:
    """results.json for a submission that could not be opened at all: 0 points and the reason."""
    return {
        "score": 0.0,
        "execution_time": round(seconds, 2),
        "output": f"Your submission could not be graded: {reason}",
        "visibility": "visible",
        "tests": [{"name": "Submission: could be opened and read", "score": 0.0, "max_score": max_score,
                   "output": reason, "visibility": "visible"}],
    }


def grader_failure_results() -> dict:
    """results.json when the kit itself failed: nothing the student did, so say so."""
    return {"score": 0.0, "output": "The autograder failed on this submission through no fault of yours; "
                                    "the course staff have been told. Please tell them too.", "tests": []}


def write_json_atomically(document: dict, path: Path) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a results.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results-")
    with os.fdopen(handle, "w") as stream:
        json.dump(document, stream, indent=2)
    os.replace(temporary, path)


def table(document: dict) -> str:
    """A per-test table for the terminal."""
    rows = [(f"{t['score']:g}/{t['max_score']:g}", t["name"], "" if t["output"] == "passed" else t["output"])
            for t in document["tests"]]
    width = max((len(r[1]) for r in rows), default=10)
    lines = [f"{score:>7}  {name:<{width}}  {detail}".rstrip() for score, name, detail in rows]
    total = sum(t["max_score"] for t in document["tests"])
    lines.append(f"{document['score']:g}/{total:g} points in {document['execution_time']:.1f} s")
    return "\n".join(lines)
