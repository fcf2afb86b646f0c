"""Gradescope: autograder.zip follows the autograder spec, and run_autograder works in a
rehearsal of Gradescope's layout (/autograder/source, /autograder/submission, /autograder/results)
under a temporary root.

Schema: https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format").
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.release import GRADESCOPE_DIR, _zip_files, gradescope_files
from autograder.results import results_json
from autograder.suite import KIT_ROOT, load_suite

SLUG = "foundations"
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
TOP_LEVEL = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
             "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def schema_problems(document: dict) -> list[str]:
    """Everything in ``document`` that Gradescope's documented results.json format does not allow."""
    problems = [f"unknown top-level key {k!r}" for k in document if k not in TOP_LEVEL]
    number = (int, float)
    if not isinstance(document.get("score"), number) or isinstance(document.get("score"), bool):
        problems.append("score must be a number (we always give the top-level score)")
    if "execution_time" in document and not isinstance(document["execution_time"], number):
        problems.append("execution_time must be a number of seconds")
    if not isinstance(document.get("output", ""), str):
        problems.append("output must be a string")
    if document.get("visibility", "visible") not in VISIBILITY:
        problems.append(f"visibility {document.get('visibility')!r}")
    if not isinstance(document.get("tests"), list):
        problems.append("tests must be a list")
    for i, test in enumerate(document.get("tests", [])):
        problems += [f"test {i}: unknown key {k!r}" for k in test if k not in TEST_KEYS]
        for key in ("name", "output"):
            if not isinstance(test.get(key), str):
                problems.append(f"test {i}: {key} must be a string")
        for key in ("score", "max_score"):
            if not isinstance(test.get(key), number):
                problems.append(f"test {i}: {key} must be a number")
        if isinstance(test.get("score"), number) and isinstance(test.get("max_score"), number) \
                and not 0 <= test["score"] <= test["max_score"]:
            problems.append(f"test {i}: score {test['score']} outside [0, {test['max_score']}]")
        if test.get("visibility", "visible") not in VISIBILITY:
            problems.append(f"test {i}: visibility {test.get('visibility')!r}")
    for i, entry in enumerate(document.get("leaderboard", [])):
        if set(entry) - {"name", "value", "order"} or not isinstance(entry.get("name"), str) \
                or not isinstance(entry.get("value"), (int, float, str)) or entry.get("order", "desc") not in ("asc", "desc"):
            problems.append(f"leaderboard entry {i} is not {{name, value[, order]}}: {entry}")
    if isinstance(document.get("tests"), list) and document["tests"] and isinstance(document.get("score"), number):
        if abs(document["score"] - sum(t.get("score", 0) for t in document["tests"])) > 1e-6:
            problems.append("score is not the sum of the tests' scores")
    return problems


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    """The autograder.zip that ``build`` writes, made here so the shared release/ is left alone."""
    path = tmp_path_factory.mktemp("release") / "autograder.zip"
    _zip_files(path, gradescope_files(load_suite(SLUG)))
    return path


def gradescope_root(tmp_path: Path, autograder_zip: Path, submission_zip: Path | None) -> Path:
    """A temporary /autograder: the zip unpacked in source/, the submission unpacked in submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():  # extractall drops the mode bits Gradescope keeps
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if submission_zip:
        with zipfile.ZipFile(submission_zip) as archive:
            archive.extractall(root / "submission")
    return root


def run_autograder(root: Path, python: str = sys.executable) -> dict:
    """Run the zip's run_autograder the way Gradescope does (working directory /autograder)."""
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
    env.pop("PYTHONPATH", None)  # the engine must come from the unpacked zip, not this checkout
    finished = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    return json.loads((root / "results" / "results.json").read_text())


def submission_zip(tmp_path: Path, notebook) -> Path:
    """A submission as collect_submission.py makes it: the notebook at the top of a zip."""
    path = tmp_path / f"{SLUG}_submission.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{SLUG}.ipynb", nbformat.writes(notebook))
    return path


def test_zip_layout_follows_the_spec(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        infos = {i.filename: i for i in archive.infolist()}
    assert {"setup.sh", "run_autograder"} <= set(infos), "both must be at the root of the zip"
    for name in ("setup.sh", "run_autograder"):
        assert (infos[name].external_attr >> 16) & stat.S_IXUSR, f"{name} must be executable"
    run_script = zipfile.ZipFile(autograder_zip).read("run_autograder").decode()
    assert run_script.startswith("#!"), "run_autograder needs a #! line"
    assert f"grade {SLUG} " in run_script and "__SLUG__" not in run_script
    assert f"autograder/suites/{SLUG}/hidden_tests.py" in infos
    assert not any(n.startswith("solutions/") and n.endswith(".ipynb") for n in infos), "masters never ship"
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(GRADESCOPE_DIR / script)], check=True)


def test_setup_installs_the_pinned_cpu_torch():
    setup = (GRADESCOPE_DIR / "setup.sh").read_text()
    pins = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(p for p in pins if p.startswith("torch=="))
    installs = [line for line in setup.splitlines() if torch_pin in line and "install" in setup]
    assert any("--index-url https://download.pytorch.org/whl/cpu" in line for line in installs), \
        f"{torch_pin} must come from PyTorch's CPU index"
    assert re.search(r"-c \S+ -r requirements.txt", setup), "later installs must be constrained to that torch"
    assert "useradd" in setup and "student" in setup
    requirements = (GRADESCOPE_DIR / "requirements.txt").read_text()
    assert not re.search(r"^torch\b(?!-)", requirements, re.M), "torch is installed by setup.sh, not from PyPI"


def test_run_autograder_grades_a_full_submission(tmp_path, autograder_zip):
    master = nbformat.read(str(KIT_ROOT / "solutions" / f"{SLUG}.ipynb"), as_version=4)
    root = gradescope_root(tmp_path, autograder_zip, submission_zip(tmp_path, master))
    results = run_autograder(root)
    assert schema_problems(results) == []
    total = sum(t["max_score"] for t in results["tests"])
    assert results["score"] == pytest.approx(total) and total > 0
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}
    assert all(t["name"].split(":")[0] in load_suite(SLUG).graded_names for t in results["tests"])
    assert results["execution_time"] > 0


def test_run_autograder_survives_an_empty_submission_and_a_dead_interpreter(tmp_path, autograder_zip):
    root = gradescope_root(tmp_path, autograder_zip, None)
    results = run_autograder(root)
    assert schema_problems(results) == [] and results["score"] == 0
    assert "no notebook" in results["output"]
    (root / "results" / "results.json").unlink()
    crashed = run_autograder(root, python="/bin/false")  # the grader itself cannot run
    assert schema_problems(crashed) == [] and crashed["score"] == 0 and "course staff" in crashed["output"]


def test_leaderboard_format():
    """results.json's leaderboard, as the engine writes it for a trained-model test."""
    from coursekit.testing import Outcome, TestSpec
    from autograder.results import GradedTest

    spec = TestSpec("predict_sentiment", "reaches 85% on held-out tweets", 3.0)
    document = results_json([GradedTest(Outcome(spec, 3.0, "passed"), hidden=True)], 1.5, {"accuracy": 0.91})
    assert schema_problems(document) == []
    assert document["leaderboard"] == [{"name": "accuracy", "value": 0.91}]
    json.dumps(document)  # plain JSON
