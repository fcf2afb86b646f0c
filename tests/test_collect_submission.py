"""collect_submission.py protects students from the classic ways of losing work."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT, student_notebook_with, write_notebook

HANDOUT = KIT_ROOT / "assignments" / "foundations"
EXAMPLES = KIT_ROOT / "examples" / "foundations"


@pytest.fixture
def handout(tmp_path) -> Path:
    """A fresh copy of the foundations handout, as a student unzips it."""
    folder = tmp_path / "foundations"
    shutil.copytree(HANDOUT, folder)
    return folder


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
    assert result.returncode == 0 and "vocab.json not found" in result.stdout
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
