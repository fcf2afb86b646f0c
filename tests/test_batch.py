"""grade-batch: a class of full, partial, broken, hanging and crashing submissions is graded in
parallel with the right score per student, writes the gradebook, feedback and summary, and a
rerun skips what is graded; the warm pool (the default backend) gives every submission the scores
that ``grade`` gives it. The 300-submission version is benchmarks/batch.py; the Dask backend is
tests/test_cluster.py."""
from __future__ import annotations

import csv
import importlib.util
import json
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT

from autograder import batch
from autograder.suite import load_suite

SLUG = "foundations"


def _benchmark():
    spec = importlib.util.spec_from_file_location("kit_benchmark_batch", KIT_ROOT / "benchmarks" / "batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_gradebook(path: Path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    """Full (zip), partial (zip), broken (half-saved notebook), hanging (zip), the untouched stub (a
    folder), and one more broken notebook whose grading process is made to crash below."""
    folder = tmp_path_factory.mktemp("class")
    expected = _benchmark().write_mix(folder, 5, kinds=["hang", "full_zip", "partial", "broken_json", "stub"])
    (folder / "crasher.ipynb").write_text((folder / "s003.ipynb").read_text())
    return folder, expected


@pytest.fixture(scope="module")
def short_hangs():
    """The classes below are graded with a 4 s call limit instead of foundations' 10 s: the hang
    costs less, and is stopped all the same."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_LIMITS", "call_seconds = 4")
        yield


@pytest.fixture(scope="module")
def graded_class(class_folder, tmp_path_factory, short_hangs):
    """The class through ``--backend process``: the very ``grade`` command, once per submission."""
    folder, expected = class_folder
    gradebook = tmp_path_factory.mktemp("out") / "gradebook.csv"
    real_command, calls = batch.grade_command, []

    def command(slug, path, out):  # the grader process itself dies on one submission
        calls.append(path.name)
        if path.name == "crasher.ipynb":
            return [sys.executable, "-c", "import os; os._exit(9)"]
        return real_command(slug, path, out)

    batch.grade_command = command
    try:
        rows = batch.grade_batch(SLUG, folder, gradebook, workers=2, backend="process")
        first_calls = list(calls)
        calls.clear()
        rerun = batch.grade_batch(SLUG, folder, gradebook, workers=2, quiet=True, backend="process")
    finally:
        batch.grade_command = real_command
    return {"rows": rows, "rerun": rerun, "expected": expected, "gradebook": gradebook, "first_calls": first_calls,
            "rerun_calls": list(calls)}


def test_every_student_gets_the_right_score(graded_class):
    got = {r["student"]: float(r["total"]) for r in read_gradebook(graded_class["gradebook"])}
    expected = graded_class["expected"]
    assert {sid: got[sid] for sid in expected} == expected
    full = round(sum(fn.kit_test.points for fn, _ in load_suite(SLUG).tests()), 4)  # as results.json rounds
    assert expected["s001"] == full and 0 < expected["s002"] < full and 0 < expected["s000"] < full
    assert expected["s003"] == 0
    assert got["crasher"] == 0


def test_a_hang_costs_only_the_hanging_call(graded_class):
    hanging = next(r for r in graded_class["rows"] if r["student"] == "s000")
    timed_out = [t for t in hanging["tests"] if "timed out" in t["output"]]
    assert [t["name"].split(":")[0] for t in timed_out] == ["xor_network"]
    assert "timed out after 4 s" in timed_out[0]["output"]
    assert hanging["execution_time"] < load_suite(SLUG).limits.total_seconds


def test_a_crashing_grader_loses_only_its_own_row(graded_class):
    rows = {r["student"]: r for r in read_gradebook(graded_class["gradebook"])}
    assert rows["crasher"]["status"] == "failed"
    assert {r["status"] for sid, r in rows.items() if sid != "crasher"} == {"graded"}
    results = graded_class["gradebook"].parent / "gradebook-results"
    assert "exited with status 9" in (results / "crasher.error.txt").read_text()
    assert not (results / "crasher.json").exists()


def test_rerun_skips_graded_submissions_and_retries_failures(graded_class):
    assert sorted(graded_class["first_calls"]) == sorted(
        ["s000.zip", "s001.zip", "s002.zip", "s003.ipynb", "s004", "crasher.ipynb"])
    assert graded_class["rerun_calls"] == ["crasher.ipynb"]
    assert [r["total"] if "total" in r else r["score"] for r in graded_class["rerun"]] == \
        [r["score"] for r in graded_class["rows"]]


def test_gradebook_feedback_and_summary(graded_class):
    gradebook = graded_class["gradebook"]
    header = next(csv.reader(open(gradebook)))
    test_names = [fn.kit_test.name for fn, _ in load_suite(SLUG).tests()]
    assert header == ["student", "name", "email", "submission", *test_names, "total", "status"]
    feedback = (gradebook.parent / "gradebook-feedback" / "s002.md").read_text()
    partial = next(r for r in graded_class["rows"] if r["student"] == "s002")
    failed = [t for t in partial["tests"] if t["score"] < t["max_score"]]
    assert failed and all(t["name"] in feedback and t["output"][:40] in feedback for t in failed)
    assert f"{partial['score']:g} / " in feedback
    assert "could not be graded" in (gradebook.parent / "gradebook-feedback" / "s003.md").read_text()
    assert "0 / " in (gradebook.parent / "gradebook-feedback" / "s004.md").read_text()
    summary = (gradebook.parent / "gradebook-summary.md").read_text()
    assert "Tests failed most" in summary and "1 failed to grade" in summary and "crasher" in summary
    names = {fn.kit_test.name for fn, _ in load_suite(SLUG).tests()}
    worst = batch.most_failed(graded_class["rows"], names)
    assert worst and all(name in summary for name, _, _ in worst)
    assert "hidden_state" in worst[0][0] or "xor_network" in worst[0][0]  # the partial's bug, the hang
    assert (gradebook.parent / "gradebook-histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------
# The warm pool


def per_test_scores(results_folder: Path) -> dict[str, dict[str, float]]:
    return {path.stem: {t["name"]: t["score"] for t in json.loads(path.read_text())["tests"]}
            for path in sorted(results_folder.glob("*.json"))}


@pytest.fixture(scope="module")
def pooled_class(class_folder, tmp_path_factory, short_hangs):
    """The same class through the default backend, the warm pool, with a count of its gradings."""
    folder, _ = class_folder
    gradebook = tmp_path_factory.mktemp("pool") / "gradebook.csv"
    calls = []
    from autograder import warm_pool

    def counted(self, path, out, timeout):
        calls.append(path.name)
        return real_grade(self, path, out, timeout)

    real_grade = warm_pool.WarmPool.grade
    warm_pool.WarmPool.grade = counted
    try:
        rows = batch.grade_batch(SLUG, folder, gradebook, workers=2, quiet=True)
        first_calls = list(calls)
        calls.clear()
        batch.grade_batch(SLUG, folder, gradebook, workers=2, quiet=True)
    finally:
        warm_pool.WarmPool.grade = real_grade
    return {"rows": rows, "gradebook": gradebook, "first_calls": first_calls, "rerun_calls": list(calls)}


def test_the_pool_gives_every_submission_the_scores_grade_gives(pooled_class, graded_class):
    pool = per_test_scores(pooled_class["gradebook"].parent / "gradebook-results")
    grade = per_test_scores(graded_class["gradebook"].parent / "gradebook-results")
    assert set(grade) == {"s000", "s001", "s002", "s003", "s004"}  # the crasher's grader never wrote one
    assert {key: pool[key] for key in grade} == grade
    assert pool["crasher"] == pool["s003"]  # here its grader is the real one: a broken notebook scores 0
    expected = graded_class["expected"]
    assert {r["student"]: r["score"] for r in pooled_class["rows"] if r["student"] in expected} == expected


def test_the_pool_grades_each_submission_once_and_a_rerun_skips_them(pooled_class):
    assert sorted(pooled_class["first_calls"]) == sorted(
        ["s000.zip", "s001.zip", "s002.zip", "s003.ipynb", "s004", "crasher.ipynb"])
    assert pooled_class["rerun_calls"] == []
    assert {r["status"] for r in pooled_class["rows"]} == {"graded"}


def test_a_pool_worker_stuck_on_a_submission_is_freed_at_its_limit(class_folder, tmp_path, monkeypatch):
    """One worker, a limit shorter than the hang: the hanging submission's grader is stopped at the
    limit, its row fails with the reason, and the same worker goes on to grade the next one."""
    monkeypatch.delenv("KIT_LIMITS", raising=False)  # the suite's own 10 s call limit: longer than 4 s
    folder, expected = class_folder
    small = tmp_path / "class"
    small.mkdir()
    for name in ("s000.zip", "s001.zip"):  # the hang, then a full-credit zip
        (small / name).write_bytes((folder / name).read_bytes())
    gradebook = tmp_path / "out" / "gradebook.csv"
    started = time.monotonic()
    rows = batch.grade_batch(SLUG, small, gradebook, workers=1, quiet=True, timeout=4)
    elapsed = time.monotonic() - started
    by_student = {r["student"]: r for r in rows}
    assert by_student["s000"]["status"] == "failed"
    assert "did not finish within 4 s" in (gradebook.parent / "gradebook-results" / "s000.error.txt").read_text()
    assert by_student["s001"]["status"] == "graded" and by_student["s001"]["score"] == expected["s001"]
    assert elapsed < load_suite(SLUG).limits.call_seconds + 20  # not held for the hang's own 10 s limit and more


def test_a_pool_worker_forks_a_grader_whose_child_sees_no_test_module(tmp_path):
    """The worker itself never loads a test module or held-out data: each grader is forked from it."""
    from autograder.warm_pool import WarmWorker

    probe = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys\n"
        "def xor_network(x):\n"
        "    leaked = [m for m in sys.modules if m.startswith('kit_suite_') or 'hidden_tests' in m]\n"
        "    return 0 if leaked else int(int(x[0]) != int(x[1]))\n")]), str(probe))
    worker = WarmWorker(SLUG)
    try:
        for attempt in range(2):  # the second grader is forked from a worker that has already graded
            out = tmp_path / f"results{attempt}.json"
            ok, why = worker.grade(probe, out, timeout=60)
            assert ok, why
            xor = [t for t in json.loads(out.read_text())["tests"] if t["name"].startswith("xor_network")]
            assert xor and all(t["score"] == t["max_score"] for t in xor), xor
    finally:
        worker.stop()


def test_a_pool_worker_that_cannot_start_fails_its_row_with_the_reason(tmp_path):
    from autograder.warm_pool import WarmWorker

    ok, why = WarmWorker("no-such-assignment").grade(tmp_path / "s1.ipynb", tmp_path / "out.json", timeout=30)
    assert not ok and "grading worker did not start" in why and "unknown assignment 'no-such-assignment'" in why


GRADESCOPE_METADATA = """\
submission_111:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1001'
    :email: ada@example.edu
  :created_at: 2026-09-30 23:10:00.000000000 -07:00
  :score: !ruby/object:BigDecimal 18:0.24e2
submission_222:
  :submitters:
  - :name: Alan Turing
    :sid: '1002'
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: '1003'
    :email: grace@example.edu
  :created_at: 2026-09-30 23:50:00.000000000 -07:00
  :score: 0.0
"""


def gradescope_export(root: Path) -> Path:
    """Gradescope's "Export Submissions" download, unzipped: metadata plus a folder per submission."""
    export = root / "assignment_42_export"
    (export / "submission_111").mkdir(parents=True)
    (export / "submission_222").mkdir()
    (export / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    nbformat.write(nbformat.v4.new_notebook(), str(export / "submission_111" / f"{SLUG}.ipynb"))
    with zipfile.ZipFile(export / "submission_222" / f"{SLUG}_submission.zip", "w") as archive:
        archive.writestr(f"{SLUG}.ipynb", nbformat.writes(nbformat.v4.new_notebook()))
    return root


def test_gradescope_export_layout(tmp_path, monkeypatch):
    found = batch.find_submissions(gradescope_export(tmp_path))
    assert [(s.key, s.path.name, [p["sid"] for p in s.students]) for s in found] == [
        ("submission_111", "submission_111", ["1001"]),
        ("submission_222", f"{SLUG}_submission.zip", ["1002", "1003"])]

    def fake_command(slug, path, out):  # the plumbing only: grading itself is tested above
        document = {"score": 1.0, "tests": [{"name": "W_AND: x", "score": 1.0, "max_score": 1.0, "output": "passed"}]}
        return [sys.executable, "-c", f"import json, sys; json.dump({document!r}, open(sys.argv[1], 'w'))", str(out)]

    monkeypatch.setattr(batch, "grade_command", fake_command)
    gradebook = tmp_path / "out" / "gradebook.csv"
    batch.grade_batch(SLUG, tmp_path, gradebook, workers=2, quiet=True, feedback_format="html", backend="process")
    rows = read_gradebook(gradebook)
    assert [(r["student"], r["name"], r["submission"]) for r in rows] == [
        ("1001", "Ada Lovelace", "submission_111"), ("1002", "Alan Turing", "submission_222"),
        ("1003", "Grace Hopper", "submission_222")]
    html = (tmp_path / "out" / "gradebook-feedback" / "submission_222.html").read_text()
    assert "Alan Turing (1002), Grace Hopper (1003)" in html and "<table>" in html
    assert json.loads((tmp_path / "out" / "gradebook-results" / "submission_111.json").read_text())["score"] == 1.0
