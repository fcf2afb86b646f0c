"""grade-batch's reports read right: a `|` in a test name keeps the feedback table whole, summary
messages are cut at a word, wrong answers and unattempted names are counted apart, the gradebook
writes one spelling per score, and the histogram's title is whole."""
from __future__ import annotations

import csv
from pathlib import Path

from autograder import batch
from autograder.suite import load_suite

SUITE = load_suite("foundations")
NAMES = [name for name, _ in batch.suite_tests(SUITE)]
LONG = ("spectral_radius(W) differs from the reference by up to 0.5 on a 3x3 matrix: take the largest absolute "
        "value of the eigenvalues (torch.linalg.eigvals), not of the diagonal, and return a float, not a tensor")


def row(key: str, outputs: dict[str, tuple[float, str]]) -> dict:
    """A graded row where the tests named in ``outputs`` scored (score, message) and the rest passed."""
    points = dict(batch.suite_tests(SUITE))
    tests = [{"name": n, "score": outputs.get(n, (points[n], "passed"))[0], "max_score": points[n],
              "output": outputs.get(n, (points[n], "passed"))[1]} for n in NAMES]
    return {"student": key, "name": "", "email": "", "submission": key, "status": "graded",
            "score": sum(t["score"] for t in tests), "tests": tests}


def first(prefix: str) -> str:
    return next(n for n in NAMES if n.startswith(prefix))


def test_a_pipe_in_a_test_name_stays_inside_its_cell():
    graded = row("s1", {first("spectral_radius"): (0, "wrong")})
    graded["tests"][0]["name"] = "W_AND: a | b"
    text = batch.feedback_markdown("t", batch.Submission("s1", Path("s1"), [{"sid": "s1"}]), graded, 24, 0)
    table = [line for line in text.splitlines() if line.startswith("| ") and "W_AND" in line]
    assert table == [table[0]] and table[0].count(" | ") == 2 and "a \\| b" in table[0]


def test_the_summary_cuts_messages_at_a_word_and_counts_unattempted_names_apart(tmp_path):
    spectral, hidden, xor = first("spectral_radius"), first("hidden_state"), first("xor_network")
    rows = [row("s1", {spectral: (0, LONG)}),
            row("s2", {spectral: (0, LONG), hidden: (0, "hidden_state is not defined")}),
            row("s3", {xor: (0, "your code raised NotImplementedError: still the stub; write your code where the TODO is")})]
    paths = batch.BatchPaths(tmp_path / "gradebook.csv")
    batch.write_summary(rows, SUITE, paths)
    summary = paths.summary.read_text()
    wrong, _, unattempted = summary.partition("## Not attempted")
    cell = {name: name.replace("|", "\\|") for name in (spectral, hidden, xor)}  # a name may hold a |
    assert f"| 2 of 3 | {cell[spectral]} |" in wrong and cell[hidden] not in wrong and cell[xor] not in wrong
    assert f"| 1 of 3 | {cell[hidden]} |" in unattempted and f"| 1 of 3 | {cell[xor]} |" in unattempted
    cut = next(line for line in wrong.splitlines() if cell[spectral] in line).split(f"{cell[spectral]} | ")[1].rstrip(" |")
    assert cut.endswith(" …") and LONG.startswith(cut.removesuffix(" …")) and LONG[len(cut) - 2] == " "


def test_the_gradebook_writes_one_spelling_per_score(tmp_path):
    rows = [row("s1", {}), row("s2", {first("spectral_radius"): (0.0, "wrong")})]
    rows[1]["tests"][1]["score"] = 0  # an int 0 beside float 0.0s, as results.json may hold
    batch.write_gradebook(rows, SUITE, tmp_path / "g.csv")
    cells = [c for r in list(csv.reader(open(tmp_path / "g.csv")))[1:] for c in r[4:-1]]
    assert "0.0" not in cells and "0" in cells
    assert all(c == f"{float(c):g}" for c in cells)


def test_the_histogram_has_whole_counts_and_its_whole_title(tmp_path, monkeypatch):
    import matplotlib.figure

    seen = {}
    saved = matplotlib.figure.Figure.savefig

    def spy(figure, *args, **kwargs):
        axes = figure.axes[0]
        seen["title"], seen["yticks"] = axes.get_title(), list(axes.get_yticks())
        return saved(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    title = SUITE.title + " (spring term, section B, regrade after the deadline extension)"
    batch.write_histogram([3, 12, 12, 24], 24, tmp_path / "h.png", title)
    assert " ".join(seen["title"].split()) == title
    assert seen["yticks"] and all(float(t).is_integer() for t in seen["yticks"])
