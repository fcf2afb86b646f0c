"""Retrain the kit's sample-mode stand-ins for the checkpoints trained on real data.

The shipped ``solutions/gnn_model.pt`` and ``examples/gnn/full_credit/gnn_model.pt`` are trained on
WikipediaNetwork chameleon; the kit's fast tests judge trained models on the generated held-out
sample (``KIT_HELDOUT=sample``), whose graph has other features, so they use the files here instead:
the same notebooks run in smoke mode (``KIT_SMOKE=1``: the generated graph, without its held-out
pages), each saved under the path of the file it stands in for. Run it after changing a model:

    .venv/bin/python tests/sample_models/make_sample_models.py
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT_ROOT = HERE.parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "benchmarks")]

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from autograder.release import handout_files  # noqa: E402
from autograder.suite import load_suite  # noqa: E402
from common import stage_master  # noqa: E402  (benchmarks/common.py)

STAND_INS = {  # the file stood in for -> the notebook that trains it
    "solutions/gnn_model.pt": "solutions/gnn.ipynb",
    "examples/gnn/full_credit/gnn_model.pt": "examples/gnn/full_credit/gnn.ipynb",
}


def staged(notebook: str, folder: Path) -> Path:
    """The notebook in a handout folder: the master with the handout's set-up cell, an example as it is."""
    suite = load_suite("gnn")
    if notebook.startswith("solutions/"):
        return stage_master(suite, folder)[0]
    for name, content in handout_files(suite).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    shutil.copy(KIT_ROOT / notebook, folder / "gnn.ipynb")
    return folder / "gnn.ipynb"


def main() -> None:
    for target, notebook in STAND_INS.items():
        with tempfile.TemporaryDirectory(prefix="gnn-sample-model-") as scratch:
            folder = Path(scratch) / "handout"
            path = staged(notebook, folder)
            env = {**os.environ, "KIT_SMOKE": "1", "KIT_DATA": str(Path(scratch) / "data"), "MPLBACKEND": "Agg"}
            NotebookClient(nbformat.read(str(path), as_version=4), timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(folder)}}).execute(env=env)
            (HERE / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / "gnn_model.pt", HERE / target)
            print(f"tests/sample_models/{target}: {notebook} in smoke mode")


if __name__ == "__main__":
    main()
