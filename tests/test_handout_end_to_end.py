"""The released handout of every assignment, used as a student would, in a fresh folder outside the
repository: the finished notebook run top to bottom (its last cell hands in), `collect_submission.py`
run twice, and the zip graded by the kit; and the same on Colab, with a stand-in `google.colab`
(tests/standins) and the handout fetched from its URL by the set-up cell."""
from __future__ import annotations

import math
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT, grade, sample_stand_in, unpack_handout
from nbclient import NotebookClient

from autograder.suite import available_slugs

STANDINS = KIT_ROOT / "tests" / "standins"


def finished_work(slug: str) -> tuple[Path, list[Path]]:
    """A full-credit notebook of ``slug`` from examples/, and the trained files beside it (those
    trained on real data replaced by their stand-ins for the generated held-out samples)."""
    folder = KIT_ROOT / "examples" / slug / "full_credit"
    if folder.is_dir():
        return folder / f"{slug}.ipynb", sorted(sample_stand_in(p) for p in folder.iterdir() if p.suffix != ".ipynb")
    return KIT_ROOT / "examples" / slug / "full_credit.ipynb", []


def collect(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "collect_submission.py"], cwd=folder, capture_output=True,
                          text=True, timeout=180)


def full_marks(results: dict) -> bool:
    return math.isclose(results["score"], sum(t["max_score"] for t in results["tests"])) and results["score"] > 0


@pytest.mark.parametrize("slug", available_slugs())
def test_collect_twice_never_packages_its_own_outputs_and_the_zip_gets_full_marks(slug, tmp_path):
    folder = unpack_handout(slug, tmp_path / slug)
    notebook, extras = finished_work(slug)
    shutil.copy(notebook, folder / f"{slug}.ipynb")
    for extra in extras:
        shutil.copy(extra, folder / extra.name)
    (folder / f"{slug}_written_answers.html").write_text("<p>last week's export</p>")  # an old run's output

    first = collect(folder)
    assert first.returncode == 0, first.stderr
    zip_path = folder / f"{slug}_submission.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names_first = sorted(archive.namelist())
    size_first = zip_path.stat().st_size
    second = collect(folder)
    assert second.returncode == 0, second.stderr
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == names_first
    assert names_first == sorted([f"{slug}.ipynb", *(e.name for e in extras)])
    assert abs(zip_path.stat().st_size - size_first) < 1024, "the second zip holds more than the first"
    assert not list(folder.glob("*.partial"))
    results = grade(slug, zip_path, tmp_path / "results.json")
    assert full_marks(results), [t for t in results["tests"] if t["score"] < t["max_score"]]


@pytest.mark.parametrize("slug", available_slugs())
def test_no_extra_files_pattern_matches_a_file_the_handout_or_the_script_makes(slug, tmp_path):
    folder = unpack_handout(slug, tmp_path / slug)
    for made in (f"{slug}_submission.zip", f"{slug}_written_answers.pdf", f"{slug}_written_answers.html",
                 "handout.zip", f"Copy of {slug}.ipynb"):
        (folder / made).write_bytes(b"x")
    sys.path.insert(0, str(folder))
    try:
        import collect_submission

        manifest = json.loads((folder / "assignment.json").read_text())
        found, _ = collect_submission.extra_files(folder, manifest)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("collect_submission", None)
    assert found == [], f"{manifest['extra_files']} would package {[p.name for p in found]}"


def with_current_cells(notebook_path: Path, handout: Path, slug: str, handout_url: str = "") -> nbformat.NotebookNode:
    """The finished notebook with the handout's own set-up cell (its URL replaced by
    ``handout_url``) and hand-in cell: what a student working in this release has."""
    student = nbformat.read(str(handout / f"{slug}.ipynb"), as_version=4)
    notebook = nbformat.read(str(notebook_path), as_version=4)
    setup = student.cells[0].source
    if handout_url:
        prefix = 'HANDOUT_URL = "'
        start = setup.index(prefix) + len(prefix)
        setup = setup[:start] + handout_url + setup[setup.index('"', start):]
    notebook.cells[0].source = setup
    hand_in = nbformat.v4.new_code_cell(student.cells[-1].source)
    hand_in.pop("id", None)  # the examples are nbformat 4.4, without cell ids
    notebook.cells.append(hand_in)
    return notebook


def execute(notebook, folder: Path, env: dict[str, str]) -> str:
    """Run the notebook top to bottom in a real kernel in ``folder``; return what it printed."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def test_on_a_laptop_the_notebook_runs_top_to_bottom_and_its_last_cell_hands_in(tmp_path):
    slug = "foundations"
    folder = unpack_handout(slug, tmp_path / slug)
    notebook = with_current_cells(finished_work(slug)[0], folder, slug)
    path = folder / f"{slug}.ipynb"
    nbformat.write(notebook, str(path))
    printed = execute(notebook, folder, {"MPLBACKEND": "Agg"})
    assert "[FAIL]" not in printed and "differ from the grader" not in printed
    assert not [o for c in notebook.cells if c.cell_type == "code" and "check(" in c.source for o in c.outputs
                if o.output_type == "execute_result"], "check() left an Out[...] value"
    assert f"wrote {slug}_submission.zip" in printed and f"wrote {slug}_written_answers.pdf" in printed
    nbformat.write(notebook, str(path))  # saved with its outputs, as the student saves it
    assert collect(folder).returncode == 0 and collect(folder).returncode == 0
    assert (folder / f"{slug}_written_answers.pdf").read_bytes().startswith(b"%PDF")
    assert full_marks(grade(slug, folder / f"{slug}_submission.zip", tmp_path / "results.json"))


def test_on_colab_the_set_up_cell_fetches_the_handout_and_the_last_cell_downloads_zip_and_pdf(tmp_path):
    slug = "foundations"
    release = unpack_handout(slug, tmp_path / "release")
    handout_zip = tmp_path / f"{slug}-handout.zip"
    with zipfile.ZipFile(handout_zip, "w") as archive:
        for path in sorted(release.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(release).as_posix())
    drive = tmp_path / "drive"  # Colab keeps the notebook in Drive, not in the working folder
    drive.mkdir()
    notebook = with_current_cells(finished_work(slug)[0], release, slug, handout_zip.as_uri())
    nbformat.write(notebook, str(drive / f"Copy of {slug}.ipynb"))
    content = tmp_path / "content"
    content.mkdir()
    ipython_dir = tmp_path / "ipython"  # Colab's kernel has google.colab imported from the start
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-colab.py").write_text("import google.colab\n")
    downloads = tmp_path / "downloads.txt"
    printed = execute(notebook, content, {
        "PYTHONPATH": os.pathsep.join([str(STANDINS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "IPYTHONDIR": str(ipython_dir), "MPLBACKEND": "Agg",
        "KIT_COLAB_NOTEBOOK": str(drive / f"Copy of {slug}.ipynb"), "KIT_COLAB_DOWNLOADS": str(downloads)})
    assert "Fetching the handout's helper files" in printed and "[FAIL]" not in printed
    assert "Your browser is downloading these files" in printed
    offered = [Path(line) for line in downloads.read_text().splitlines()]
    assert offered == [content / f"{slug}_submission.zip", content / f"{slug}_written_answers.pdf"]
    with zipfile.ZipFile(offered[0]) as archive:
        assert archive.namelist() == [f"{slug}.ipynb"]
        handed_in = json.loads(archive.read(f"{slug}.ipynb"))
    assert "".join(handed_in["cells"][-1]["source"]) == notebook.cells[-1].source, "the zip holds the notebook Colab handed over"
    assert full_marks(grade(slug, offered[0], tmp_path / "results.json"))
