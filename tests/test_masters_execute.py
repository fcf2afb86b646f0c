"""Every master runs top to bottom in a real Jupyter kernel, in smoke mode (KIT_SMOKE=1)."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.suite import available_slugs, load_suite


@pytest.mark.parametrize("slug", available_slugs())
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
