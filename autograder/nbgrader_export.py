"""The nbgrader export: the same masters as an nbgrader course directory, for JupyterHub courses.

``python -m autograder build --nbgrader [SLUG...]`` writes (default ``release/nbgrader/``)::

    nbgrader_config.py                 course settings (run nbgrader from this folder)
    source/<slug>/<slug>.ipynb         the master with nbgrader's markers and metadata
    source/<slug>/                     what the notebook imports: the coursekit runtime, helpers,
                                       public tests, kit_nbgrader.py (runs one kit test in the notebook)
    kit_hidden/<slug>/hidden_tests.py  the hidden tests: outside source/, so never released

Like the student version, the conversion is a list of small steps, each a function from notebook
to notebook (``STEPS``):

* otter's solution markers become nbgrader's (``### BEGIN SOLUTION`` / ``### END SOLUTION``; a
  one-line ``... # SOLUTION`` becomes a one-line region) and their cells become solution cells;
* each hand-graded question's answer cells become one "manually graded answer" cell worth its points;
* every kit test becomes one autograded-test cell worth the test's points, which runs that test on
  the notebook's globals through ``coursekit.testing.LocalSubmission``; a hidden test's call sits between
  ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, so nbgrader strips it from the release and
  puts it back when it autogrades.

nbgrader executes the whole notebook when it autogrades (its model, unlike ours): assignments that
train read ``KIT_SMOKE`` and should be autograded with ``KIT_SMOKE=1`` set.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from autograder.master import SETUP_TAG, convert_master, walk_written_questions
from autograder.suite import KIT_ROOT, Suite, runtime_files

DEFAULT_COURSE_DIR = KIT_ROOT / "release" / "nbgrader"
HIDDEN_DIR = "kit_hidden"
RUNNER = "kit_nbgrader.py"
SCHEMA_VERSION = 3

SETUP_SOURCE = """# Set-up: run this cell first. The helper files sit beside this notebook.
from coursekit.testing import check  # self-checks: check("name") prints what passed"""

RUNNER_SOURCE = '''"""Runs one of the course kit's tests inside this notebook (nbgrader's autograded-test cells).

Public tests are in public_tests.py beside the notebook; hidden tests are only where the instructor
autogrades (kit_hidden/<slug>/ in the nbgrader course folder, or $KIT_HIDDEN_TESTS).
"""
import importlib.util
import os
import sys
import types
from pathlib import Path

from coursekit import testing

_MODULES = {}


def _test_file(slug, filename):
    if filename == "public_tests.py" or Path(filename).exists():
        return Path(filename)
    override = os.environ.get("KIT_HIDDEN_TESTS")
    candidates = [Path(override) / filename] if override else []
    candidates += [folder / "HIDDEN_DIR" / slug / filename for folder in Path.cwd().resolve().parents]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{filename} of {slug} not found: hidden tests run only where the instructor autogrades")


def _module(slug, filename):
    if (slug, filename) not in _MODULES:
        path = _test_file(slug, filename)
        try:
            import autograder  # noqa: F401 (the kit, where it is installed)
        except ImportError:
            shim = types.ModuleType("autograder")
            shim.__path__ = [str(path.parent / "kit_autograder")]
            sys.modules["autograder"] = shim
        spec = importlib.util.spec_from_file_location(f"kit_nbgrader_{slug}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[slug, filename] = module
    return _MODULES[slug, filename]


def run_test(slug, filename, function):
    """Run one test on the calling notebook's globals; raise AssertionError with its message if it fails."""
    namespace = sys._getframe(1).f_globals
    test = getattr(_module(slug, filename), function)
    outcome = testing.run_test(test, testing.LocalSubmission(namespace))
    if not outcome.passed:
        raise AssertionError(f"{outcome.spec.name}: {outcome.message}")
    print(f"passed: {outcome.spec.name}")
'''.replace("HIDDEN_DIR", HIDDEN_DIR)

CONFIG_TEMPLATE = '''"""nbgrader settings written by `python -m autograder build --nbgrader`; run nbgrader from this folder."""
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = __import__("os").path.dirname(__import__("os").path.abspath(__file__))
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
# Grading executes the whole notebook: this is per cell; assignments that train should be graded
# with KIT_SMOKE=1 in the environment.
c.Execute.timeout = {timeout}
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}


# A hidden-test cell is released with its hidden call stripped, so its checksum always differs from
# the source's when autograde puts the call back: that warning (one per hidden test) says nothing.
# Tampering with any other locked cell is still reported.
class _HiddenTestChecksums(__import__("logging").Filter):
    def filter(self, record):
        return "Attribute 'checksum' for cell hidden-" not in record.getMessage()


__import__("logging").getLogger("AutogradeApp").addFilter(_HiddenTestChecksums())
'''


def export_course(suites: list[Suite], course_dir: Path = DEFAULT_COURSE_DIR) -> Path:
    """Write (or refresh) the nbgrader course directory for ``suites``; returns its path."""
    import tomllib

    course_dir.mkdir(parents=True, exist_ok=True)
    course = tomllib.loads((KIT_ROOT / "course.toml").read_text())
    course_id = re.sub(r"[^A-Za-z0-9_-]+", "-", course.get("course", "course")).strip("-").lower() or "course"
    timeout = int(max(s.limits.total_seconds for s in suites)) if suites else 300
    (course_dir / "nbgrader_config.py").write_text(CONFIG_TEMPLATE.format(course_id=course_id, timeout=timeout))
    for suite in suites:
        export_assignment(suite, course_dir)
    return course_dir


def export_assignment(suite: Suite, course_dir: Path) -> Path:
    """``source/<slug>/`` and ``kit_hidden/<slug>/`` for one assignment."""
    source = course_dir / "source" / suite.slug
    hidden = course_dir / HIDDEN_DIR / suite.slug
    for folder in (source, hidden):
        if folder.exists():
            shutil.rmtree(folder)  # build output: regenerated from the master every time
        folder.mkdir(parents=True)
    nbformat.write(nbgrader_notebook(suite), str(source / f"{suite.slug}.ipynb"))
    for name, path in {**runtime_files(), **suite.helper_files(), "public_tests.py": suite.public_tests_path}.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, source / name)
    (source / RUNNER).write_text(RUNNER_SOURCE)
    if suite.hidden_tests_path.exists():
        shutil.copy2(suite.hidden_tests_path, hidden / "hidden_tests.py")
    if (suite.folder / "heldout").is_dir():  # held-out data, real or sample, stays with the hidden tests
        shutil.copytree(suite.folder / "heldout", hidden / "heldout")
    # Hidden tests may use autograder.heldout; where the kit is not installed, this copy stands in.
    (hidden / "kit_autograder").mkdir()
    shutil.copy2(Path(__file__).resolve().parent / "heldout.py", hidden / "kit_autograder" / "heldout.py")
    # The master's artifacts (a trained checkpoint) stay out of source/: nbgrader would hand them to
    # students, and its autograde would overwrite each student's own checkpoint with them.
    return source


def nbgrader_notebook(suite: Suite) -> nbformat.NotebookNode:
    """The master, converted to nbgrader's source format."""
    return convert_master(suite, STEPS)


# ---------------------------------------------------------------------------------------------
# Steps


def nbgrader_metadata(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
                      points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution}
    if points is not None:
        meta["points"] = int(points) if float(points).is_integer() else points
    return meta


def write_setup_cell(notebook, suite: Suite):
    """The master's ``kit-setup`` cell: the helpers sit beside the notebook in nbgrader's folders."""
    for cell in notebook.cells:
        if SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = SETUP_SOURCE
            cell.metadata["nbgrader"] = nbgrader_metadata("kit-setup", locked=True)
    return notebook


def convert_written_answers(notebook, suite: Suite):
    """Each raw-delimited question becomes its prompt and one manually graded answer cell."""
    cells, answer = [], None
    for kind, cell, question in walk_written_questions(notebook.cells):
        if kind == "answer-start":
            answer = nbformat.v4.new_markdown_cell("")
            grade_id = _grade_id(question["name"]) if question else f"answer-{len(cells)}"
            answer.metadata["nbgrader"] = nbgrader_metadata(grade_id, solution=True, grade=True,
                                                            points=question["points"] if question else 0)
            cells.append(answer)
        elif kind == "answer":
            answer.source = "\n\n".join(s for s in (answer.source, cell.source) if s)
        else:
            cells.append(cell)
    notebook.cells = cells
    return notebook


def convert_code_solutions(notebook, suite: Suite):
    """Otter's markers become nbgrader's; a cell holding a solution becomes a solution cell."""
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or "nbgrader" in cell.metadata:
            continue
        source, changed = nbgrader_markers(cell.source)
        if changed:
            cell.source = source
            defined = re.search(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", source, re.M)
            name = next((g for g in defined.groups() if g), "") if defined else ""
            cell.metadata["nbgrader"] = nbgrader_metadata(_grade_id(f"cell-{number}-{name}"), solution=True)
    return notebook


def nbgrader_markers(source: str) -> tuple[str, bool]:
    """Otter's ``# BEGIN SOLUTION``/``# END SOLUTION``/``# SOLUTION`` as nbgrader's regions."""
    out, changed, in_prompt, one_liners = [], False, False, []

    def flush():
        if one_liners:
            indent = re.match(r"\s*", one_liners[0]).group(0)
            out.extend([f"{indent}### BEGIN SOLUTION", *one_liners, f"{indent}### END SOLUTION"])
            one_liners.clear()

    for line in source.split("\n"):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if re.fullmatch(r"#\s*BEGIN PROMPT", stripped, re.I):
            flush()
            in_prompt, changed = True, True  # nbgrader has no custom prompts: its code stub stands in
        elif re.fullmatch(r"#\s*END PROMPT", stripped, re.I):
            in_prompt = False
        elif in_prompt:
            continue
        elif re.fullmatch(r"#\s*BEGIN SOLUTION(\s+NO PROMPT)?", stripped, re.I):
            flush()
            out.append(f"{indent}### BEGIN SOLUTION")
            changed = True
        elif re.fullmatch(r"#\s*END SOLUTION", stripped, re.I):
            out.append(f"{indent}### END SOLUTION")
        elif re.search(r"\s#\s*SOLUTION\s*$", line) and not stripped.startswith("#"):
            one_liners.append(re.sub(r"\s*#\s*SOLUTION\s*$", "", line))
            changed = True
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out), changed


def append_test_cells(notebook, suite: Suite):
    """One autograded-test cell per kit test, worth its points, after a heading."""
    heading = nbformat.v4.new_markdown_cell(
        "## Autograder tests\n\nThese cells are run by the autograder; each is worth the points it names. "
        "Hidden tests appear here only when your notebook is graded.")
    heading.metadata["nbgrader"] = nbgrader_metadata("kit-tests-heading", locked=True)
    notebook.cells.append(heading)
    for fn, hidden in suite.tests():  # with the points suite.toml gives them
        filename = (suite.hidden_tests_path if hidden else suite.public_tests_path).name
        spec = fn.kit_test
        call = f"run_test({suite.slug!r}, {filename!r}, {fn.__name__!r})"
        body = f"### BEGIN HIDDEN TESTS\n{call}\n### END HIDDEN TESTS" if hidden else call
        points = f"{spec.points:g} point" + ("" if spec.points == 1 else "s")
        cell = nbformat.v4.new_code_cell(f"# {spec.name} ({points}{', hidden' if hidden else ''})\n"
                                         f"from kit_nbgrader import run_test\n{body}")
        grade_id = _grade_id(f"{'hidden' if hidden else 'public'}-{fn.__name__}")
        cell.metadata["nbgrader"] = nbgrader_metadata(grade_id, grade=True, locked=True, points=spec.points)
        notebook.cells.append(cell)
    return notebook


def clear_outputs(notebook, suite: Suite):
    """No outputs, no master-only metadata; the kernel nbgrader expects."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("nbgrader", "tags")}
        cell.pop("id", None)
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}
    notebook.nbformat, notebook.nbformat_minor = 4, 4
    return notebook


STEPS = [write_setup_cell, convert_written_answers, convert_code_solutions, append_test_cells, clear_outputs]


# ---------------------------------------------------------------------------------------------
# Helpers


def _grade_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "cell"
