"""Hostile and broken submissions never raise a score and never stop results.json from being written.

Each case is a real submission graded through the real `grade` command. A case built on the stub
(0 points) must still score 0; a case built on the master must lose exactly the names it breaks.
Every case must end with a valid results.json within the grading limit.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT, run_kit
from test_grading import check_gradescope_schema

from autograder.suite import load_suite

SLUG = "foundations"
MASTER = KIT_ROOT / "solutions" / f"{SLUG}.ipynb"
STUB = KIT_ROOT / "assignments" / SLUG / f"{SLUG}.ipynb"
HIDDEN_TESTS = KIT_ROOT / "autograder" / "suites" / SLUG / "hidden_tests.py"
GRADING_LIMIT_S = 120
FULL_MARKS = round(sum(fn.kit_test.points for fn, _ in load_suite("foundations").tests()), 4)  # as results.json rounds


def graded(path: Path, out: Path) -> dict:
    """Grade through the CLI; the command must succeed and results.json must be valid."""
    started = time.monotonic()
    result = run_kit("grade", SLUG, str(path), "--out", str(out), timeout=GRADING_LIMIT_S + 30)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert elapsed < GRADING_LIMIT_S
    results = json.loads(out.read_text())
    check_gradescope_schema(results)
    return results


def with_cells(base: Path, *sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(str(base), as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


def grade_cells(tmp_path: Path, base: Path, *sources: str) -> dict:
    path = tmp_path / f"{SLUG}.ipynb"
    nbformat.write(with_cells(base, *sources), str(path))
    return graded(path, tmp_path / "results.json")


def lost_names(results: dict) -> set[str]:
    return {t["name"].split(":")[0] for t in results["tests"] if t["score"] < t["max_score"]}


# ---------------------------------------------------------------------------------------------
# Patching the judge's tools: the judge is another process, so patches reach nothing it uses

PATCHES = {
    "torch.allclose and assert_close": "import torch\n    torch.allclose = lambda *a, **k: True\n"
                                       "    torch.testing.assert_close = lambda *a, **k: None",
    "numpy.allclose": "import numpy\n    numpy.allclose = lambda *a, **k: True",
    "torch.Tensor.__eq__": "import torch\n    torch.Tensor.__eq__ = lambda a, b: True\n    torch.equal = lambda a, b: True",
    "builtins isinstance and print": "import builtins\n    builtins.isinstance = lambda *a: True\n"
                                     "    builtins.print = lambda *a, **k: None",
    "builtins __import__": "import builtins\n    builtins.__import__ = lambda *a, **k: None",
}


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_patching_the_judges_tools_earns_nothing(patch, tmp_path):
    # A class body runs at definition time, so the grader's loader really executes the patch.
    results = grade_cells(tmp_path, STUB, f"class Patch:\n    {PATCHES[patch]}")
    assert results["score"] == 0


def test_objects_that_equal_anything_or_lie_about_their_type_earn_nothing(tmp_path):
    liar = '''
import torch

class EqualsAnything(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = float.__hash__

class LyingTensor(torch.Tensor):
    @property
    def shape(self): return torch.Size([2])
    def __eq__(self, other): return torch.tensor(True)

class Impostor:
    __class__ = torch.Tensor
    shape = torch.Size([2])
    def __eq__(self, other): return True

W_AND = Impostor()
b_AND = EqualsAnything(0.0)
W_OR = LyingTensor()
b_OR = Impostor()
h1_next = Impostor()

def xor_network(x): return EqualsAnything(0.0)
def spectral_radius(W): return Impostor()
def hidden_state(W, h0, t): return LyingTensor()
def self_attention_plain(X): return Impostor()
def parity_lstm_params(): return {k: Impostor() for k in ["W_f", "b_f", "W_i", "b_i", "W_C", "b_C", "W_o", "b_o"]}
'''
    results = grade_cells(tmp_path, STUB, liar)
    assert results["score"] == 0


def test_printing_or_writing_fake_results_changes_nothing(tmp_path):
    out = tmp_path / "results.json"
    fake = json.dumps({"score": 1000, "tests": [{"name": "all", "score": 1000, "max_score": 1}]})
    writer = f'''
import atexit, json, os, sys
FAKE = {fake!r}

def _forge():
    print(FAKE)
    os.write(1, FAKE.encode())
    for path in ["results.json", {str(out)!r}, "/autograder/results/results.json"]:
        try:
            with open(path, "w") as stream:
                stream.write(FAKE)
        except OSError:
            pass

class Forge:
    atexit.register(_forge)
    sys.settrace(lambda *args: None)
    _forge()

def spectral_radius(W):
    _forge()
    return 0.0
'''
    results = grade_cells(tmp_path, STUB, writer)
    assert results["score"] == 0
    assert json.loads(out.read_text())["score"] == 0
    assert not Path("/autograder/results/results.json").exists()


def test_exiting_costs_only_the_names_that_exit(tmp_path):
    exits = '''
import os, sys

class Exit:
    try:
        sys.exit("bye")
    except SystemExit:
        pass

def xor_network(x): sys.exit(0)
def spectral_radius(W): os._exit(0)
def hidden_state(W, h0, t): raise SystemExit(3)
def self_attention_plain(X): raise KeyboardInterrupt
'''
    results = grade_cells(tmp_path, MASTER, exits)
    # copy_outputs calls self_attention_plain, so it falls with it
    assert lost_names(results) == {"xor_network", "spectral_radius", "hidden_state", "self_attention_plain", "copy_outputs"}
    assert any("ended the Python process" in t["output"] for t in results["tests"])


def test_hangs_and_deep_recursion_cost_only_the_names_they_break(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_LIMITS", "call_seconds = 4")  # each hang is stopped at 4 s, not the suite's 10
    hangs = '''
import sys, time

def spectral_radius(W):
    while True:
        pass

def hidden_state(W, h0, t):
    time.sleep(3600)

def self_attention_plain(X):
    sys.setrecursionlimit(10**8)
    return self_attention_plain(X)
'''
    results = grade_cells(tmp_path, MASTER, hangs)
    assert lost_names(results) == {"spectral_radius", "hidden_state", "self_attention_plain", "copy_outputs"}
    outputs = " ".join(t["output"] for t in results["tests"])
    assert "timed out after 4 s" in outputs


def test_a_top_level_infinite_loop_is_not_run(tmp_path):
    results = grade_cells(tmp_path, MASTER, "while True:\n    pass")
    assert results["score"] == FULL_MARKS


def test_memory_floods_fail_with_a_clear_message(tmp_path):
    floods = '''
import torch

def spectral_radius(W):
    return float(torch.empty(50 * 1024**3, dtype=torch.uint8).sum())

def hidden_state(W, h0, t):
    return bytearray(50 * 1024**3)
'''
    results = grade_cells(tmp_path, MASTER, floods)
    assert lost_names(results) == {"spectral_radius", "hidden_state"}
    assert any("ran out of memory" in t["output"] for t in results["tests"])


def sandbox_processes() -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"autograder.sandbox_child" in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


def test_forked_processes_daemons_and_threads_are_gone_after_grading(tmp_path):
    before = set(sandbox_processes())
    spawner = '''
import os, threading, time

def _spin():
    while True:
        pass

class Threads:
    threading.Thread(target=_spin).start()

def xor_network(x):
    for _ in range(20):
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
    if os.fork() == 0:        # a daemon that escapes the process group
        os.setsid()
        if os.fork() == 0:
            time.sleep(120)
        os._exit(0)
    return int(x[0]) ^ int(x[1])
'''
    results = grade_cells(tmp_path, MASTER, spawner)
    assert results["score"] <= FULL_MARKS
    time.sleep(0.5)
    assert set(sandbox_processes()) - before == set()


def test_reading_the_hidden_tests_or_the_master_earns_nothing(tmp_path):
    reader = f'''
import os

def _peek():
    text = ""
    for path in [{str(HIDDEN_TESTS)!r}, {str(MASTER)!r}]:
        try:
            text += open(path).read()
        except OSError:
            pass
    print(text[:1000])
    return os.listdir({str(HIDDEN_TESTS.parent)!r}) if os.path.isdir({str(HIDDEN_TESTS.parent)!r}) else []

def spectral_radius(W):
    return _peek()

h1_next = _peek()
'''
    results = grade_cells(tmp_path, STUB, reader)
    assert results["score"] == 0


def isolation_available() -> bool:
    """Whether this machine lets the grader make the file system read-only for the child."""
    probe = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
             "from autograder import containment; containment.isolate(Path(sys.argv[2]))")
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    return subprocess.run([sys.executable, "-c", probe, str(KIT_ROOT), str(scratch)]).returncode == 0


@pytest.mark.skipif(not isolation_available(), reason="namespaces not permitted: the grader files are "
                    "protected by the sandbox user instead (Gradescope)")
def test_deleting_or_modifying_the_graders_files_is_impossible(tmp_path):
    targets = [HIDDEN_TESTS, KIT_ROOT / "coursekit" / "testing.py", KIT_ROOT / "autograder" / "results.py"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in targets}
    vandal = f'''
import os

def _vandalise():
    for path in {[str(p) for p in targets]!r}:
        try:
            with open(path, "a") as stream:
                stream.write("\\n# pwned\\n")
            os.remove(path)
        except OSError:
            pass

def spectral_radius(W):
    _vandalise()
    return 0.0

W_AND = _vandalise()
'''
    results = grade_cells(tmp_path, STUB, vandal)
    assert results["score"] == 0
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in targets} == before


def test_network_access_reaches_nobody(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections = []

    def accept():
        deadline = time.monotonic() + GRADING_LIMIT_S
        while time.monotonic() < deadline and not stop.is_set():
            try:
                connections.append(listener.accept())
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=accept)
    thread.start()
    caller = f'''
import socket

def spectral_radius(W):
    for host in ["127.0.0.1", "example.com"]:
        try:
            socket.create_connection((host, {port}), timeout=2).sendall(b"answers please")
        except OSError:
            pass
    return 0.0
'''
    try:
        results = grade_cells(tmp_path, STUB, caller)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert results["score"] == 0
    if isolation_available():
        assert connections == []


def test_an_output_flood_does_not_stop_grading(tmp_path):
    flood = '''
import sys

def spectral_radius(W):
    chunk = "x" * (1 << 20)
    for _ in range(100):
        sys.stdout.write(chunk)
    return float(torch.linalg.eigvals(W).abs().max())
'''
    results = grade_cells(tmp_path, MASTER, flood)
    assert results["score"] == FULL_MARKS


# ---------------------------------------------------------------------------------------------
# Broken notebooks and archives: 0 points, the reason, and still a valid results.json


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BROKEN_NOTEBOOKS = {
    "not JSON": (b'{"cells": [', "not valid notebook JSON"),
    "nbformat 3": (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}).encode(),
                   "not an nbformat 4 notebook"),
    "not UTF-8": ('{"cells": [], "note": "caf\u00e9"}'.encode("latin-1"), "not UTF-8"),
    "empty": (b"", "is empty"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_NOTEBOOKS))
def test_a_broken_notebook_scores_zero_with_the_reason(case, tmp_path):
    data, reason = BROKEN_NOTEBOOKS[case]
    results = graded(write_bytes(tmp_path / f"{SLUG}.ipynb", data), tmp_path / "results.json")
    assert results["score"] == 0 and reason in results["output"]


def test_a_notebook_with_50_mb_of_outputs_is_graded_normally(tmp_path):
    notebook = nbformat.read(str(MASTER), as_version=4)
    code_cell = next(c for c in notebook.cells[1:] if c.cell_type == "code")
    code_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * (50 * 1024**2))]
    path = tmp_path / f"{SLUG}.ipynb"
    nbformat.write(notebook, str(path))
    assert graded(path, tmp_path / "results.json")["score"] == FULL_MARKS


def zip_with(path: Path, members: dict[str, bytes], symlinks: dict[str, str] = {}) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)
    return path


def test_a_zip_with_escaping_paths_and_symlinks_writes_nothing_outside(tmp_path):
    escape = tmp_path / "escaped.txt"
    archive = zip_with(tmp_path / "submission.zip",
                       {f"{SLUG}.ipynb": MASTER.read_bytes(), "../escaped.txt": b"x",
                        str(escape): b"x", "nested.zip": b"PK\x03\x04"},
                       symlinks={"public_tests.py": str(HIDDEN_TESTS)})
    results = graded(archive, tmp_path / "results.json")
    assert results["score"] == FULL_MARKS
    assert not escape.exists()


def test_a_zip_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
        with zipped.open(f"{SLUG}.ipynb", "w", force_zip64=True) as member:
            block = b"\0" * (64 * 1024**2)
            for _ in range(40):  # 2.5 GiB of zeros, a few MB compressed
                member.write(block)
    results = graded(archive, tmp_path / "results.json")
    assert results["score"] == 0 and "more than" in results["output"]


def test_a_zip_without_a_notebook_says_so(tmp_path):
    archive = zip_with(tmp_path / "submission.zip", {"model.pt": b"weights"})
    results = graded(archive, tmp_path / "results.json")
    assert results["score"] == 0 and "no notebook found" in results["output"]


def test_a_file_that_is_not_a_zip_says_so(tmp_path):
    results = graded(write_bytes(tmp_path / "submission.zip", b"not a zip at all"), tmp_path / "results.json")
    assert results["score"] == 0 and "not a readable zip" in results["output"]
