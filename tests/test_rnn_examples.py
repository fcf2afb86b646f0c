"""The rnn sample submissions, and the 85% test's isolation, graded through the real `grade` command."""
import json

import pytest
from conftest import KIT_ROOT, grade, student_notebook_with, write_notebook

EXAMPLES = KIT_ROOT / "examples" / "rnn"
EIGHTY_FIVE = "predict_sentiment: the 85% test: accuracy above 85% on the autograder's held-out tweets"


def by_name(results: dict) -> dict[str, tuple[float, float]]:
    """{graded name: (score, max score)} from a results.json."""
    totals: dict[str, list[float]] = {}
    for entry in results["tests"]:
        name = entry["name"].split(":")[0]
        totals.setdefault(name, [0.0, 0.0])
        totals[name][0] += entry["score"]
        totals[name][1] += entry["max_score"]
    return {name: tuple(pair) for name, pair in totals.items()}


def test_the_master_passes_the_85_percent_test_with_its_checkpoint(tmp_path):
    results = grade("rnn", KIT_ROOT / "solutions" / "rnn.ipynb", tmp_path / "results.json")
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    board = {entry["name"]: entry["value"] for entry in results["leaderboard"]}
    assert board["accuracy"] >= 0.85


def test_full_credit_example_a_gru_written_differently(tmp_path):
    results = grade("rnn", EXAMPLES / "full_credit", tmp_path / "results.json")
    assert results["score"] == sum(t["max_score"] for t in results["tests"]), \
        [t["output"] for t in results["tests"] if t["score"] < t["max_score"]]


def test_partial_credit_example_loses_points_where_its_bugs_are(tmp_path):
    results = grade("rnn", EXAMPLES / "partial_credit.ipynb", tmp_path / "results.json")
    # the share of each name's points that the example keeps (its tests' declared weights: 3 of 11...)
    shares = {name: round(got / possible, 4) for name, (got, possible) in by_name(results).items()}
    assert shares == {
        "LSTMCell": round(3 / 11, 4),          # sigmoid on the candidate; parameters right, no built-in used
        "run_lstm": 1.0,
        "clean_tweet": round(3 / 6, 4),        # mentions left in
        "load_sentiment140": round(2 / 5, 4),  # label 4 kept as 4
        "split_indices": round(1 / 4, 4),      # overlapping splits
        "predict_sentiment": 0.0,              # the checkpoint was not handed in
    }


LABEL_PEEKER = '''
def predict_sentiment(texts):
    """Looks for a sentiment140-format CSV in and around its folder and copies its labels."""
    import csv, glob, os
    found = {}
    folders = [".", "..", os.path.expanduser("~")]  # the submission's folder, the grader's scratch folder
    for folder in folders:
        for path in glob.glob(os.path.join(folder, "**", "*.csv"), recursive=True):
            try:
                with open(path, encoding="latin-1", newline="") as stream:
                    for row in csv.reader(stream):
                        if len(row) == 6 and row[0] in ("0", "4"):
                            found[row[5]] = int(row[0] == "4")
            except OSError:
                pass
    return [found.get(text, 1) for text in texts]
'''

CONSTANT = '''
def predict_sentiment(texts):
    return [1] * len(texts)
'''


# The labels stay in the grading process: neither the submission's folder nor the grader's scratch
# folder holds them. (Locally the sandbox child runs as the same user as the grader, so code that
# went looking elsewhere on the machine could find the committed sample; on Gradescope the child
# runs as an unprivileged user and setup.sh makes the suites folder unreadable to it.)
@pytest.mark.parametrize("predictor", [LABEL_PEEKER, CONSTANT], ids=["reads the labels", "constant"])
def test_a_predictor_that_peeks_or_is_constant_fails_the_85_percent_test(predictor, tmp_path):
    notebook = student_notebook_with("rnn", {"def predict_sentiment": predictor.strip("\n")})
    results = grade("rnn", write_notebook(notebook, tmp_path / "rnn.ipynb"), tmp_path / "results.json")
    test = next(t for t in results["tests"] if t["name"] == EIGHTY_FIVE)
    assert test["score"] == 0, test["output"]
    accuracy = {entry["name"]: entry["value"] for entry in results["leaderboard"]}["accuracy"]
    assert 0.3 < accuracy < 0.7, json.dumps(results["leaderboard"])
