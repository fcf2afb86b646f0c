"""Placeholders an instructor must replace warn where they matter: the example handout_url and the
generated held-out samples in `build` and `verify`, the sample in results.json; the course name from
course.toml heads every student notebook."""
from __future__ import annotations

import json
import tomllib

from conftest import KIT_ROOT, grade, run_kit

from autograder.course import EXAMPLE_HOST, placeholder_warnings, sample_notice
from autograder.heldout import samples_in_use
from autograder.suite import load_suite

COURSE = tomllib.loads((KIT_ROOT / "course.toml").read_text())


def test_build_warns_about_the_example_url_and_the_generated_heldout_sample():
    assert EXAMPLE_HOST in COURSE["handout_url"], "this test expects the repository's example course.toml"
    result = run_kit("build", "foundations", "rnn")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any("handout_url is still the example" in w for w in warnings)
    assert any(w.startswith("warning: rnn: the held-out data is the generated sample heldout/sample_sentiment140_heldout.csv")
               for w in warnings)
    assert not any(w.startswith("warning: foundations:") for w in warnings), "foundations has no held-out data"


def test_verify_warns_too_without_failing():
    result = run_kit("verify", "foundations")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: course.toml's handout_url is still the example" in result.stdout


def test_a_real_heldout_file_silences_the_sample_warning(tmp_path):
    (tmp_path / "heldout").mkdir()
    (tmp_path / "heldout" / "sample_data.csv").write_text("x")
    assert samples_in_use(tmp_path) == ["data.csv"]
    (tmp_path / "heldout" / "data.csv").write_text("y")
    assert samples_in_use(tmp_path) == []


def test_every_suite_with_a_sample_is_named_in_the_warnings():
    for slug in ("rnn", "transformers", "gnn"):
        suite = load_suite(slug)
        assert samples_in_use(suite.folder), f"{slug} ships a generated sample"
        assert any(w.startswith(f"{slug}: ") for w in placeholder_warnings([suite]))


def test_grade_says_in_results_json_when_the_heldout_data_is_the_sample(tmp_path):
    results = grade("rnn", KIT_ROOT / "solutions" / "rnn.ipynb", tmp_path / "results.json")
    assert sample_notice(load_suite("rnn")) in results["output"]
    assert "generated sample" in results["output"]
    foundations = grade("foundations", KIT_ROOT / "solutions" / "foundations.ipynb", tmp_path / "f.json")
    assert "generated sample" not in foundations["output"]


def test_the_course_name_heads_every_student_notebook():
    for slug in ("foundations", "gnn"):
        notebook = json.loads((KIT_ROOT / "assignments" / slug / f"{slug}.ipynb").read_text())
        first_line = "".join(notebook["cells"][0]["source"]).splitlines()[0]
        assert first_line == f"# {COURSE['course']}: {load_suite(slug).title}"
