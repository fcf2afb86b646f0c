"""Score code variants against an assignment's tests, in-process and fast.

A variant is the master's definitions with some of them replaced, the way a student's buggy or
alternative answer would replace them. The same tests the grader runs judge it, through
``VariantSubmission`` (no sandbox: these are our own snippets), so a suite can check dozens of
variants in seconds. Like the grader, it answers ``sub.source_of(name)`` from the notebook's
extracted definitions (the variant's cell included), so a "does not call the built-in" check
judges the same text here and in ``grade``.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections import defaultdict

import nbformat

from conftest import handout_on_path

from autograder.suite import load_suite
from coursekit.notebook import Extraction, extract_definitions
from coursekit.testing import LocalSubmission, run_test


class VariantSubmission(LocalSubmission):
    """A variant's namespace, with the grader's answer to ``source_of``: the source of the last
    extracted definition of the name (``autograder.sandbox.SandboxedSubmission.source_of``)."""

    def __init__(self, namespace: dict, extraction: Extraction):
        super().__init__(namespace)
        self.extraction = extraction

    def source_of(self, name: str) -> str:
        statement = self.extraction.last_definition(name)
        return statement.source if statement else ""


def variant_extraction(slug: str, replacement: str = "") -> Extraction:
    """What the grader extracts from the master with ``replacement`` as one more cell at the end."""
    suite = load_suite(slug)
    notebook = nbformat.read(str(suite.master_path), as_version=4)
    if replacement:
        notebook.cells.append(nbformat.v4.new_code_cell(replacement))
    return extract_definitions(notebook, set(suite.graded_names))


def master_namespace(slug: str, replacement: str = "") -> dict:
    """The master's definitions, then ``replacement`` on top (a later definition wins)."""
    suite = load_suite(slug)
    notebook = nbformat.read(str(suite.master_path), as_version=4)
    namespace: dict = {"__name__": "__main__"}
    with _inside(suite):
        for statement in extract_definitions(notebook, set(suite.graded_names)).statements:
            exec(compile(statement.source, f"<cell {statement.cell}>", "exec"), namespace)
        exec(compile(replacement, "<cell variant>", "exec"), namespace)
    return namespace


@functools.cache
def suite_tests(slug: str) -> tuple:
    """The suite's public and hidden test functions, loaded once per test session."""
    return tuple(fn for fn, _hidden in load_suite(slug).tests())


def outcomes(slug: str, replacement: str = "", only: str | None = None) -> list:
    """The outcome of every test (``only``: of that graded name's tests) for the master with
    ``replacement`` on top."""
    namespace = master_namespace(slug, replacement)
    extraction = variant_extraction(slug, replacement)
    with _inside(load_suite(slug)):
        return [run_test(fn, VariantSubmission(namespace, extraction)) for fn in suite_tests(slug)
                if only is None or fn.kit_test.graded_name == only]


def scores(slug: str, replacement: str = "", only: str | None = None) -> dict[str, tuple[float, float]]:
    """``{graded name: (points earned, points possible)}`` for the master with ``replacement``;
    ``only`` runs just that graded name's tests (faster)."""
    earned: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for outcome in outcomes(slug, replacement, only):
        earned[outcome.spec.graded_name][0] += outcome.score
        earned[outcome.spec.graded_name][1] += outcome.spec.points
    return {name: (got, possible) for name, (got, possible) in earned.items()}


def points(slug: str, replacement: str, graded_name: str) -> tuple[float, float]:
    """``(points earned, points possible)`` of one graded name for the master with ``replacement``."""
    return scores(slug, replacement, only=graded_name).get(graded_name, (0.0, 0.0))


def messages(slug: str, replacement: str, graded_name: str) -> list[str]:
    """The failure messages a variant gets on one graded name's tests."""
    return [o.message for o in outcomes(slug, replacement, graded_name) if not o.passed]


@contextlib.contextmanager
def _inside(suite):
    """Run where the master runs: its folder, with the handout's helper modules importable."""
    before_cwd, before_path = os.getcwd(), list(sys.path)
    os.chdir(suite.master_path.parent)
    handout_on_path(suite.slug)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        sys.path[:] = before_path


def coverage_gaps(slug: str, bugs: dict, alternatives: dict) -> dict[str, tuple[int, int]]:
    """``{graded name: (bugs, alternatives)}`` for each name with fewer than three realistic bugs or
    two correct alternatives in the tables (issue 15: each name has at least that many)."""
    counts = {name: (len(bugs.get(name, {})), len(alternatives.get(name, {})))
              for name in load_suite(slug).graded_names}
    return {name: count for name, count in counts.items() if count[0] < 3 or count[1] < 2}
