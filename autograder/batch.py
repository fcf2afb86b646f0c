"""``grade-batch``: every submission in a folder, graded in parallel, into a gradebook.

Each submission is graded by the same per-submission command Gradescope runs
(``python -m autograder grade``) in its own process, so one that crashes or hangs the grader
costs only its own row, and the work spreads over as many cores as ``--workers`` allows.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.errors import UserError
from autograder.suite import KIT_ROOT, load_suite, resolve_slugs

EXAMPLES_DIR = KIT_ROOT / "examples"
SUBMISSION_SUFFIXES = {".zip", ".ipynb"}


def find_submissions(folder: Path) -> dict[str, Path]:
    """``{student id: path}``: each zip, notebook or sub-folder directly under ``folder``."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of submissions: give the folder that holds them")
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.endswith("gradebook.csv"):
            continue
        if path.is_dir() or path.suffix in SUBMISSION_SUFFIXES:
            found[path.stem if path.is_file() else path.name] = path
    return found


def grade_one(slug: str, path: Path, out: Path, timeout: float) -> dict:
    """Grade one submission in its own process; a crash or hang becomes a row with 0 points."""
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "autograder", "grade", slug, str(path), "--out", str(out)]
    try:
        subprocess.run(command, cwd=KIT_ROOT, capture_output=True, timeout=timeout, check=False,
                       env={**os.environ, "PYTHONPATH": str(KIT_ROOT)})
    except subprocess.TimeoutExpired:
        pass
    try:
        return json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        return {"score": 0.0, "tests": [], "output": "grading did not finish; regrade this submission"}


def grade_batch(slug: str, folder: Path, gradebook: Path, workers: int | None = None,
                force: bool = False, quiet: bool = False) -> list[dict]:
    """Grade every submission under ``folder``; write the gradebook CSV and per-student results."""
    suite = load_suite(slug)
    submissions = find_submissions(folder)
    results_dir = gradebook.parent / f"{gradebook.stem}-results"
    timeout = suite.limits.total_seconds + 60
    todo = {sid: path for sid, path in submissions.items() if force or not (results_dir / f"{sid}.json").exists()}
    workers = workers or max(1, (os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {sid: pool.submit(grade_one, slug, path, results_dir / f"{sid}.json", timeout)
                   for sid, path in todo.items()}
        _wait_with_progress(futures, quiet)
    rows = [{"student": sid, **_read_results(results_dir / f"{sid}.json")} for sid in submissions]
    write_gradebook(rows, gradebook)
    return rows


def _wait_with_progress(futures: dict, quiet: bool) -> None:
    from tqdm import tqdm

    with tqdm(total=len(futures), desc="grading", unit="submission", disable=quiet or not futures) as bar:
        for future in futures.values():
            future.result()
            bar.update()


def _read_results(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {"score": 0.0, "tests": []}


def write_gradebook(rows: list[dict], path: Path) -> None:
    """One row per student: a column per test (its score) and the total."""
    test_names = list(dict.fromkeys(t["name"] for row in rows for t in row.get("tests", [])))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student", *test_names, "total"])
        for row in rows:
            scores = {t["name"]: t["score"] for t in row.get("tests", [])}
            writer.writerow([row["student"], *[scores.get(n, 0) for n in test_names], row.get("score", 0)])


def grade_examples() -> int:
    """Grade ``examples/<slug>/`` for every assignment that has examples, and print the scores."""
    for slug in resolve_slugs([]):
        folder = EXAMPLES_DIR / slug
        if not folder.is_dir():
            continue
        gradebook = KIT_ROOT / "release" / "demo" / f"{slug}-gradebook.csv"
        rows = grade_batch(slug, folder, gradebook, force=True, quiet=True)
        total = sum(t["max_score"] for t in max(rows, key=lambda r: len(r.get("tests", [])))["tests"])
        print(f"\n{slug} (gradebook: {gradebook.relative_to(KIT_ROOT)})")
        for row in rows:
            print(f"  {row['student']:<28} {row.get('score', 0):>6g} / {total:g}")
    return 0
