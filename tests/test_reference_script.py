"""benchmarks/reference.py keeps what it measured: a master whose kernel dies or is interrupted still
leaves its figures and its error in the results, --offline never replaces a measured outcome,
missing data fails the run and is named relative to the data root, and the time budget
(``--budget``, ``coursekit.budget``) stops a training loop where its share is spent.

The masters here are tiny fake notebooks run in a real kernel: no training, a few seconds each."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import KIT_ROOT

from coursekit import budget

BENCHMARKS = KIT_ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import reference  # noqa: E402
from reference_specs import ReferenceSpec, Row  # noqa: E402

# --- the budget helper ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_budget_share_stops_the_loop_once_its_share_of_the_minutes_is_spent(monkeypatch):
    monkeypatch.setenv("KIT_TRAIN_MINUTES", "10")
    clock = FakeClock()
    deadline = budget.budget_share("test loop", 0.5, clock=clock)  # 5 of 10 minutes: 300 s
    epochs_run = 0
    for epoch in range(1, 11):
        clock.now += 100  # an epoch takes 100 s
        epochs_run = epoch
        if deadline.spent(f"after epoch {epoch} of 10"):
            break
    assert epochs_run == 3 and deadline.stopped_at == "after epoch 3 of 10"
    assert budget.budget_report()["minutes"] == 10
    assert budget.budget_report()["loops"]["test loop"] == {"share": 0.5, "stopped_at": "after epoch 3 of 10"}


def test_without_the_variable_no_loop_is_ever_stopped(monkeypatch):
    monkeypatch.delenv("KIT_TRAIN_MINUTES", raising=False)
    clock = FakeClock()
    deadline = budget.budget_share("student loop", 0.1, clock=clock)
    clock.now = 1e9
    assert deadline.seconds is None and not deadline.spent("after epoch 1 of 1") and deadline.stopped_at == ""
    deadline.ran(1, 20, "epoch")
    assert deadline.stopped_at == ""


def test_a_loop_that_stops_itself_at_the_deadline_is_reported_as_cut_when_it_ran_fewer_epochs(monkeypatch):
    monkeypatch.setenv("KIT_TRAIN_MINUTES", "2")
    deadline = budget.budget_share("seq2seq", 0.25)
    assert deadline.seconds == pytest.approx(30.0)  # what max_seconds= gets
    deadline.ran(7, 40, "epoch")
    assert deadline.stopped_at == "after epoch 7 of 40"


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_budget_that_is_not_a_positive_number_of_minutes_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv("KIT_TRAIN_MINUTES", value)
    with pytest.raises(ValueError, match="KIT_TRAIN_MINUTES"):
        budget.budget_share("any loop", 0.5)


# --- fake masters run by the script ---------------------------------------------------------------

def fake_rows(m: dict) -> list[Row]:
    rows = []
    if "accuracy" in m:
        rows.append(Row("fake model", "accuracy", f"{100 * m['accuracy']:.1f}%", trained_by="history",
                        loop="fake loop"))
    if "loss" in m:
        rows.append(Row("fake model", "loss", f"{m['loss']:.2f}"))
    return rows


def install_fake_assignment(monkeypatch, cells: list[str], requirements=()) -> ReferenceSpec:
    """Make ``fake`` the script's only assignment: its master is ``cells`` (after one that puts the
    kit on sys.path), its data requirements are the given (what, fetch) pairs."""
    import nbformat

    def stage(suite, folder):
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source)
                          for source in [f"import sys\nsys.path.insert(0, {str(KIT_ROOT)!r})", *cells]]
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(folder / "fake.ipynb"))
        return folder / "fake.ipynb", {}

    spec = ReferenceSpec("fake", lambda: list(requirements), {"accuracy": "accuracy", "loss": "loss"}, fake_rows)
    monkeypatch.setattr(reference, "SPECS", {"fake": spec})
    monkeypatch.setattr(reference, "stage_master", stage)
    monkeypatch.setattr(reference, "load_suite", lambda slug: slug)
    monkeypatch.setattr(reference, "make_helpers_importable", lambda slug: None)
    monkeypatch.setattr(reference, "heldout_rows", lambda slug, run_dir: [])  # a fake assignment has no held-out set
    monkeypatch.setattr(reference, "hardware", lambda: "the test machine")
    return spec


@pytest.fixture
def fake_assignment(monkeypatch):
    return lambda cells, requirements=(): install_fake_assignment(monkeypatch, cells, requirements)


def run_script(monkeypatch, tmp_path, *options: str) -> int:
    monkeypatch.setattr(sys, "argv", ["reference.py", "fake", "--data", str(tmp_path / "data"),
                                      "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"),
                                      *options])
    return reference.main()


def saved(tmp_path) -> dict:
    return json.loads((tmp_path / "results" / "reference" / "fake.json").read_text())


def test_a_master_whose_kernel_dies_still_saves_its_figures_and_the_error(fake_assignment, monkeypatch, tmp_path):
    fake_assignment(["history = [1, 2, 3]\naccuracy = 0.75",
                     "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                     "loss = 0.5"])
    assert run_script(monkeypatch, tmp_path) == 1
    outcome = saved(tmp_path)
    assert "the kernel died in cell 2" in outcome["error"] and not outcome["interrupted"]
    assert [(row["metric"], row["result"]) for row in outcome["rows"]] == [("accuracy", "75.0%")]
    assert outcome["rows"][0]["seconds"] is not None  # the cell that trained it had finished
    table = (tmp_path / "results" / "reference.md").read_text()
    assert "The master failed (the kernel died in cell 2" in table and "| fake model | accuracy | 75.0% |" in table


def test_a_master_that_runs_through_records_every_figure(fake_assignment, monkeypatch, tmp_path):
    fake_assignment(["history = []\naccuracy = 0.75", "loss = 0.5"])
    assert run_script(monkeypatch, tmp_path) == 0
    outcome = saved(tmp_path)
    assert outcome["error"] == "" and [row["result"] for row in outcome["rows"]] == ["75.0%", "0.50"]


def test_the_budget_reaches_the_master_and_the_table_says_where_it_stopped_training(fake_assignment, monkeypatch,
                                                                                     tmp_path):
    monkeypatch.setenv("KIT_TRAIN_MINUTES", "999")  # the script's --budget decides, not the caller's shell
    fake_assignment(["from coursekit.budget import budget_share\nimport time\n"
                     "deadline = budget_share('fake loop', 0.5)\nhistory = []\n"
                     "for epoch in range(1, 1001):\n"
                     "    time.sleep(0.01)\n    history.append(epoch)\n"
                     "    if deadline.spent(f'after epoch {epoch} of 1000'):\n        break\n"
                     "accuracy, loss = 0.5, 0.25"])
    assert run_script(monkeypatch, tmp_path, "--budget", "0.005") == 0  # 0.3 s, half of it for the loop
    outcome = saved(tmp_path)
    assert outcome["budget_minutes"] == 0.005
    note = outcome["rows"][0]["budget"]
    assert note.startswith("0.0025 of 0.005 min, stopped after epoch ") and note.endswith(" of 1000"), note
    assert "Time budget: 0.005 min of training" in (tmp_path / "results" / "reference.md").read_text()


def test_offline_reports_the_missing_files_but_keeps_the_measured_outcome(fake_assignment, monkeypatch, tmp_path):
    def absent(root):
        raise FileNotFoundError(f"download it by hand and put it at {root / 'fake' / 'fake.zip'}")

    fake_assignment(["accuracy = 0.75"], requirements=[("the fake data set (fake.zip)", absent)])
    measured = reference.Outcome("fake", "2026-01-01", "a GPU", "real data",
                                 rows=[{"model": "fake model", "metric": "accuracy", "result": "91.0%",
                                        "compare_with": "", "trained_by": "history", "loop": "", "seconds": 60.0}])
    reference.save(measured, tmp_path / "results" / "reference")
    assert run_script(monkeypatch, tmp_path, "--offline") == 1
    assert saved(tmp_path)["rows"] == measured.rows and saved(tmp_path)["date"] == "2026-01-01"
    assert "| fake model | accuracy | 91.0% |" in (tmp_path / "results" / "reference.md").read_text()


def test_missing_data_fails_the_run_and_is_named_relative_to_the_data_root(fake_assignment, monkeypatch, tmp_path,
                                                                            capsys):
    def absent(root):
        raise FileNotFoundError(f"could not download it: download it by hand and put it at {root / 'fake' / 'fake.zip'}")

    fake_assignment(["accuracy = 0.75"], requirements=[("the fake data set (fake.zip)", absent)])
    assert run_script(monkeypatch, tmp_path) == 1
    outcome = saved(tmp_path)
    assert outcome["missing"] == ["the fake data set (fake.zip): could not download it: download it by hand and "
                                  "put it at <data root>/fake/fake.zip"]
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("- ")]
    assert printed == ["- " + outcome["missing"][0]]
    assert str(tmp_path) not in (tmp_path / "results" / "reference.md").read_text() + json.dumps(outcome)


DRIVER = """
import sys
sys.path[:0] = [{tests!r}, {kit!r}]  # this checkout, not the one the virtualenv may point at
import pytest
import test_reference_script as t
t.install_fake_assignment(pytest.MonkeyPatch(), [
    "history = []\\naccuracy = 0.5", "open({marker!r}, 'w').close()\\nimport time\\ntime.sleep(120)", "loss = 1.0"])
sys.exit(t.reference.main())
"""


def test_ctrl_c_saves_what_was_measured_then_exits_non_zero(tmp_path):
    marker = tmp_path / "training-started"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(KIT_ROOT / "tests"), kit=str(KIT_ROOT), marker=str(marker)))
    process = subprocess.Popen([sys.executable, str(driver), "fake", "--data", str(tmp_path / "data"),
                                "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs")],
                               cwd=KIT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), process.communicate()[0] if process.poll() is not None else "the master never started"
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    outcome = saved(tmp_path)
    assert outcome["interrupted"] and outcome["error"] == "Ctrl-C in cell 2", outcome
    assert [row["result"] for row in outcome["rows"]] == ["50.0%"]
    assert "The run was interrupted (Ctrl-C in cell 2)" in (tmp_path / "results" / "reference.md").read_text()
