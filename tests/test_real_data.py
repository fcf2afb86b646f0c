"""The real data sets as users have them: the loaders, the held-out sets that judge trained models,
and one master's real training path on a slice of the real files.

Tests that need the real files take the ``real_data`` fixture (``pytest --data DIR`` or KIT_DATA;
CI points it at ../shared/data when that folder exists) and are skipped without them. The others
write small files in the real formats.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
import sys
import zipfile

import pytest
import torch
from conftest import KIT_ROOT, grade, run_kit

from coursekit import data

sys.path.insert(0, str(KIT_ROOT / "benchmarks"))  # the reference pipeline's modules, as test_benchmarks reads them

EIGHTY_FIVE = "predict_sentiment: the 85% test: accuracy above 85% on the autograder's held-out tweets"


# --- the loaders take the data as users have it -------------------------------------------------

def test_every_loader_reads_the_real_files_in_the_forms_the_data_root_has(real_data):
    assert data.describe(data.SENTIMENT140_FILES[data.SENTIMENT140_TRAIN]).startswith("a 44k real subset")
    train = data.sentiment140_csv()  # the root has only the .gz: an unpacked copy is made outside it
    assert train.suffix == ".csv" and not train.is_relative_to(real_data)
    with open(train, encoding="latin-1", newline="") as stream:
        assert sum(1 for _ in csv.reader(stream)) == 44_113
    assert data.describe(data.SENTIMENT140_FILES[data.SENTIMENT140_TEST]).startswith("the official test file")
    glove = data.glove_path(download_missing=False)  # 50d, not the 100d d2l ships
    assert data.check_glove(glove).startswith("GloVe 6B 50d")
    with open(glove, encoding="utf-8") as stream:
        assert len(stream.readline().split()) == 51
    assert data.describe(data.FRA_ENG).startswith("d2l's fra.txt")  # fra.txt.gz without the zip
    assert data.eng_fra_path(download_missing=False).read_text(encoding="utf-8").count("\n") == 167_130
    for kind in ("mnist", "fashion"):
        images, labels = data.load_mnist(kind, "test", download_missing=False)
        assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)


def test_a_read_only_data_root_is_never_written_into(real_data, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    before = sorted(p.name for p in real_data.rglob("*"))
    path = data.eng_fra_path(download_missing=False)
    assert path.is_relative_to(tmp_path / "cache")
    assert sorted(p.name for p in real_data.rglob("*")) == before


def write_idx_labels(path, values):
    return data.write_idx(torch.tensor(values), path)


def test_a_copy_that_is_not_the_published_file_is_refused_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DATA", str(tmp_path))
    write_idx_labels(tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz", [1, 2, 3])  # a truncated file
    with pytest.raises(data.DataUnavailable) as refused:
        data.mnist_file("mnist", "t10k-labels-idx1-ubyte.gz", download_missing=False)
    message = str(refused.value)
    assert "\n" not in message and "<data root>/MNIST/raw/t10k-labels-idx1-ubyte.gz" in message
    assert "download it again" in message and "KIT_DATA_UNCHECKED=1" in message and str(tmp_path) not in message
    monkeypatch.setenv("KIT_DATA_UNCHECKED", "1")  # the user's own copy, on purpose
    assert data.mnist_file("mnist", "t10k-labels-idx1-ubyte.gz", download_missing=False).exists()


def test_a_missing_file_names_every_form_it_may_take_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DATA", str(tmp_path))
    with pytest.raises(data.DataUnavailable, match=r"put fra.txt or fra-eng.zip in <data root>/fra-eng"):
        data.eng_fra_path(download_missing=False)
    with pytest.raises(data.DataUnavailable, match=r"glove.6B.100d.txt .*<data root>/glove"):
        data.glove_path(download_missing=False)


@pytest.mark.parametrize("form", ["txt", "txt.gz", "stanford zip"])
def test_glove_is_found_in_any_dimension_and_form(tmp_path, monkeypatch, form):
    monkeypatch.setenv("KIT_DATA", str(tmp_path))
    lines = "".join(f"{word} " + " ".join(["0.5"] * 300) + "\n" for word in ("the", "cat"))
    folder = tmp_path / "glove"
    folder.mkdir()
    if form == "txt":
        (folder / "glove.6B.300d.txt").write_text(lines)
    elif form == "txt.gz":
        with gzip.open(folder / "glove.6B.300d.txt.gz", "wt") as stream:
            stream.write(lines)
    else:
        with zipfile.ZipFile(folder / "glove.6B.zip", "w") as zipped:
            zipped.writestr("glove.6B.300d.txt", lines)
    path = data.glove_path(download_missing=False)
    assert data.check_glove(path) == "GloVe 6B 300d" and path.read_text() == lines


def test_a_sentiment140_zip_as_published_gives_both_files(tmp_path, monkeypatch):
    """The official zip is accepted by its published MD5 only; here a locally made zip stands in for
    it, so the check is pointed at its own MD5 (what a pinned download does)."""
    folder = tmp_path / "sentiment140"
    data.write_fake_sentiment140(tmp_path / "train.csv", n=30)
    data.write_fake_sentiment140(tmp_path / "test.csv", n=10, neutral_fraction=0.3)
    folder.mkdir()
    with zipfile.ZipFile(folder / "trainingandtestdata.zip", "w") as zipped:
        zipped.write(tmp_path / "train.csv", data.SENTIMENT140_TRAIN)
        zipped.write(tmp_path / "test.csv", data.SENTIMENT140_TEST)
    monkeypatch.setattr(data, "SENTIMENT140_FILES", {
        name: data.DataFile(file.what, file.folder, file.name, file.contents,
                            data.Archive(file.archive.url, file.archive.name,
                                         data.file_digest(folder / "trainingandtestdata.zip"), member=name),
                            strict=False)
        for name, file in data.SENTIMENT140_FILES.items()})
    assert data.sentiment140_csv(tmp_path).read_bytes() == (tmp_path / "train.csv").read_bytes()
    assert data.sentiment140_csv(tmp_path, test=True).read_bytes() == (tmp_path / "test.csv").read_bytes()


# --- the held-out sets are real ----------------------------------------------------------------

def test_the_default_held_out_tweets_are_the_official_test_files_359(real_data):
    from autograder.heldout import heldout_source
    from autograder.suite import load_suite

    for slug in ("rnn", "transformers"):
        source = heldout_source(load_suite(slug).folder, "sentiment140_heldout.csv")
        assert source.kind == "real" and "testdata.manual.2009.06.14.csv" in source.what
        with open(source.path, encoding="latin-1", newline="") as stream:
            assert sum(row[0] in ("0", "4") for row in csv.reader(stream)) == 359


def gru_trained_on_generated_tweets(folder):
    """The full-credit example's GRU notebook with the files it had when it was trained on 4,000
    generated tweets (kept in tests/fixtures), as a submission folder."""
    import shutil

    folder.mkdir()
    shutil.copy(KIT_ROOT / "examples" / "rnn" / "full_credit" / "rnn.ipynb", folder)
    for trained in (KIT_ROOT / "tests" / "fixtures" / "rnn_trained_on_generated_tweets").iterdir():
        shutil.copy(trained, folder)
    return folder


def test_a_checkpoint_trained_on_generated_tweets_fails_the_85_percent_test(real_data, tmp_path):
    results = grade("rnn", gru_trained_on_generated_tweets(tmp_path / "submission"), tmp_path / "results.json")
    test = next(t for t in results["tests"] if t["name"] == EIGHTY_FIVE)
    board = {entry["name"]: entry["value"] for entry in results["leaderboard"]}
    assert test["score"] == 0 and board["accuracy"] < 0.85, (test, board)
    assert "generated sample" not in results.get("output", "")


def test_the_same_checkpoint_passes_the_generated_sample(tmp_path):
    """Why the sample alone must never judge a class: it cannot tell that model from a real one."""
    results = grade("rnn", gru_trained_on_generated_tweets(tmp_path / "submission"), tmp_path / "results.json")
    assert next(t for t in results["tests"] if t["name"] == EIGHTY_FIVE)["score"] > 0
    assert "generated sample" in results["output"]


def test_build_ships_the_real_held_out_set_in_the_autograder_zip(real_data):
    done = run_kit("--data", str(real_data), "build", "rnn")
    assert done.returncode == 0, done.stderr
    assert "held-out sentiment140_heldout.csv: the official sentiment140 test file" in done.stdout
    with zipfile.ZipFile(KIT_ROOT / "release" / "rnn" / "autograder.zip") as zipped:
        shipped = zipped.read("autograder/suites/rnn/heldout/sentiment140_heldout.csv")
    assert shipped == data.sentiment140_csv(real_data, test=True).read_bytes()
    assert "generated sample" not in done.stderr


def test_without_the_data_the_sample_judges_and_every_report_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("KIT_HELDOUT", raising=False)
    results = grade("rnn", KIT_ROOT / "solutions" / "rnn.ipynb", tmp_path / "results.json")
    assert "generated sample" in results["output"]


# --- a master's real training path, on a slice of the real files ---------------------------------

def slice_of_real_data(real_data, folder, tweets_per_class: int = 150, glove_words: int = 20_000):
    """A data root in the real formats holding a few hundred real tweets (gzipped, as the real
    root has them) and the most frequent GloVe words: the real loaders, at CI speed."""
    with gzip.open(real_data / "sentiment140" / f"{data.SENTIMENT140_TRAIN}.gz", "rt", encoding="latin-1",
                   newline="") as stream:
        rows = list(csv.reader(stream))
    picked = [row for label in ("0", "4") for row in [r for r in rows if r[0] == label][:: 5][:tweets_per_class]]
    (folder / "sentiment140").mkdir(parents=True)
    with gzip.open(folder / "sentiment140" / f"{data.SENTIMENT140_TRAIN}.gz", "wt", encoding="latin-1",
                   newline="") as stream:
        csv.writer(stream, quoting=csv.QUOTE_ALL).writerows(picked)
    (folder / "glove").mkdir()
    with gzip.open(real_data / "glove" / "glove.6B.50d.top100k.txt.gz", "rt", encoding="utf-8") as source, \
            open(folder / "glove" / "glove.6B.50d.slice.txt", "w", encoding="utf-8") as sink:
        sink.writelines(line for _, line in zip(range(glove_words), source))
    return folder


def test_the_rnn_master_trains_in_full_mode_on_a_slice_of_the_real_files(real_data, tmp_path, monkeypatch):
    import nbformat
    from common import stage_master
    from nbclient import NotebookClient

    from autograder.suite import load_suite

    root = slice_of_real_data(real_data, tmp_path / "data")
    notebook_path, _ = stage_master(load_suite("rnn"), tmp_path / "run")
    notebook = nbformat.read(str(notebook_path), as_version=4)
    env = {name: value for name, value in os.environ.items() if name != "KIT_SMOKE"}
    env |= {"KIT_DATA": str(root), "KIT_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path / "run")}}).execute(env=env)
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.get("outputs", []))
    assert "smoke mode: False" in printed and "300 tweets, 50.0% positive" in printed
    assert "GloVe (50d) covers" in printed and "test accuracy:" in printed and "(sentiment140)" in printed
    checkpoint = torch.load(tmp_path / "run" / "rnn_checkpoint.pt", weights_only=True)
    assert checkpoint["config"]["embed_dim"] == 50


def test_the_reference_table_grades_the_trained_model_as_the_autograder_does(real_data, tmp_path):
    import shutil

    from reference import heldout_rows

    for name in ("rnn.ipynb", "rnn_checkpoint.pt"):
        shutil.copy(KIT_ROOT / "solutions" / name, tmp_path)
    (row,) = heldout_rows("rnn", tmp_path)
    assert "official sentiment140 test file" in row.metric and row.compare_with.startswith("below the bar")
    assert 0.5 < float(row.result) < 0.85
