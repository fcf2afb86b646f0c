"""Shared fixtures: the kit's root, a CLI runner, and notebook builders."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The real data sets: ``pytest --data DIR`` or $KIT_DATA (CI sets it to ../shared/data when that
# folder exists). Tests that need them take the ``real_data`` fixture and are skipped without them.
# Everything else runs on generated data: KIT_DATA is pointed at a scratch folder for the session (smoke
# runs write their generated files there, never into a real, possibly shared, data root), and the
# trained-model tests are judged on the generated held-out samples (KIT_HELDOUT=sample) so that their
# expected scores do not depend on which data this machine has.
REAL_DATA_ROOT: Path | None = None


def pytest_addoption(parser):
    parser.addoption("--data", default=None, help="the data root holding the real data sets (default: $KIT_DATA)")


def pytest_configure(config):
    import tempfile

    global REAL_DATA_ROOT
    if "KIT_REAL_DATA" in os.environ:  # a pytest-xdist worker: the controller has decided
        given = os.environ["KIT_REAL_DATA"]
    else:
        given = config.getoption("--data") or os.environ.get("KIT_DATA") or ""
        os.environ["KIT_REAL_DATA"] = given
    REAL_DATA_ROOT = Path(given).resolve() if given and Path(given).is_dir() else None

    os.environ["KIT_DATA"] = tempfile.mkdtemp(prefix="kit-test-data-")
    os.environ["KIT_HELDOUT"] = "sample"
    # One thread per process for torch's OpenMP (and MKL) pools, in the workers and every kernel and
    # command they start: the suite already runs a worker per core, and a pool's threads spin-wait
    # for a core the other worker holds. The reference pipeline's real-mode test took 443 s beside
    # one busy core with torch's default of a thread per core, 13 s with one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def real_data(monkeypatch) -> Path:
    """The real data root (skips the test without one), made the data root for this test, with the
    held-out sets taken from it as ``build`` and ``grade`` do by default."""
    if REAL_DATA_ROOT is None:
        pytest.skip("no real data: run with --data DIR or KIT_DATA=DIR (CI uses ../shared/data)")
    monkeypatch.setenv("KIT_DATA", str(REAL_DATA_ROOT))
    monkeypatch.delenv("KIT_HELDOUT", raising=False)
    return REAL_DATA_ROOT


SAMPLE_MODELS = KIT_ROOT / "tests" / "sample_models"


def sample_stand_in(path: Path) -> Path:
    """The file the fast tests use in place of ``path``, a model trained on the real data, which the
    generated held-out sample cannot judge: ``tests/sample_models/<its path in the repository>``, a
    smoke-trained model (``make_sample_models.py`` there), when there is one; else ``path``."""
    stand_in = SAMPLE_MODELS / Path(path).resolve().relative_to(KIT_ROOT)
    return stand_in if stand_in.exists() else Path(path)


def handout_on_path(slug: str) -> Path:
    """Make the handout's own helper modules importable by their plain names, as they are beside
    the student's notebook (the one place tests put a handout on ``sys.path``); returns its folder."""
    folder = KIT_ROOT / "assignments" / slug
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return folder


def unpack_handout(slug: str, folder: Path) -> Path:
    """The handout as a student unzips it (what ``build`` zips into release/), written to ``folder``
    from this checkout's sources: the runtime and the packager too, which git does not hold in
    ``assignments/<slug>/``."""
    from autograder.release import handout_files
    from autograder.suite import load_suite

    for name, content in handout_files(load_suite(slug)).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def run_kit(*args: str, cwd: Path = KIT_ROOT, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m autograder ARGS`` as a user would."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def grade(slug: str, submission: Path, out: Path) -> dict:
    """Grade as the kit does and return results.json, through a warm grading worker of this test
    process: ``grade-batch``'s own (``autograder.warm_pool``), which imports torch once and grades
    each submission in a grader forked for it, doing what ``python -m autograder grade`` does after
    its imports (tests/test_batch.py checks the two give the same results). Tests of the command
    line itself, and of what it prints, use ``run_kit``."""
    ok, why = warm_worker(slug).grade(Path(submission).resolve(), Path(out).resolve(), timeout=600)
    assert ok, why
    return json.loads(Path(out).read_text())


_WARM_WORKERS: dict[str, tuple[tuple, object]] = {}  # slug -> (the environment it started in, worker)


def warm_worker(slug: str):
    """This process's warm worker for ``slug``, started in the current environment: a test that sets
    KIT_LIMITS or KIT_DATA gets one started with them (and the one before is stopped)."""
    from autograder.warm_pool import WarmWorker

    environment = tuple(sorted((k, v) for k, v in os.environ.items() if not k.startswith("PYTEST_")))
    known = _WARM_WORKERS.get(slug)
    if known and known[0] == environment:
        return known[1]
    if known:
        known[1].stop()
    worker = WarmWorker(slug, env=dict(os.environ))
    _WARM_WORKERS[slug] = (environment, worker)
    return worker


@pytest.fixture(scope="session", autouse=True)
def _stop_warm_workers():
    yield
    for _, worker in _WARM_WORKERS.values():
        worker.stop()


def notebook_with_cells(sources: list[str]) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def write_notebook(notebook, path: Path) -> Path:
    nbformat.write(notebook, str(path))
    return path


def student_notebook_with(slug: str, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The handed-out notebook with the cell that defines each key replaced by its value:
    a submission as a student would make it."""
    notebook = nbformat.read(str(KIT_ROOT / "assignments" / slug / f"{slug}.ipynb"), as_version=4)
    for marker, source in replacements.items():
        cells = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
        assert cells, f"no cell of the {slug} handout contains {marker!r}"
        cells[0].source = source
    return notebook


@pytest.fixture
def kit_root() -> Path:
    return KIT_ROOT


@pytest.fixture
def handout_lock(tmp_path_factory):
    """Held by the tests that rebuild or check the committed handout and release/: under
    pytest-xdist (``make test`` runs one worker per core) one never sees another's edit."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the same for every worker
    with FileLock(str(shared / "kit-handout.lock")):
        yield
