"""The benchmark scripts run in CI in smoke mode: the grading table against otter, the reference
models' pipeline on generated data, and the offline report that names every missing data file.
The yardstick of the generative samples is checked on images whose scores are known."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from conftest import KIT_ROOT

BENCHMARKS = KIT_ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from reference_specs import SPECS  # noqa: E402
from sample_quality import classifier_score, label_agreement  # noqa: E402

NUMBER = r"[0-9]+(?:\.[0-9]+)?"


def run_script(name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], cwd=KIT_ROOT, capture_output=True,
                          text=True, timeout=timeout)


def sections(output: str) -> dict[str, str]:
    """The printed report, cut into its per-assignment sections ("## slug")."""
    parts = re.split(r"^## (\w+)$", output, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def table_rows(section: str) -> list[list[str]]:
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # without the header and its rule


def test_grading_benchmark_smoke_times_the_kit_beside_otter():
    result = run_script("grading.py", "--smoke")
    assert result.returncode == 0, result.stderr[-2000:]
    row = (rf"\| foundations \| {NUMBER} s \| {NUMBER} s \| {NUMBER} MiB \| {NUMBER} s \(`torch`\) \| {NUMBER}× \| "
           rf"{NUMBER} s \(`torch`\) \| {NUMBER}× \| {NUMBER} s \| {NUMBER} MiB \| {NUMBER}× \|")
    assert re.search(row, result.stdout), result.stdout


def test_otter_in_full_mode_needs_the_real_data_and_says_so_in_one_line(tmp_path):
    result = run_script("grading.py", "--otter-full", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"--otter-full runs the masters on the real data sets: point --data (or KIT_DATA) at them "
        f"(got {tmp_path / 'nowhere'})"]


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def smoke_report(smoke_runs):
    result = run_script("reference.py", "--smoke", "--runs", str(smoke_runs))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sections(result.stdout)


EXPECTED_ROWS = {"rnn": 1, "attention": 4, "transformers": 3, "gnn": 2, "generative": 7}


@pytest.mark.parametrize("slug", list(SPECS))
def test_reference_smoke_run_fills_every_row_with_a_measurement(smoke_report, slug):
    rows = table_rows(smoke_report[slug])
    assert len(rows) == EXPECTED_ROWS[slug], smoke_report[slug]
    for model, metric, result, compare_with, training_time in rows:
        assert re.fullmatch(rf"{NUMBER}%?", result), f"{slug}: {model} {metric} has no figure: {result!r}"
    trained = [row for row in rows if row[4]]
    assert trained and all(re.fullmatch(rf"{NUMBER} (s|min|h)", row[4]) for row in trained), rows


def test_reference_smoke_scores_the_generated_samples_on_the_yardstick_scale(smoke_report):
    rows = {(row[0], row[1].split(" ")[0]): row[2] for row in table_rows(smoke_report["generative"])}
    for model in ("GAN", "conditional GAN", "VAE", "DDPM", "real test images"):
        assert 1.0 <= float(rows[model, "classifier"]) <= 10.0, rows


def test_reference_smoke_draws_a_grid_per_generative_model(smoke_report, smoke_runs):
    grids = sorted(p.name for p in (smoke_runs / "generative").glob("generative_*.png"))
    assert grids == ["generative_conditional_gan.png", "generative_ddpm.png", "generative_gan.png",
                     "generative_vae.png"]
    assert all((smoke_runs / "generative" / name).stat().st_size > 5000 for name in grids)


def test_reference_offline_names_each_missing_file_with_its_url_and_place(tmp_path):
    data, results = tmp_path / "data", tmp_path / "results"
    result = run_script("reference.py", "--offline", "--data", str(data), "--results", str(results), timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]  # data is missing
    report = (results / "reference.md").read_text()
    by_slug = sections(report)
    assert set(by_slug) == set(SPECS)
    assert str(tmp_path) not in report
    for slug, text in by_slug.items():
        assert "Not measured: the data is not here." in text, text
        assert "could not download http" in text and "put it at <data root>/" in text, text
        assert "| model |" not in text, f"{slug}: a table in a section with no data"
    assert "sentiment140" in by_slug["rnn"] and "chameleon.npz" in by_slug["gnn"]
    assert sorted(p.name for p in (results / "reference").glob("*.json")) == sorted(f"{s}.json" for s in SPECS)


def test_classifier_score_is_ten_for_sharp_even_classes_and_one_for_a_single_class():
    class Oracle(torch.nn.Module):
        """Reads the class off the image: pixel k of the first row lit means class k."""

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(100.0))

        def forward(self, images):
            return images[:, 0, 0, :10] * self.scale

    even = torch.zeros(100, 1, 28, 28)
    even[torch.arange(100), 0, 0, torch.arange(100) % 10] = 1.0
    single = torch.zeros(100, 1, 28, 28)
    single[:, 0, 0, 3] = 1.0
    assert classifier_score(Oracle(), even) == pytest.approx(10.0, rel=1e-3)
    assert classifier_score(Oracle(), single) == pytest.approx(1.0, rel=1e-3)
    assert label_agreement(Oracle(), even, torch.arange(100) % 10) == 1.0
    assert label_agreement(Oracle(), even, (torch.arange(100) + 1) % 10) == 0.0


def test_reference_real_mode_runs_the_masters_on_files_in_the_real_formats(tmp_path, monkeypatch):
    """Full mode (real budgets, no smoke) on small generated files in the real formats, put where
    the real ones go: the data check passes, the masters train, and the results are kept."""
    from conftest import handout_on_path

    monkeypatch.setenv("KIT_DATA_UNCHECKED", "1")  # the generated chameleon.npz is not the file gnn_data pins

    handout_on_path("gnn")
    from gnn_data import write_fake_wikipedia
    from coursekit.data import (NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS, SENTIMENT140_TEST, SENTIMENT140_TRAIN,
                                write_fake_sentiment140)

    data, results, runs = tmp_path / "data", tmp_path / "results", tmp_path / "runs"
    write_fake_sentiment140(data / "sentiment140" / SENTIMENT140_TRAIN, n=2000, seed=0)
    write_fake_sentiment140(data / "sentiment140" / SENTIMENT140_TEST, n=100, seed=1, neutral_fraction=0.2)
    (data / "glove").mkdir()
    (data / "glove" / "glove.6B.50d.txt").write_text("".join(  # GloVe's text format, 50 dimensions
        f"{word} " + " ".join(f"{(sum(map(ord, word)) % 97 + k) / 970:.3f}" for k in range(50)) + "\n"
        for word in POSITIVE_WORDS + NEGATIVE_WORDS + NEUTRAL_WORDS))
    write_fake_wikipedia(data / "wikipedia", "chameleon")
    result = run_script("reference.py", "rnn", "gnn", "--data", str(data), "--results", str(results),
                        "--runs", str(runs))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = sections((results / "reference.md").read_text())
    assert set(report) == {"rnn", "gnn"}
    for slug, count in (("rnn", 1), ("gnn", 2)):
        assert "real data" in report[slug] and len(table_rows(report[slug])) == count, report[slug]
        assert (runs / slug / f"{slug}.executed.ipynb").exists()
    assert (runs / "gnn" / "gnn_model.pt").exists()  # the trained files stay with the run, for instructors


def test_sandbox_cost_compares_the_strongest_box_with_the_weakest_on_the_same_grader():
    result = run_script("sandbox_cost.py", "--runs", "1", "--no-write", "foundations")
    assert result.returncode == 0, result.stderr[-2000:]
    row = (rf"\| foundations \| {NUMBER} s \| {NUMBER} s \| [+-]{NUMBER} s \| {NUMBER} s \| [+-]{NUMBER} % \|")
    assert re.search(row, result.stdout), result.stdout
    assert "Box here: sandbox: " in result.stdout
