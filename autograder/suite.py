"""Assignments as data: what the engine knows about one assignment, read from two folders.

``autograder/suites/<slug>/`` holds what only the grader sees:

* ``suite.toml``: the graded names, the extra files a submission carries, limits, Colab packages;
* ``hidden_tests.py``: the hidden tests, only in the Gradescope ``autograder.zip``;
* ``heldout/``: data the autograder keeps for judging trained models (never in the handout).

``assignments/<slug>/`` holds what the student is handed, each file once:

* ``<slug>.ipynb`` and ``assignment.json``: generated from the master by ``build`` (committed);
* ``public_tests.py``: self-checks, shipped to students and graded visibly;
* every other ``*.py``: the assignment's own helper modules (data loaders, say).

The student runtime (``coursekit/``) and ``collect_submission.py`` are the same in every handout:
``build`` writes them there from the kit's root, and git ignores those copies.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path

from coursekit import testing
from autograder.errors import UserError
from autograder.sandbox import Limits

KIT_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = Path(__file__).resolve().parent / "suites"
RUNTIME_DIR = KIT_ROOT / "coursekit"  # the student runtime, written into every handout
COLLECT_SCRIPT = KIT_ROOT / "collect_submission.py"
SLUGS = ("foundations", "rnn", "attention", "transformers", "gnn", "generative")
# Limits that override every suite's, e.g. KIT_LIMITS="call_seconds = 60" on a slow machine; the
# kit's own tests shorten the hangs they provoke with it. Set by whoever runs the grader, never by
# a submission (student code runs in a child with an environment of its own). A notebook's check()
# reads its statement_seconds too, through the same parser (coursekit.testing.limits_from_environment).
LIMITS_VARIABLE = testing.LIMITS_VARIABLE


@dataclass
class Suite:
    slug: str
    folder: Path
    title: str
    graded_names: list[str]
    extra_files: list[str] = field(default_factory=list)
    required_files: dict[str, str] = field(default_factory=dict)  # file (or pattern) -> the graded name loading it
    max_file_mb: float = 50.0
    colab_packages: list[str] = field(default_factory=list)
    word_limits: dict[str, int] = field(default_factory=dict)  # written answer -> words (a warning)
    preload: list[str] = field(default_factory=list)  # libraries besides torch that the grader imports
    # before starting the submission's process, which then shares them (see autograder.fork_start)
    limits: Limits = field(default_factory=Limits)
    # graded name -> the points of all its tests together (the homework's share of the assignment);
    # a name left out keeps the points its test files declare
    points: dict[str, float] = field(default_factory=dict)

    @property
    def master_path(self) -> Path:
        return KIT_ROOT / "solutions" / f"{self.slug}.ipynb"

    @property
    def handout_dir(self) -> Path:
        return KIT_ROOT / "assignments" / self.slug

    @property
    def public_tests_path(self) -> Path:
        return self.handout_dir / "public_tests.py"

    @property
    def hidden_tests_path(self) -> Path:
        return self.folder / "hidden_tests.py"

    def helper_files(self) -> dict[str, Path]:
        """The assignment's own helper modules, by name: the handout's ``*.py`` files but its
        public tests and the generated ``collect_submission.py``."""
        skip = {self.public_tests_path.name, COLLECT_SCRIPT.name}
        return {p.name: p for p in sorted(self.handout_dir.glob("*.py")) if p.name not in skip}

    def tests(self) -> list[tuple[object, bool]]:
        """``(test function, hidden)`` for every test, public ones first."""
        found = []
        for path, hidden in ((self.public_tests_path, False), (self.hidden_tests_path, True)):
            if path.exists():
                found += [(fn, hidden) for fn in testing.collect_tests(load_test_module(path, self))]
        return self._with_points(found)

    def _with_points(self, found: list[tuple[object, bool]]) -> list[tuple[object, bool]]:
        """Give each graded name listed in ``points`` that total, shared among its tests in the
        proportions their test files declare (so a test file's points are weights)."""
        by_name = defaultdict(list)
        for fn, _ in found:
            fn.__dict__.setdefault("kit_weight", fn.kit_test.points)
            by_name[fn.kit_test.graded_name].append(fn)
        for name, fns in by_name.items():
            declared = sum(fn.kit_weight for fn in fns)
            if name not in self.points or declared <= 0:
                continue
            shares = [round(self.points[name] * fn.kit_weight / declared, 4) for fn in fns]
            shares[-1] = round(self.points[name] - sum(shares[:-1]), 4)  # the shares add up to the total exactly
            for fn, share in zip(fns, shares):
                fn.kit_test = dataclasses.replace(fn.kit_test, points=share)
        return found


def runtime_files() -> dict[str, Path]:
    """The student runtime, by its path in a handout (``coursekit/testing.py``...): graded code
    imports it as the student's notebook does."""
    return {f"coursekit/{p.name}": p for p in sorted(RUNTIME_DIR.glob("*.py"))}


def common_handout_files() -> dict[str, Path]:
    """What every handout carries besides the assignment's own files: the runtime and the packager."""
    return {**runtime_files(), COLLECT_SCRIPT.name: COLLECT_SCRIPT}


def load_test_module(path: Path, suite: "Suite | str"):
    """Import a test file as the grader sees it: the handout's helper modules import by their
    plain names, as in the handout."""
    suite = load_suite(suite) if isinstance(suite, str) else suite
    for helper in suite.helper_files().values():
        _import_helper(helper)
    name = f"kit_suite_{suite.slug}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _import_helper(path: Path) -> None:
    """Make a suite's handout helper importable by its plain name, as it is in the handout."""
    if path.stem in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)


def import_helper(suite: "Suite", name: str):
    """A suite's handout helper module (``gnn_data``), imported by its plain name as the tests do."""
    _import_helper(suite.helper_files()[f"{name}.py"])
    return sys.modules[name]


def load_suite(slug: str) -> Suite:
    """The suite of ``slug``, or a one-line error listing the slugs there are."""
    folder = SUITES_DIR / slug
    config_path = folder / "suite.toml"
    if not config_path.exists():
        known = ", ".join(available_slugs()) or "none yet"
        raise UserError(f"unknown assignment {slug!r}: choose one of {known}")
    try:
        config = tomllib.loads(config_path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{config_path} does not parse: {error}") from None
    limits = Limits(**{**config.pop("limits", {}), **limit_overrides()})
    suite = Suite(slug=slug, folder=folder, limits=limits, **config)
    unknown = sorted(set(suite.points) - set(suite.graded_names))
    if unknown:
        raise UserError(f"{config_path}: [points] names {', '.join(unknown)}, which are not graded names; "
                        f"use one of {', '.join(suite.graded_names)}")
    import fnmatch

    for name in suite.required_files:
        if not any(name == pattern or fnmatch.fnmatch(name, pattern) for pattern in suite.extra_files):
            raise UserError(f"{config_path}: required file {name} matches no pattern of extra_files; add it there")
    return suite


def limit_overrides() -> dict:
    """``KIT_LIMITS`` as a dict: ``name = value`` pairs of ``Limits``, separated by commas or lines."""
    try:
        overrides = testing.limits_from_environment()
    except tomllib.TOMLDecodeError as error:
        text = os.environ.get(LIMITS_VARIABLE, "").strip()
        raise UserError(f"{LIMITS_VARIABLE}={text!r} does not parse ({error}): write e.g. "
                        f"{LIMITS_VARIABLE}='call_seconds = 60, memory_mb = 8192'") from None
    unknown = sorted(set(overrides) - {f.name for f in fields(Limits)})
    if unknown:
        raise UserError(f"{LIMITS_VARIABLE} names no limit {unknown[0]!r}: choose among "
                        f"{', '.join(f.name for f in fields(Limits))}")
    return overrides


def available_slugs() -> list[str]:
    """Slugs with a suite, in the course's order."""
    present = {p.parent.name for p in SUITES_DIR.glob("*/suite.toml")}
    return [s for s in SLUGS if s in present] + sorted(present - set(SLUGS))


def resolve_slugs(requested: list[str]) -> list[str]:
    """The slugs a command should act on: those named, or all of them."""
    if not requested:
        return available_slugs()
    for slug in requested:
        load_suite(slug)  # raises the one-line error for an unknown slug
    return list(requested)
