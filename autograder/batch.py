"""``grade-batch``: every submission in a folder, graded in parallel, into a gradebook.

By default (``--backend pool``) each of ``--workers`` warm workers imports torch once and grades
every submission it is given in a grader forked from it, with the same sandbox as ``grade``
(``autograder.warm_pool``); ``--backend process`` runs the very command Gradescope runs
(``python -m autograder grade``) once per submission; ``--backend dask`` sends the submissions to
a Dask cluster's workers (``autograder.cluster``). In every case a submission that crashes or hangs
the grader costs only its own row.

What it reads (DIR): one zip, notebook or folder per student, named by student id; or the folder
of Gradescope's "Export Submissions" download (``submission_metadata.yml`` beside one
``submission_<id>/`` folder per submission), where the ids come from the metadata.

What it writes, beside ``gradebook.csv``:

* ``gradebook-results/<id>.json``: each submission's results.json (a rerun skips those present
  unless ``--force``; a submission whose grading failed has ``<id>.error.txt`` instead and is
  retried on the next run);
* ``gradebook-feedback/<id>.md`` (or ``.html``): each test, its points and its message;
* ``gradebook-summary.md`` and ``gradebook-histogram.png``: the score distribution and the tests
  that failed most, which say what to reteach.
"""
from __future__ import annotations

import csv
import html
import json
import os
import statistics
import subprocess
import sys
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError
from autograder.suite import KIT_ROOT, Suite, load_suite, resolve_slugs

EXAMPLES_DIR = KIT_ROOT / "examples"
SUBMISSION_SUFFIXES = {".zip", ".ipynb"}
GRADESCOPE_METADATA = "submission_metadata.yml"
FAILED_OUTPUT = "grading did not finish; regrade this submission (see {error})"


# ----------------------------------------------------------------------------------------------
# Finding submissions


@dataclass
class Submission:
    """One submission to grade, and the students it belongs to (several for a group)."""

    key: str  # unique in the batch: names the results and feedback files
    path: Path
    students: list[dict] = field(default_factory=list)  # {"sid", "name", "email"}


def find_submissions(folder: Path, exclude: set[Path] = frozenset()) -> list[Submission]:
    """Every submission under ``folder``: Gradescope's export layout when its metadata is there,
    else each zip, notebook or sub-folder directly under ``folder``, named by student id."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of submissions: give the folder that holds them "
                        "(unzip a Gradescope export first)")
    metadata = _gradescope_metadata(folder, exclude)
    if metadata is not None:
        return _gradescope_submissions(metadata)
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or path.resolve() in exclude or path.name.endswith("gradebook.csv"):
            continue
        if path.is_dir() or path.suffix in SUBMISSION_SUFFIXES:
            sid = path.stem if path.is_file() else path.name
            found.append(Submission(sid, _submission_path(path), [{"sid": sid}]))
    return found


def _gradescope_metadata(folder: Path, exclude: set[Path] = frozenset()) -> Path | None:
    """``submission_metadata.yml`` in ``folder`` or in its only sub-folder (the unzipped export)."""
    if (folder / GRADESCOPE_METADATA).is_file():
        return folder / GRADESCOPE_METADATA
    subfolders = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.resolve() not in exclude]
    if len(subfolders) == 1 and (subfolders[0] / GRADESCOPE_METADATA).is_file():
        return subfolders[0] / GRADESCOPE_METADATA
    return None


def _gradescope_submissions(metadata_path: Path) -> list[Submission]:
    """Gradescope's export: ``{submission_<id>: {":submitters": [{":name", ":sid", ":email"}]...}}``."""
    metadata = read_gradescope_metadata(metadata_path)
    found = []
    for key, record in sorted(metadata.items()):
        path = metadata_path.parent / str(key)
        if not path.exists():
            print(f"warning: {key} is in {GRADESCOPE_METADATA} but not in the export; skipped", file=sys.stderr)
            continue
        submitters = (record or {}).get(":submitters") or []
        students = [{"sid": str(s.get(":sid") or s.get(":email") or key), "name": str(s.get(":name") or ""),
                     "email": str(s.get(":email") or "")} for s in submitters if isinstance(s, dict)]
        found.append(Submission(str(key), _submission_path(path), students or [{"sid": str(key)}]))
    return found


def read_gradescope_metadata(path: Path) -> dict:
    """The export's YAML, read safely: Ruby-tagged values (``!ruby/object:BigDecimal``...) become
    plain strings, lists or dicts instead of stopping the read."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def untagged(loader, _suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise UserError(f"{path} does not parse as YAML ({str(error).splitlines()[0]}): "
                        "download the export from Gradescope again") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not Gradescope's submission metadata (expected a mapping)")
    return data


def _submission_path(path: Path) -> Path:
    """A folder that holds only the zip a student uploaded is graded from that zip."""
    if path.is_dir() and not any(path.rglob("*.ipynb")):
        zips = sorted(path.glob("*.zip"))
        if len(zips) == 1:
            return zips[0]
    return path


# ----------------------------------------------------------------------------------------------
# Grading


@dataclass(frozen=True)
class BatchPaths:
    """Where a batch writes, all named after the gradebook."""

    gradebook: Path

    @property
    def results(self) -> Path:
        return self.gradebook.parent / f"{self.gradebook.stem}-results"

    @property
    def feedback(self) -> Path:
        return self.gradebook.parent / f"{self.gradebook.stem}-feedback"

    @property
    def summary(self) -> Path:
        return self.gradebook.parent / f"{self.gradebook.stem}-summary.md"

    @property
    def histogram(self) -> Path:
        return self.gradebook.parent / f"{self.gradebook.stem}-histogram.png"

    def result(self, key: str) -> Path:
        return self.results / f"{key}.json"

    def error(self, key: str) -> Path:
        return self.results / f"{key}.error.txt"


def grade_command(slug: str, path: Path, out: Path) -> list[str]:
    """The per-submission command: the same one Gradescope's run_autograder runs."""
    return [sys.executable, "-m", "autograder", "grade", slug, str(path), "--out", str(out)]


BACKENDS = ("pool", "process", "dask")


def grade_in_process(slug: str, path: Path, out: Path, timeout: float) -> tuple[bool, str]:
    """The ``process`` backend: one ``python -m autograder grade`` per submission, imports and all."""
    try:
        finished = subprocess.run(grade_command(slug, path, out), cwd=KIT_ROOT, capture_output=True,
                                  text=True, timeout=timeout, check=False,
                                  env={**os.environ, "PYTHONPATH": str(KIT_ROOT)})
    except subprocess.TimeoutExpired:
        return False, f"the grader did not finish within {timeout:.0f} s and was stopped"
    return finished.returncode == 0, f"the grader exited with status {finished.returncode}\n{finished.stderr[-4000:]}"


def grade_one(slug: str, submission: Submission, paths: BatchPaths, timeout: float, grader=None) -> bool:
    """Grade one submission with ``grader(path, out, timeout) -> (ok, why)`` (default: its own
    process). True when results.json was written; otherwise ``<key>.error.txt`` says why, and the
    submission is retried on the next run."""
    out = paths.result(submission.key)
    out.unlink(missing_ok=True)
    paths.error(submission.key).unlink(missing_ok=True)
    if grader is None:
        ok, why = grade_in_process(slug, submission.path, out, timeout)
    else:
        ok, why = grader(submission.path, out, timeout)
    return record(paths, submission, ok, why)


def record(paths: BatchPaths, submission: Submission, ok: bool, outcome: "str | dict") -> bool:
    """Keep one outcome: ``outcome`` is why it failed, or (from a cluster) the results document."""
    from autograder.results import write_json_atomically

    out, error = paths.result(submission.key), paths.error(submission.key)
    if ok and isinstance(outcome, dict):
        write_json_atomically(outcome, out)
    if ok and _read_json(out) is not None:
        error.unlink(missing_ok=True)
        return True
    out.unlink(missing_ok=True)  # a kit failure may have left a placeholder: do not count it as graded
    error.write_text(f"{submission.path}\n{outcome}\n")
    return False


def grade_batch(slug: str, folder: Path, gradebook: Path, workers: int | None = None, force: bool = False,
                quiet: bool = False, feedback_format: str = "md", timeout: float | None = None,
                backend: str = "pool", scheduler: str | None = None) -> list[dict]:
    """Grade every submission under ``folder``; write the gradebook, feedback and summary.

    ``backend``: ``pool`` (warm workers, see ``autograder.warm_pool``), ``process`` (one
    ``grade`` process per submission) or ``dask`` (``autograder.cluster``; the cluster at
    ``scheduler``, or a local one of ``workers`` processes).
    Returns one row per student: ``{"student", "name", "email", "submission", "status", **results}``.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if scheduler and backend != "dask":
        raise UserError("--scheduler is the address of a Dask scheduler: add --backend dask")
    suite = load_suite(slug)
    paths = BatchPaths(gradebook.resolve())
    submissions = find_submissions(folder, exclude={paths.results, paths.feedback, paths.gradebook})
    keys = [s.key for s in submissions]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise UserError(f"two submissions share the id {repeated[0]} (e.g. a zip and a folder): keep one per student")
    paths.results.mkdir(parents=True, exist_ok=True)
    todo = [s for s in submissions if force or _read_json(paths.result(s.key)) is None]
    timeout = timeout or suite.limits.total_seconds + 60
    workers = max(1, workers or os.cpu_count() or 1)
    if not quiet:
        skipped = len(submissions) - len(todo)
        print(f"{slug}: {len(submissions)} submission(s), {len(todo)} to grade"
              + (f", {skipped} already graded (--force regrades them)" if skipped else "")
              + f", {workers} worker(s), backend {backend}" + (f" at {scheduler}" if scheduler else ""),
              file=sys.stderr)
    if backend == "dask":
        _grade_on_cluster(slug, todo, paths, timeout, workers, scheduler, quiet)
    elif todo:
        _grade_locally(slug, todo, paths, timeout, workers, quiet, warm=backend == "pool")
    rows = [row for s in submissions for row in _rows(s, paths)]
    write_gradebook(rows, suite, paths.gradebook)
    write_feedback(submissions, suite, paths, feedback_format)
    write_summary(rows, suite, paths)
    if not quiet:
        failed = sum(r["status"] == "failed" for r in rows)
        print(f"wrote {paths.gradebook}" + (f"; {failed} row(s) failed to grade: rerun to retry them" if failed else ""),
              file=sys.stderr)
    return rows


def _grade_locally(slug: str, todo: list[Submission], paths: BatchPaths, timeout: float, workers: int,
                   quiet: bool, warm: bool) -> None:
    """``workers`` threads, each driving a warm worker (``pool``) or one process per submission."""
    from autograder.warm_pool import WarmPool

    workers = min(workers, len(todo))
    pool = WarmPool(slug, workers) if warm else None
    try:
        with ThreadPoolExecutor(max_workers=workers) as threads:
            futures = [threads.submit(grade_one, slug, s, paths, timeout, pool.grade if pool else None) for s in todo]
            _wait_with_progress(futures, quiet)
    finally:
        if pool is not None:
            pool.close()


def _grade_on_cluster(slug: str, todo: list[Submission], paths: BatchPaths, timeout: float, workers: int,
                      scheduler: str | None, quiet: bool) -> None:
    from tqdm import tqdm

    from autograder.cluster import grade_on_cluster

    for submission in todo:
        paths.result(submission.key).unlink(missing_ok=True)
    with tqdm(total=len(todo), desc="grading", unit="submission", disable=quiet or not todo) as bar:
        grade_on_cluster(slug, todo, lambda s, ok, outcome: record(paths, s, ok, outcome), timeout, workers,
                         scheduler, progress=bar.update)


def _wait_with_progress(futures: list, quiet: bool) -> None:
    from tqdm import tqdm

    with tqdm(total=len(futures), desc="grading", unit="submission", disable=quiet or not futures) as bar:
        for future in as_completed(futures):
            future.result()
            bar.update()


def _read_json(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) and "tests" in document else None


def _rows(submission: Submission, paths: BatchPaths) -> list[dict]:
    """The gradebook rows of one submission: one per student in it."""
    results = _read_json(paths.result(submission.key))
    if results is None:
        error = paths.error(submission.key)
        results = {"score": 0.0, "tests": [], "output": FAILED_OUTPUT.format(error=error.name)}
        status = "failed"
    else:
        status = "graded"
    return [{"student": s["sid"], "name": s.get("name", ""), "email": s.get("email", ""),
             "submission": submission.key, "status": status, **results} for s in submission.students]


# ----------------------------------------------------------------------------------------------
# Writing the gradebook, the feedback and the summary


def suite_tests(suite: Suite) -> list[tuple[str, float]]:
    """``(test name, points)`` of every autograded test, in the suite's order."""
    return [(fn.kit_test.name, fn.kit_test.points) for fn, _ in suite.tests()]


def write_gradebook(rows: list[dict], suite: Suite, path: Path) -> None:
    """One row per student: identity, a column per test (its score), the total and the status."""
    names = [name for name, _ in suite_tests(suite)]  # an unreadable submission's placeholder test has no column
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student", "name", "email", "submission", *names, "total", "status"])
        for row in rows:
            scores = {t["name"]: t.get("score", 0) for t in row.get("tests", [])}
            writer.writerow([row["student"], row["name"], row["email"], row["submission"],  # 0 and 0.0 alike: "0"
                             *[f"{float(scores.get(n, 0)):g}" for n in names], f"{float(row.get('score', 0)):g}", row["status"]])


def write_feedback(submissions: list[Submission], suite: Suite, paths: BatchPaths, fmt: str = "md") -> None:
    """A feedback file per submission: each test, its points and its message."""
    if fmt not in ("md", "html"):
        raise UserError(f"unknown feedback format {fmt!r}: choose md or html")
    paths.feedback.mkdir(parents=True, exist_ok=True)
    total = sum(points for _, points in suite_tests(suite))
    manual = _manual_points(suite)
    for submission in submissions:
        row = _rows(submission, paths)[0]
        render = feedback_markdown if fmt == "md" else feedback_html
        (paths.feedback / f"{submission.key}.{fmt}").write_text(render(suite.title, submission, row, total, manual))


def _manual_points(suite: Suite) -> float:
    from autograder.master import read_master, written_questions

    try:
        return sum(q.points for q in written_questions(read_master(suite.master_path), suite.master_path))
    except UserError:
        return 0.0  # no master here (e.g. only the release): the feedback then leaves them out


def _who(submission: Submission) -> str:
    return ", ".join(f"{s.get('name') or s['sid']}" + (f" ({s['sid']})" if s.get("name") else "")
                     for s in submission.students)


def feedback_markdown(title: str, submission: Submission, row: dict, total: float, manual: float) -> str:
    lines = [f"# {title}", "", f"Feedback for {_who(submission)}", "",
             f"**Autograded score: {row.get('score', 0):g} / {total:g}**"
             + (f" (the written answers, {manual:g} points, are graded by hand)" if manual else ""), ""]
    if row.get("output"):
        lines += [row["output"], ""]
    if row.get("tests"):
        lines += ["| points | test | result |", "| --- | --- | --- |"]
        for test in row["tests"]:
            message = str(test.get("output", "")).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {test.get('score', 0):g} / {test.get('max_score', 0):g} | {table_cell(test['name'])} | {message} |")
    return "\n".join(lines) + "\n"


def feedback_html(title: str, submission: Submission, row: dict, total: float, manual: float) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class=\"{'pass' if t.get('score', 0) >= t.get('max_score', 0) else 'fail'}\">"
        f"<td>{t.get('score', 0):g} / {t.get('max_score', 0):g}</td><td>{e(t['name'])}</td>"
        f"<td>{e(str(t.get('output', '')))}</td></tr>" for t in row.get("tests", []))
    manual_note = f" (the written answers, {manual:g} points, are graded by hand)" if manual else ""
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{e(title)}</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.3em .6em;vertical-align:top}"
            ".pass td:first-child{color:#176f2c}.fail td:first-child{color:#b00020}</style></head><body>"
            f"<h1>{e(title)}</h1><p>Feedback for {e(_who(submission))}</p>"
            f"<p><strong>Autograded score: {row.get('score', 0):g} / {total:g}</strong>{e(manual_note)}</p>"
            f"<p>{e(str(row.get('output', '')))}</p>"
            f"<table><tr><th>points</th><th>test</th><th>result</th></tr>{rows}</table></body></html>\n")


def most_failed(rows: list[dict], names: set[str] | None = None, limit: int = 10) -> list[tuple[str, int, str]]:
    """``(test, how many graded submissions failed it, its most common message)``, most failed first;
    only the tests in ``names`` when given (an unreadable submission's placeholder is no lesson)."""
    graded = {r["submission"]: r for r in rows if r["status"] == "graded"}.values()
    failures: Counter = Counter()
    messages: dict[str, Counter] = {}
    for row in graded:
        for test in row.get("tests", []):
            if names is not None and test["name"] not in names:
                continue
            if test.get("score", 0) < test.get("max_score", 0) and not not_attempted(test):
                failures[test["name"]] += 1
                messages.setdefault(test["name"], Counter())[shorten(str(test.get("output", "")), 160)] += 1
    return [(name, count, messages[name].most_common(1)[0][0]) for name, count in failures.most_common(limit)]


NOT_ATTEMPTED = ("is not defined", "still the stub")  # coursekit.testing's messages for a missing or stub name


def not_attempted(test: dict) -> bool:
    return any(marker in str(test.get("output", "")) for marker in NOT_ATTEMPTED)


def table_cell(text: str) -> str:
    """Text for a Markdown table cell: a ``|`` would end the cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def shorten(text: str, width: int) -> str:
    """``text`` cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1].rsplit(" ", 1)[0] + " …"


def write_summary(rows: list[dict], suite: Suite, paths: BatchPaths) -> None:
    """The score histogram (PNG) and a Markdown summary: statistics and the most-failed tests."""
    total = sum(points for _, points in suite_tests(suite))
    by_submission = {r["submission"]: r for r in rows}.values()
    scores = [float(r.get("score", 0)) for r in by_submission if r["status"] == "graded"]
    failed = [r["submission"] for r in by_submission if r["status"] == "failed"]
    write_histogram(scores, total, paths.histogram, suite.title)
    lines = [f"# {suite.title}: batch summary", "",
             f"{len(scores)} submission(s) graded, {len(failed)} failed to grade, {len(rows)} student row(s).", ""]
    if scores:
        lines += [f"Autograded score out of {total:g}: mean {statistics.mean(scores):.2f}, "
                  f"median {statistics.median(scores):g}, min {min(scores):g}, max {max(scores):g}; "
                  f"{sum(s >= total for s in scores)} full marks.", ""]
    lines += [f"![score histogram]({paths.histogram.name})", "", "## Tests failed most (what to reteach)", "",
              "Wrong answers only; names left undefined or as stubs are counted apart, below.", ""]
    names = {name for name, _ in suite_tests(suite)}
    worst = most_failed(rows, names)
    if worst:
        lines += ["| failed by | test | most common message |", "| --- | --- | --- |"]
        lines += [f"| {count} of {len(scores)} | {table_cell(name)} | {table_cell(message)} |"
                  for name, count, message in worst]
    else:
        lines.append("No test failed.")
    skipped = Counter(t["name"] for r in {r["submission"]: r for r in rows if r["status"] == "graded"}.values()
                      for t in r.get("tests", []) if t["name"] in names and not_attempted(t))
    if skipped:
        lines += ["", "## Not attempted (not defined, or still the stub)", "", "| by | test |", "| --- | --- |"]
        lines += [f"| {count} of {len(scores)} | {table_cell(name)} |" for name, count in skipped.most_common(10)]
    if failed:
        lines += ["", "## Not graded (rerun `grade-batch` to retry; the .error.txt files say why)", ""]
        lines += [f"- {key}" for key in failed]
    paths.summary.write_text("\n".join(lines) + "\n")


def write_histogram(scores: list[float], total: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(6, 3.5))
    bins = max(1, min(20, int(total) or 1))
    axes.hist(scores, bins=bins, range=(0, total or 1), color="#4c72b0", edgecolor="white")
    axes.set_xlabel(f"autograded score (out of {total:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole submissions
    axes.set_title(textwrap.fill(title, 70), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ----------------------------------------------------------------------------------------------
# The demo


def grade_examples() -> int:
    """Grade ``examples/<slug>/`` for every assignment that has examples, and print the scores."""
    for slug in resolve_slugs([]):
        folder = EXAMPLES_DIR / slug
        if not folder.is_dir():
            continue
        gradebook = KIT_ROOT / "release" / "demo" / f"{slug}-gradebook.csv"
        rows = grade_batch(slug, folder, gradebook, force=True, quiet=True)
        total = sum(points for _, points in suite_tests(load_suite(slug)))
        print(f"\n{slug} (gradebook: {gradebook.relative_to(KIT_ROOT)})")
        for row in rows:
            print(f"  {row['student']:<28} {row.get('score', 0):>6g} / {total:g}  {row['status']}")
    return 0
