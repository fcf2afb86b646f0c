"""Every master runs top to bottom in a real Jupyter kernel, in smoke mode (KIT_SMOKE=1).

The masters with trained models are run that way by the reference pipeline's smoke run
(``benchmarks/reference.py --smoke``, in ``test_benchmarks.py``), which fails on any cell error;
this file runs the others, so that no master is executed twice per CI run."""
import os
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import KIT_ROOT

from autograder.suite import available_slugs, load_suite

sys.path.insert(0, str(KIT_ROOT / "benchmarks"))
from reference_specs import SPECS  # noqa: E402


def test_every_reference_spec_names_an_assignment_whose_master_it_runs():
    assert set(SPECS) <= set(available_slugs())


def slugs_without_reference() -> list[str]:
    return [slug for slug in available_slugs() if slug not in SPECS]


@pytest.mark.parametrize("slug", slugs_without_reference())
def test_master_executes_in_smoke_mode(slug, tmp_path, monkeypatch):
    suite = load_suite(slug)
    notebook = nbformat.read(str(suite.master_path), as_version=4)
    monkeypatch.setenv("KIT_SMOKE", "1")
    monkeypatch.setenv("KIT_DATA", str(tmp_path / "data"))  # generated data goes here, never in the repo
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(suite.master_path.parent)}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
