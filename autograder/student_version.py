"""The student-version stage: master notebook in, student notebook out.

Like nbgrader's converters, the stage is a list of small steps, each a function from notebook to
notebook. To change what students get, add a step to ``STEPS``.
"""
from __future__ import annotations

import contextlib
import json
import string
from pathlib import Path

import nbformat

from autograder.course import course_settings
from autograder.errors import UserError
from autograder.master import SETUP_TAG, convert_master, walk_written_questions
from autograder.suite import Suite

STUB_PROMPT = "raise NotImplementedError  # TODO: write your code here (see the comments above)"
ANSWER_PLACEHOLDER = "_Type your answer here, replacing this text._"
CODE_PLACEHOLDER = "# TODO: write your code here"
MASTER_ONLY_TAG = "master-only"


def student_notebook(suite: Suite) -> nbformat.NotebookNode:
    """The student version of ``suite``'s master."""
    return convert_master(suite, STEPS)


def render(notebook: nbformat.NotebookNode) -> str:
    """The exact text the committed student notebook must have (stable, diff-friendly)."""
    return nbformat.writes(notebook, version=4) + "\n"


# ---------------------------------------------------------------------------------------------
# Steps


def write_setup_cell(notebook, suite: Suite):
    """Replace the master's ``kit-setup`` cell by the rendered Colab/laptop set-up cell."""
    setup = [c for c in notebook.cells if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    if len(setup) != 1 or notebook.cells.index(setup[0]) != 0:
        raise UserError(f"{suite.master_path}: the first cell must be the one code cell tagged '{SETUP_TAG}'")
    course = course_settings()
    template = string.Template((Path(__file__).parent / "templates" / "setup_cell.py").read_text())
    setup[0].source = template.substitute(
        course=course.get("course", ""), title=suite.title,
        handout_url=course["handout_url"].format(slug=suite.slug),
        colab_packages=json.dumps(suite.colab_packages + colab_extras())).rstrip("\n")
    return notebook


def append_hand_in_cell(notebook, suite: Suite):
    """A last cell that packages the notebook from inside it: on Colab, which has no terminal for
    ``collect_submission.py``, it is the way to hand in."""
    source = (Path(__file__).parent / "templates" / "hand_in_cell.py").read_text().rstrip("\n")
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    return notebook


def colab_extras() -> list[str]:
    """Packages every handout needs that Colab lacks, at pyproject's pins (fpdf2, for the PDF)."""
    from autograder.release import COLAB_EXTRAS, pyproject_pins  # release imports this module

    pins = pyproject_pins()
    return [pins[name] for name in COLAB_EXTRAS]


def drop_staff_notes(notebook, suite: Suite):
    """Cells tagged ``master-only`` (notes for course staff, such as how the shipped checkpoint was
    made) stay in the master."""
    notebook.cells = [c for c in notebook.cells if MASTER_ONLY_TAG not in c.get("metadata", {}).get("tags", [])]
    return notebook


def replace_written_answers(notebook, suite: Suite):
    """Raw-delimited solution blocks become one empty answer cell; question markers disappear."""
    cells, announced = [], set()
    for kind, cell, question in walk_written_questions(notebook.cells):
        if kind == "answer-start":
            cells.append(_answer_cell(question))
        elif kind == "cell":
            if question and cell.cell_type == "markdown" and question["name"] not in announced:
                cell.source += f"\n\n*({_points(question['points'])}, graded by hand)*"
                announced.add(question["name"])
            cells.append(cell)
    notebook.cells = cells
    return notebook


def strip_code_solutions(notebook, suite: Suite):
    """Otter's own ``replace_solutions`` on every code cell, with a prompt that raises."""
    from otter.assign import solutions

    with _otter_block_prompt(STUB_PROMPT):
        for number, cell in enumerate(notebook.cells, start=1):
            if cell.cell_type != "code":
                continue
            try:
                cell.source = "\n".join(solutions.replace_solutions(cell.source.split("\n"), "python"))
            except AssertionError as error:
                raise UserError(f"{suite.master_path} cell {number}: {str(error).split(' in ')[0]}") from None
    return notebook


def clear_outputs_and_metadata(notebook, suite: Suite):
    """No outputs, no execution counts, no master-only metadata: a clean starting point."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        kit = cell.get("metadata", {}).get("kit", {})
        cell.metadata = {"tags": cell.metadata["tags"]} if cell.get("metadata", {}).get("tags") else {}
        if "answer" in kit:
            cell.metadata["kit"] = {"answer": kit["answer"]}
        cell.pop("id", None)  # nbformat adds fresh ids; keeping the master's would leak nothing but churn diffs
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}, "kit": {"slug": suite.slug}}
    notebook.nbformat, notebook.nbformat_minor = 4, 4
    return notebook


STEPS = [write_setup_cell, drop_staff_notes, replace_written_answers, strip_code_solutions, append_hand_in_cell,
         clear_outputs_and_metadata]


# ---------------------------------------------------------------------------------------------
# Helpers


def _answer_cell(question: dict | None):
    cell = nbformat.v4.new_markdown_cell(ANSWER_PLACEHOLDER)
    if question:
        cell.metadata["kit"] = {"answer": question["name"]}
    return cell


def _points(points: float) -> str:
    value = int(points) if float(points).is_integer() else points
    return f"{value} point" + ("" if value == 1 else "s")


@contextlib.contextmanager
def _otter_block_prompt(prompt: str):
    """Otter replaces a ``# BEGIN SOLUTION`` block by ``...``; ours raises NotImplementedError,
    so that a stub fails loudly and ``collect_submission.py`` can tell it is still a stub."""
    from otter.assign import solutions

    saved = solutions.BLOCK_PROMPT
    solutions.BLOCK_PROMPT = prompt
    try:
        yield
    finally:
        solutions.BLOCK_PROMPT = saved
