"""`grade` and `grade-batch` open a submission the same way (a folder holding only the uploaded
zip is that zip), and `grade` says where it wrote results.json."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile

from conftest import KIT_ROOT, grade, run_kit

EXAMPLE = KIT_ROOT / "examples" / "foundations" / "full_credit.ipynb"


def zipped(folder, name="foundations_submission.zip"):
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.write(EXAMPLE, "foundations.ipynb")
    return folder


def test_a_folder_holding_only_the_zip_scores_as_the_zip_in_grade_and_grade_batch(tmp_path):
    student = zipped(tmp_path / "batch" / "student42")
    from_folder = grade("foundations", student, tmp_path / "folder.json")
    from_zip = grade("foundations", student / "foundations_submission.zip", tmp_path / "zip.json")
    assert from_folder["score"] == from_zip["score"] > 0
    assert [t["score"] for t in from_folder["tests"]] == [t["score"] for t in from_zip["tests"]]
    result = run_kit("grade-batch", "foundations", str(tmp_path / "batch"), "--out", str(tmp_path / "gradebook.csv"),
                     "--quiet")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "gradebook.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["student"], float(r["total"])) for r in rows] == [("student42", from_folder["score"])]


def test_grade_without_out_writes_results_json_here_and_says_so(tmp_path):
    zipped(tmp_path / "sub")
    finished = subprocess.run([sys.executable, "-m", "autograder", "grade", "foundations", "sub"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(KIT_ROOT), "HOME": str(tmp_path)})
    assert finished.returncode == 0, finished.stderr
    assert json.loads((tmp_path / "results.json").read_text())["score"] > 0
    assert finished.stdout.strip().splitlines()[-1] == f"wrote {tmp_path / 'results.json'}"


def test_grade_help_gives_the_default_of_out():
    result = run_kit("grade", "--help")
    assert "default: results.json in the current folder" in " ".join(result.stdout.split())
