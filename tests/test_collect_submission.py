"""collect_submission.py protects students from the classic ways of losing work."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT, student_notebook_with, unpack_handout, write_notebook

EXAMPLES = KIT_ROOT / "examples" / "foundations"


@pytest.fixture
def handout(tmp_path) -> Path:
    """A fresh copy of the foundations handout, as a student unzips it."""
    return unpack_handout("foundations", tmp_path / "foundations")


def collect(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "collect_submission.py", *args], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def test_a_finished_notebook_is_zipped_with_no_warnings_about_names(handout):
    shutil.copy(EXAMPLES / "full_credit.ipynb", handout / "foundations.ipynb")
    result = collect(handout)
    assert result.returncode == 0, result.stderr
    assert "not defined" not in result.stdout and "still stubs" not in result.stdout
    with zipfile.ZipFile(handout / "foundations_submission.zip") as archive:
        assert "foundations.ipynb" in archive.namelist()


def test_the_untouched_handout_is_refused(handout):
    result = collect(handout)
    assert result.returncode == 1
    assert "still the handed-out notebook" in result.stderr and "Copy of" in result.stderr
    assert not (handout / "foundations_submission.zip").exists()


def test_the_stub_merely_run_and_saved_is_refused_too(handout):
    notebook = nbformat.read(str(handout / "foundations.ipynb"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran")]
    write_notebook(notebook, handout / "foundations.ipynb")
    assert collect(handout).returncode == 1


@pytest.mark.parametrize("content,reason", [(b"", "is empty"), (b'{"cells": [', "not a valid notebook")])
def test_an_empty_or_half_saved_notebook_is_refused(handout, content, reason):
    (handout / "foundations.ipynb").write_bytes(content)
    result = collect(handout)
    assert result.returncode == 1 and reason in result.stderr


def test_missing_and_stubbed_names_and_unrun_cells_are_named(handout):
    notebook = student_notebook_with("foundations", {"def spectral_radius": "def hidden_state(W, h0, t):\n    return h0"})
    write_notebook(notebook, handout / "foundations.ipynb")
    result = collect(handout)
    assert result.returncode == 0
    assert "not defined: spectral_radius" in result.stdout
    assert "still stubs" in result.stdout and "xor_network" in result.stdout
    assert "never run" in result.stdout


def test_a_cell_that_does_not_parse_is_reported_with_the_names_it_loses(handout):
    notebook = student_notebook_with("foundations", {"def spectral_radius": "def spectral_radius(W)\n    return 1"})
    write_notebook(notebook, handout / "foundations.ipynb")
    result = collect(handout)
    assert "does not parse" in result.stdout and "losing spectral_radius" in result.stdout


def declare_extras(folder: Path, patterns: list[str], max_mb: float = 1) -> None:
    manifest = json.loads((folder / "assignment.json").read_text())
    manifest.update(extra_files=patterns, max_file_mb=max_mb)
    (folder / "assignment.json").write_text(json.dumps(manifest))


def test_declared_extra_files_are_bundled_and_missing_ones_named(handout):
    shutil.copy(EXAMPLES / "full_credit.ipynb", handout / "foundations.ipynb")
    declare_extras(handout, ["model.pt", "vocab.json"])
    (handout / "model.pt").write_bytes(b"weights")
    result = collect(handout)
    assert result.returncode == 0 and "no file matches vocab.json" in result.stdout
    with zipfile.ZipFile(handout / "foundations_submission.zip") as archive:
        assert set(archive.namelist()) == {"foundations.ipynb", "model.pt"}


def test_data_sets_and_oversize_files_are_refused(handout):
    shutil.copy(EXAMPLES / "full_credit.ipynb", handout / "foundations.ipynb")
    declare_extras(handout, ["*.pt", "*.csv"])
    (handout / "training.1600000.processed.noemoticon.csv").write_text("0,1,2,3,4,5\n")
    result = collect(handout)
    assert result.returncode == 1 and "looks like a data set" in result.stderr
    (handout / "training.1600000.processed.noemoticon.csv").unlink()
    (handout / "model.pt").write_bytes(b"\0" * (2 * 1024**2))
    result = collect(handout)
    assert result.returncode == 1 and "over the 1 MB limit" in result.stderr


def test_the_zip_it_writes_is_what_grade_accepts(handout, tmp_path):
    from conftest import grade

    shutil.copy(EXAMPLES / "full_credit.ipynb", handout / "foundations.ipynb")
    assert collect(handout).returncode == 0
    results = grade("foundations", handout / "foundations_submission.zip", tmp_path / "results.json")
    assert results["score"] == pytest.approx(sum(t["max_score"] for t in results["tests"])) and results["score"] > 0


def test_the_zip_is_capped_with_a_clear_refusal_and_nothing_half_written(handout):
    shutil.copy(EXAMPLES / "full_credit.ipynb", handout / "foundations.ipynb")
    declare_extras(handout, ["*.pt"], max_mb=80)
    for name in ("model_a.pt", "model_b.pt"):  # sparse files: 70 MB each on paper, nothing on disk
        with open(handout / name, "wb") as stream:
            stream.truncate(70 * 1024**2)
    result = collect(handout)
    assert result.returncode == 1
    assert "add up to 140 MB, over Gradescope's 100 MB" in result.stderr and "model_a.pt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (handout / "foundations_submission.zip").exists()
    assert not list(handout.glob("*.partial"))


def rnn_handout(tmp_path) -> Path:
    folder = unpack_handout("rnn", tmp_path / "rnn")
    shutil.copy(KIT_ROOT / "examples" / "rnn" / "full_credit" / "rnn.ipynb", folder / "rnn.ipynb")
    return folder


def test_a_missing_trained_model_is_named_with_the_points_the_upload_loses(tmp_path):
    from autograder.release import points_of
    from autograder.suite import load_suite

    folder = rnn_handout(tmp_path)
    result = collect(folder)
    assert result.returncode == 0, result.stderr
    points = points_of(load_suite("rnn"), "predict_sentiment")
    assert points > 0
    assert (f"your trained model rnn_checkpoint.pt (or another file named rnn_*) is missing: predict_sentiment loads it, "
            f"so this upload will lose its {points:g} point(s)") in result.stdout
    assert "rnn_* not found" not in result.stdout
    shutil.copy(KIT_ROOT / "examples" / "rnn" / "full_credit" / "rnn_gru.pt", folder / "rnn_gru.pt")
    assert "is missing" not in collect(folder).stdout


def test_a_missing_model_with_a_fixed_name_is_named_by_its_file_name(tmp_path):
    folder = unpack_handout("gnn", tmp_path / "gnn")
    shutil.copy(KIT_ROOT / "examples" / "gnn" / "full_credit" / "gnn.ipynb", folder / "gnn.ipynb")
    result = collect(folder)
    assert "warning: gnn_model.pt is missing: predict_node_targets loads it" in result.stdout


def test_a_missing_runtime_gets_one_line_not_a_traceback(handout):
    shutil.copy(EXAMPLES / "full_credit.ipynb", handout / "foundations.ipynb")
    shutil.rmtree(handout / "coursekit")
    result = collect(handout)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "not submitted: coursekit/ is missing or incomplete beside collect_submission.py: download the handout "
        "again and copy its coursekit/ folder next to your notebook"]
