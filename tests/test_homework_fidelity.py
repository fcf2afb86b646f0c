"""The homework as written: every question of the four documents has its place in a master, and
the answers the documents determine are what the hidden tests expect.

solutions/homework_map.toml is the table (one row per question); this test walks it.
"""
import tomllib
from functools import cache

import nbformat
import pytest
from variants import points

from autograder.master import written_questions
from autograder.suite import KIT_ROOT, load_suite

TABLE = tomllib.loads((KIT_ROOT / "solutions" / "homework_map.toml").read_text())
QUESTIONS, ANSWERS = TABLE["question"], TABLE["answer"]

# Our reading of the documents: every question they ask, by the id the table uses.
EVERY_QUESTION = {
    "HW4-2026": ["acknowledgements", "P1(a)", "P1(b)", "P1(c)", "P1(d)", "P2(a)", "P2(b)", "P2(c)", "P2(d)",
                 "P2(e)", "P3(a)", "P3(b)", "P3(c)"],
    "HW5-2022": ["acknowledgements", "P1(a)", "P1(b)", "P1(c)", "P2(a)", "P2(b)", "P2(c)", "P3(a)", "P3(b)", "P3(c)"],
    "CS7643-HW3": ["§1", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6(a)", "Q6(b)", "Q6(c)", "Q6(d)", "Q6(e)", "Q7", "Q8",
                   "§5.1", "§5.2"],
    "HW3-2023": ["acknowledgements", "Q1", "Q2", "Q3(a)", "Q3(b)", "Q3(c)", "Q4"],
}
MARKERS = {"departs": "Departs from the homework:", "not in the documents": "Not in the documents:"}


@cache
def master_markdown(slug: str) -> list[str]:
    master = nbformat.read(str(load_suite(slug).master_path), as_version=4)
    return [c.source for c in master.cells if c.cell_type == "markdown"]


def row_id(row: dict) -> str:
    return f"{row['source']} -> {row['slug']}"


def test_the_table_has_a_row_for_every_question_of_the_four_documents():
    listed = {row["source"] for row in QUESTIONS}
    expected = {f"{document} {question}" for document, questions in EVERY_QUESTION.items() for question in questions}
    assert expected - listed == set(), "questions with no row"
    assert listed - expected == set(), "rows for questions the documents do not ask"
    assert set(TABLE["documents"]) == set(EVERY_QUESTION)


@pytest.mark.parametrize("row", QUESTIONS, ids=row_id)
def test_each_question_has_its_section_in_the_master(row):
    cells = [text for text in master_markdown(row["slug"]) if row["source"] in text]
    assert cells, f"no markdown cell of solutions/{row['slug']}.ipynb names '{row['source']}'"
    assert row["status"] in ("reproduced", *MARKERS), row["status"]
    if row["status"] in MARKERS:
        assert row.get("note"), "say in the table why the kit departs"
        assert any(MARKERS[row["status"]] in text for text in cells), \
            f"the question's cell must say '{MARKERS[row['status']]}' and why"


@pytest.mark.parametrize("row", QUESTIONS, ids=row_id)
def test_each_question_is_answered_by_graded_names_or_written_questions_that_exist(row):
    suite = load_suite(row["slug"])
    graded, written = row.get("graded", []), row.get("written", [])
    assert graded or written, "a question needs a graded name or a written answer"
    assert set(graded) <= set(suite.graded_names)
    names = {q.name for q in written_questions(nbformat.read(str(suite.master_path), as_version=4), suite.master_path)}
    assert set(written) <= names


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a["source"])
def test_the_answer_the_document_determines_gets_full_marks_and_a_wrong_one_does_not(answer):
    got, possible = points(answer["slug"], answer["correct"], answer["graded"])
    assert possible > 0 and got == pytest.approx(possible), f"{answer['source']}: the document's answer lost points"
    got, possible = points(answer["slug"], answer["wrong"], answer["graded"])
    assert got < possible, f"{answer['source']}: a wrong answer kept full marks"
