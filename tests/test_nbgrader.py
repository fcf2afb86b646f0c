"""The nbgrader export: ``build --nbgrader`` writes a course directory that nbgrader itself can
release and autograde, and the master scores full marks there (the stub none)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import run_kit

from autograder.nbgrader_export import nbgrader_markers
from autograder.suite import load_suite

SLUG = "foundations"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the nbgrader command line of this environment in the course folder, headless."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "JUPYTER_PLATFORM_DIRS": "1"}
    finished = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished


def test_otter_markers_become_nbgrader_regions():
    source = "x = 1  # SOLUTION\ny = 2  # SOLUTION\nprint(x)\ndef f():\n    # BEGIN SOLUTION NO PROMPT\n    return 3\n    # END SOLUTION"
    converted, changed = nbgrader_markers(source)
    assert changed
    assert converted.split("\n") == ["### BEGIN SOLUTION", "x = 1", "y = 2", "### END SOLUTION", "print(x)",
                                     "def f():", "    ### BEGIN SOLUTION", "    return 3", "    ### END SOLUTION"]
    assert nbgrader_markers("print('# SOLUTION is a word here')") == ("print('# SOLUTION is a word here')", False)


def test_nbgrader_round_trip(tmp_path):
    course = tmp_path / "course"
    built = run_kit("build", SLUG, "--nbgrader", "--nbgrader-dir", str(course))
    assert built.returncode == 0, built.stderr
    assert (course / "nbgrader_config.py").exists()
    assert (course / "kit_hidden" / SLUG / "hidden_tests.py").exists()
    assert not (course / "source" / SLUG / "hidden_tests.py").exists(), "hidden tests must stay out of source/"

    nbgrader(course, "generate_assignment", SLUG, "--force")
    released = course / "release" / SLUG
    assert not (released / "hidden_tests.py").exists()
    release_text = (released / f"{SLUG}.ipynb").read_text()
    assert "hidden_tests.py" not in release_text, "hidden test calls leaked into the student release"
    assert "b_AND = -1.5" not in release_text, "a solution leaked into the student release"
    assert "raise NotImplementedError()" in release_text

    # Two students hand in: the master (with its solutions) and the untouched release.
    for student, notebook in (("master", course / "source" / SLUG / f"{SLUG}.ipynb"),
                              ("stub", released / f"{SLUG}.ipynb")):
        target = course / "submitted" / student / SLUG
        target.mkdir(parents=True)
        shutil.copy2(notebook, target / f"{SLUG}.ipynb")
    autograded = nbgrader(course, "autograde", SLUG, "--force")
    assert "checksum" not in autograded.stderr + autograded.stdout, "hidden-test cells must not warn about checksums"

    from nbgrader.api import Gradebook

    suite = load_suite(SLUG)
    autograded_points = sum(fn.kit_test.points for fn, _ in suite.tests())
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        master = gradebook.find_submission(SLUG, "master")
        stub = gradebook.find_submission(SLUG, "stub")
        assert master.max_code_score == autograded_points
        assert master.code_score == autograded_points, _failures(course, "master")
        assert stub.code_score == 0
        from autograder.master import read_master, written_questions

        manual = sum(q.points for q in written_questions(read_master(suite.master_path), suite.master_path))
        assert master.max_written_score == manual, "each written question is a manually graded answer cell"


def _failures(course: Path, student: str) -> str:
    """The error outputs of the autograded notebook, to say why a test cell lost points."""
    notebook = json.loads((course / "autograded" / student / SLUG / f"{SLUG}.ipynb").read_text())
    return "\n".join(f"{o.get('ename')}: {o.get('evalue')}" for c in notebook["cells"] for o in c.get("outputs", [])
                     if o.get("output_type") == "error")
