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


def test_an_unknown_sandbox_user_is_named_before_grading(kit_root):
    message = one_line_error(run_kit("grade", "foundations", str(kit_root / "solutions" / "foundations.ipynb"),
                                     "--sandbox-user", "no-such-student-user"))
    assert "no user 'no-such-student-user'" in message and "setup.sh" in message


def test_a_folder_the_sandbox_user_cannot_enter_is_found():
    """A Python under a closed folder (as under /root) would let the child import nothing new."""
    import shutil
    import tempfile
    from pathlib import Path

    from autograder.containment import first_closed_folder

    base = Path(tempfile.mkdtemp())  # under /tmp, which every user may enter
    try:
        base.chmod(0o755)
        closed = base / "closed"
        inside = closed / "lib" / "python3"
        inside.mkdir(parents=True)
        closed.chmod(0o700)
        nobody = 65534
        assert first_closed_folder(inside, uid=nobody, gid=nobody) == closed
        closed.chmod(0o755)
        assert first_closed_folder(inside, uid=nobody, gid=nobody) is None
    finally:
        shutil.rmtree(base)


def test_a_limit_override_that_names_no_limit_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_LIMITS", "call_secs = 4")
    message = one_line_error(run_kit("grade", "foundations", str(tmp_path / "x.ipynb")))
    assert "KIT_LIMITS names no limit 'call_secs'" in message and "call_seconds" in message
