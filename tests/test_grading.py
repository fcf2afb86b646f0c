"""`grade` end to end, through the real command line, on real notebooks."""
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT, grade, run_kit, student_notebook_with, write_notebook

from autograder.suite import load_suite

MASTER = KIT_ROOT / "solutions" / "foundations.ipynb"
EXAMPLES = KIT_ROOT / "examples" / "foundations"


def check_gradescope_schema(results: dict) -> None:
    """The fields Gradescope reads, with the types it expects."""
    assert isinstance(results["score"], (int, float)) and isinstance(results["execution_time"], (int, float))
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
        assert 0 <= test["score"] <= test["max_score"]
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


def test_the_master_gets_full_marks_and_a_valid_results_json(tmp_path):
    results = grade("foundations", MASTER, tmp_path / "results.json")
    check_gradescope_schema(results)
    assert results["score"] == pytest.approx(sum(t["max_score"] for t in results["tests"])) and results["score"] > 0
    assert all(t["name"].split(":")[0] in results["output"] for t in results["tests"] if t["visibility"] != "visible")


def test_hidden_tests_are_hidden_until_published_and_counted_for_the_student(tmp_path):
    results = grade("foundations", MASTER, tmp_path / "results.json")
    visibilities = {t["visibility"] for t in results["tests"]}
    assert visibilities == {"visible", "after_published"}
    assert "Hidden tests, shown after grades are published: b_AND: 1" in results["output"]


def test_names_of_tests_begin_with_the_graded_name(tmp_path):
    from autograder.suite import load_suite

    graded = set(load_suite("foundations").graded_names)
    results = grade("foundations", MASTER, tmp_path / "results.json")
    assert {t["name"].split(":")[0] for t in results["tests"]} <= graded


def test_a_loop_an_exit_and_a_syntax_error_cost_only_what_they_break(tmp_path, monkeypatch):
    """The issue's case: infinite loop at top level, sys.exit() in a cell, a syntax error in another,
    plus a graded assignment that hangs while loading."""
    monkeypatch.setenv("KIT_LIMITS", "statement_seconds = 4")  # the hang is left out after 4 s, not 15
    results = grade("foundations", EXAMPLES / "loop_exit_and_syntax_error.ipynb", tmp_path / "results.json")
    check_gradescope_schema(results)
    lost = {t["name"].split(":")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    # copy_outputs calls the self_attention_plain that hangs while loading
    assert lost == {"spectral_radius", "hidden_state", "self_attention_plain", "copy_outputs"}
    messages = {t["output"] for t in results["tests"] if t["score"] == 0}
    assert any("does not parse (SyntaxError" in m for m in messages)
    assert any("ran longer than 4 s" in m for m in messages)


def test_the_sample_submissions_grade_as_their_names_say(tmp_path):
    full = grade("foundations", EXAMPLES / "full_credit.ipynb", tmp_path / "full.json")
    partial = grade("foundations", EXAMPLES / "partial_credit.ipynb", tmp_path / "partial.json")
    broken = grade("foundations", EXAMPLES / "broken_notebook.ipynb", tmp_path / "broken.json")
    maximum = sum(t["max_score"] for t in full["tests"])
    assert full["score"] == pytest.approx(maximum)
    assert 0 < partial["score"] < maximum
    assert broken["score"] == 0 and "not valid notebook JSON" in broken["output"]


def test_a_zip_and_a_folder_grade_like_the_notebook(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(EXAMPLES / "partial_credit.ipynb", folder / "foundations.ipynb")
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(folder / "foundations.ipynb", "foundations.ipynb")
    scores = [grade("foundations", path, tmp_path / f"{i}.json")["score"]
              for i, path in enumerate([EXAMPLES / "partial_credit.ipynb", folder, archive])]
    assert scores[0] == scores[1] == scores[2]


def test_grading_twice_gives_identical_scores(tmp_path):
    first = grade("foundations", EXAMPLES / "partial_credit.ipynb", tmp_path / "1.json")
    second = grade("foundations", EXAMPLES / "partial_credit.ipynb", tmp_path / "2.json")
    assert [(t["name"], t["score"], t["output"]) for t in first["tests"]] == \
           [(t["name"], t["score"], t["output"]) for t in second["tests"]]


def test_the_table_is_printed_and_the_exit_code_is_zero_whatever_the_score(tmp_path):
    stub = KIT_ROOT / "assignments" / "foundations" / "foundations.ipynb"
    result = run_kit("grade", "foundations", str(stub), "--out", str(tmp_path / "r.json"))
    assert result.returncode == 0
    assert any(line.startswith("0/") and "points in" in line for line in result.stdout.splitlines())
    assert "NotImplementedError: still the stub" in result.stdout


@pytest.mark.usefixtures("handout_lock")  # checks the handout that test_student_version rebuilds
def test_verify_foundations_passes():
    result = run_kit("verify", "foundations")
    assert result.returncode == 0, result.stdout + result.stderr
    total = sum(fn.kit_test.points for fn, _ in load_suite("foundations").tests())
    assert f"foundations: master {total:g}/{total:g}" in result.stdout and f"stub 0/{total:g}" in result.stdout


def test_another_assignments_notebook_gets_one_line_saying_which_was_found(tmp_path):
    rnn_handout = KIT_ROOT / "assignments" / "rnn" / "rnn.ipynb"  # carries its slug in its metadata
    results = grade("foundations", rnn_handout, tmp_path / "r.json")
    assert results["score"] == 0 and len(results["tests"]) == 1
    assert "this is the rnn notebook" in results["output"] and "expects foundations.ipynb" in results["output"]
    stripped = nbformat.read(str(KIT_ROOT / "solutions" / "rnn.ipynb"), as_version=4)
    stripped.metadata = {}  # no metadata: told apart by the graded names it defines
    results = grade("foundations", write_notebook(stripped, tmp_path / "foundations.ipynb"), tmp_path / "s.json")
    assert "this is the rnn notebook" in results["output"]
