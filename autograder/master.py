"""The master stage: reading an instructor's ``solutions/<slug>.ipynb``.

Masters use otter-grader's assign format, so instructors who know otter know ours:

* in code cells, ``# BEGIN SOLUTION`` / ``# END SOLUTION`` lines around solution code and a
  trailing ``# SOLUTION`` on a one-line answer (stripped by otter's own ``replace_solutions``);
* raw cells ``# BEGIN QUESTION`` (with YAML: ``name``, ``points``, ``manual: true``) and
  ``# END QUESTION`` around a hand-graded written question;
* raw cells ``# BEGIN SOLUTION`` / ``# END SOLUTION`` around the answer cells of such a question.

One addition: the cell tagged ``kit-setup`` is the Colab/laptop set-up cell, rewritten by the
student version from ``autograder/templates/setup_cell.py``.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from autograder.errors import UserError

SETUP_TAG = "kit-setup"


@dataclass(frozen=True)
class WrittenQuestion:
    """A hand-graded question: its points are listed in the release, not in results.json."""

    name: str
    points: float
    first_cell: int  # index of the BEGIN QUESTION cell


def read_master(path: Path) -> nbformat.NotebookNode:
    """The master notebook, or a one-line error saying why it cannot be read."""
    if not path.exists():
        raise UserError(f"{path} does not exist: every suite needs its master notebook there")
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as error:  # nbformat raises several kinds; all mean the same to the user
        raise UserError(f"{path} is not a readable notebook ({type(error).__name__}: {error})") from None


def convert_master(suite, steps) -> nbformat.NotebookNode:
    """``suite``'s master, validated, copied and passed through ``steps`` (each a function
    ``(notebook, suite) -> notebook``): every converter (student version, nbgrader export) is one."""
    master = read_master(suite.master_path)
    written_questions(master, suite.master_path)  # validates the question markers
    notebook = copy.deepcopy(master)
    for step in steps:
        notebook = step(notebook, suite)
    return notebook


def raw_marker(cell) -> str:
    """``BEGIN QUESTION``, ``END SOLUTION``..., for a raw marker cell; '' for any other cell."""
    if cell.cell_type != "raw":
        return ""
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    return first.lstrip("#").strip().upper() if first.lstrip("#").strip().upper() in {
        "BEGIN QUESTION", "END QUESTION", "BEGIN SOLUTION", "END SOLUTION"} else ""


def walk_written_questions(cells) -> Iterator[tuple[str, object, dict | None]]:
    """The cells of a master with their place among the written-question markers, for the stages
    that convert written questions (student version, nbgrader export).

    Yields ``(kind, cell, question)``: kind ``"answer-start"`` for a raw ``# BEGIN SOLUTION``
    marker, ``"answer"`` for a model-answer cell inside it, ``"cell"`` for any other cell; question
    is the open question's ``{"name", "points"}`` or None. The other marker cells are not yielded.
    """
    question, in_solution = None, False
    for cell in cells:
        marker = raw_marker(cell)
        if marker == "BEGIN QUESTION":
            question = question_config(cell)
        elif marker == "END QUESTION":
            question = None
        elif marker == "BEGIN SOLUTION":
            in_solution = True
            yield "answer-start", cell, question
        elif marker == "END SOLUTION":
            in_solution = False
        else:
            yield ("answer" if in_solution else "cell"), cell, question


def question_config(cell) -> dict:
    """A ``# BEGIN QUESTION`` cell's name and points (validated by :func:`written_questions`)."""
    config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
    return {"name": str(config["name"]), "points": float(config["points"])}


def written_questions(master: nbformat.NotebookNode, path: Path) -> list[WrittenQuestion]:
    """Every ``# BEGIN QUESTION`` block of the master, with its YAML configuration checked."""
    questions = []
    for index, cell in enumerate(master.cells):
        if raw_marker(cell) != "BEGIN QUESTION":
            continue
        config_text = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
        try:
            config = yaml.safe_load(config_text) or {}
        except yaml.YAMLError as error:
            raise UserError(f"{path} cell {index + 1}: the question's YAML does not parse ({error})") from None
        if "name" not in config or "points" not in config:
            raise UserError(f"{path} cell {index + 1}: a BEGIN QUESTION cell needs 'name' and 'points'")
        questions.append(WrittenQuestion(str(config["name"]), float(config["points"]), index))
    names = [q.name for q in questions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"{path}: question names must be unique, repeated: {', '.join(duplicates)}")
    return questions
