"""Assignments as data: one folder per slug under ``autograder/suites/``.

A suite folder holds everything the engine needs to know about one assignment, and nothing the
engine's code must change for:

* ``suite.toml``: the graded names, the extra files a submission carries, limits, Colab packages;
* ``public_tests.py``: self-checks, shipped to students and graded visibly;
* ``hidden_tests.py``: the hidden tests, only in the Gradescope ``autograder.zip``;
* ``handout/``: helper modules copied into the student handout (data loaders, say);
* ``heldout/``: data the autograder keeps for judging trained models (never in the handout).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from autograder import testkit
from autograder.errors import UserError
from autograder.sandbox import Limits

KIT_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = Path(__file__).resolve().parent / "suites"
SHARED_HANDOUT_DIR = Path(__file__).resolve().parent / "handout"
# Engine modules that students need too, and the names they have in a handout.
KIT_HELPERS = {"testkit.py": Path(__file__).resolve().parent / "testkit.py",
               "kit_extract.py": Path(__file__).resolve().parent / "extract.py",
               "kit_written.py": Path(__file__).resolve().parent / "written_answers.py"}
SLUGS = ("foundations", "rnn", "attention", "transformers", "gnn", "generative")
# Limits that override every suite's, e.g. KIT_LIMITS="call_seconds = 60" on a slow machine; the
# kit's own tests shorten the hangs they provoke with it. Set by whoever runs the grader, never by
# a submission (student code runs in a child with an environment of its own).
LIMITS_VARIABLE = "KIT_LIMITS"


@dataclass
class Suite:
    slug: str
    folder: Path
    title: str
    graded_names: list[str]
    extra_files: list[str] = field(default_factory=list)
    max_file_mb: float = 50.0
    colab_packages: list[str] = field(default_factory=list)
    shared_helpers: list[str] = field(default_factory=list)
    word_limits: dict[str, int] = field(default_factory=dict)  # written answer -> words (a warning)
    preload: list[str] = field(default_factory=list)  # libraries besides torch that the grader imports
    # before starting the submission's process, which then shares them (see autograder.fork_start)
    limits: Limits = field(default_factory=Limits)

    @property
    def master_path(self) -> Path:
        return KIT_ROOT / "solutions" / f"{self.slug}.ipynb"

    @property
    def handout_dir(self) -> Path:
        return KIT_ROOT / "assignments" / self.slug

    def helper_files(self) -> dict[str, Path]:
        """Helper modules the handout carries, by their name there: the kit's, then the suite's."""
        files = dict(KIT_HELPERS)
        files.update({name: SHARED_HANDOUT_DIR / name for name in self.shared_helpers})
        if (self.folder / "handout").is_dir():
            files.update({p.name: p for p in sorted((self.folder / "handout").glob("*.py"))})
        return files

    def tests(self) -> list[tuple[object, bool]]:
        """``(test function, hidden)`` for every test, public ones first."""
        found = []
        for filename, hidden in (("public_tests.py", False), ("hidden_tests.py", True)):
            path = self.folder / filename
            if path.exists():
                found += [(fn, hidden) for fn in testkit.collect_tests(load_test_module(path, self))]
        return found


def load_test_module(path: Path, suite: "Suite | str"):
    """Import a test file as the grader sees it: ``import testkit`` resolves to the kit's own
    testkit, and the handout's helper modules import by their plain names, as in the handout."""
    suite = load_suite(suite) if isinstance(suite, str) else suite
    sys.modules.setdefault("testkit", testkit)
    for name, helper in suite.helper_files().items():
        if name not in KIT_HELPERS:
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
    return Suite(slug=slug, folder=folder, limits=limits, **config)


def limit_overrides() -> dict:
    """``KIT_LIMITS`` as a dict: ``name = value`` pairs of ``Limits``, separated by commas or lines."""
    text = os.environ.get(LIMITS_VARIABLE, "").strip()
    if not text:
        return {}
    try:
        overrides = tomllib.loads(text.replace(",", "\n"))
    except tomllib.TOMLDecodeError as error:
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
