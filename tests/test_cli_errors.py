"""Bad input to a command gets one line that says what is wrong and what to do, and exit code 2."""
import pytest
from conftest import run_kit


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("verb", [["build"], ["verify"], ["grade"], ["grade-batch"]])
def test_an_unknown_slug_lists_the_known_ones(verb, tmp_path):
    extra = {"grade": [str(tmp_path / "x.ipynb")], "grade-batch": [str(tmp_path)]}.get(verb[0], [])
    message = one_line_error(run_kit(*verb, "nlp101", *extra))
    assert "unknown assignment 'nlp101'" in message and "foundations" in message


def test_a_missing_submission_says_what_to_give(tmp_path):
    message = one_line_error(run_kit("grade", "foundations", str(tmp_path / "missing.ipynb")))
    assert "does not exist" in message and ".zip" in message


def test_a_submission_of_the_wrong_kind_is_refused(tmp_path):
    path = tmp_path / "answers.pdf"
    path.write_bytes(b"%PDF")
    message = one_line_error(run_kit("grade", "foundations", str(path)))
    assert "collect_submission.py" in message


def test_grade_batch_on_a_missing_folder(tmp_path):
    message = one_line_error(run_kit("grade-batch", "foundations", str(tmp_path / "nowhere")))
    assert "not a folder" in message
