"""``grade``: submission → extraction → sandboxed run → judgement → results.json."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from autograder import containment
from autograder.course import sample_notice
from autograder.errors import SubmissionUnreadable
from coursekit.notebook import extract_definitions
from autograder.results import GradedTest, results_json, unreadable_results
from autograder.sandbox import SandboxedSubmission
from autograder.submission import open_submission
from autograder.suite import Suite, available_slugs, load_suite, runtime_files
from coursekit.testing import run_test


def grade_submission(suite: Suite, path: Path, sandbox_user: str | None = None) -> dict:
    """Grade one submission and return its results.json document. Never raises for bad input
    from the student: an unreadable submission scores 0 with the reason."""
    started = time.monotonic()
    containment.harden_grader()
    with tempfile.TemporaryDirectory(prefix="kit-grade-") as scratch:
        os.chmod(scratch, 0o711)  # the sandbox uid may pass through to its folder, and list nothing
        workdir = Path(scratch) / "submission"
        try:
            submission = open_submission(path, suite, workdir)
        except SubmissionUnreadable as problem:
            return unreadable_results(str(problem), time.monotonic() - started, max_score(suite))
        install_helpers(suite, workdir)
        extraction = extract_definitions(submission.notebook, set(suite.graded_names))
        wrong = wrong_assignment(submission.notebook, extraction, suite)
        if wrong:
            return unreadable_results(wrong, time.monotonic() - started, max_score(suite))
        sandbox = SandboxedSubmission(extraction, workdir, suite.limits, user=sandbox_user,
                                      preload=("torch", *suite.preload))
        sandbox.start()  # before the tests and held-out data are loaded: the child may be a fork of us
        try:
            graded = [GradedTest(run_test(fn, sandbox), hidden) for fn, hidden in suite.tests()]
        finally:
            sandbox.close()
    notice = " ".join(filter(None, [load_notice(extraction), sample_notice(suite)]))
    document = results_json(graded, time.monotonic() - started, sandbox.leaderboard, notice=notice)
    return scrub_secrets(document, suite)


def wrong_assignment(notebook: dict, extraction, suite: Suite) -> str:
    """Why this notebook is another assignment's ('' when it is this one's): the slug a handout
    notebook carries in its metadata or, failing that, graded names of another assignment only."""
    slug = notebook.get("metadata", {}).get("kit", {}).get("slug") if isinstance(notebook.get("metadata"), dict) else None
    if not slug:
        defined = extraction.defined_names()
        if defined & set(suite.graded_names):
            return ""
        others = [s for s in available_slugs() if s != suite.slug
                  and len(defined & set(load_suite(s).graded_names)) >= 2]
        slug = others[0] if others else None
    if not slug or slug == suite.slug:
        return ""
    return (f"this is the {slug} notebook, but this is the {suite.slug} assignment, which expects {suite.slug}.ipynb: "
            f"upload your {suite.slug} notebook here (and the {slug} one to its own assignment)")


WITHHELD = ("withheld: the message quoted the hidden tests' source (reading the grader's files is not "
            "part of the assignment)")


def scrub_secrets(document: dict, suite: Suite) -> dict:
    """Replace any test output that quotes a line of the hidden tests (a second line of defence:
    the sandbox keeps those files out of the child's view where namespaces are permitted)."""
    secrets = secret_lines(suite)
    for test in document["tests"]:
        flat = re.sub(r"\s+", " ", test["output"])
        if any(line in flat for line in secrets):
            test["output"] = WITHHELD
    return document


def secret_lines(suite: Suite) -> list[str]:
    """Lines of code of the hidden tests long enough not to occur in feedback by chance."""
    path = suite.folder / "hidden_tests.py"
    if not path.exists():
        return []
    lines = {re.sub(r"\s+", " ", line.strip()) for line in path.read_text().splitlines()}
    return [line for line in lines if len(line) >= 24 and not line.startswith(("#", '"', "'", "f\"", "f'"))]


def install_helpers(suite: Suite, workdir: Path) -> None:
    """Put the kit's own copies of the handout's helper files and runtime beside the notebook,
    replacing any the student edited: graded code imports them as they were handed out."""
    for name, source in {**suite.helper_files(), **runtime_files()}.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, workdir / name)


def load_notice(extraction) -> str:
    """Cells that do not parse, named up front so the student knows what they cost."""
    if not extraction.problems:
        return ""
    broken = "; ".join(f"cell {p.cell}: {p.message}" for p in extraction.problems)
    return f"Some cells could not be read and were skipped ({broken})."


def max_score(suite: Suite) -> float:
    return sum(fn.kit_test.points for fn, _ in suite.tests())
