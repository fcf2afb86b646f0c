"""Hostile and broken submissions never raise a score and never stop results.json from being written.

Each case is a real submission graded through the real `grade` command. A case built on the stub
(0 points) must still score 0; a case built on the master must lose exactly the names it breaks.
Every case must end with a valid results.json within the grading limit.

An attack that could succeed without being seen in the score reports what it reached through its
error message (``REPORT ... END``), so each case fails when the protection it tests is removed.
Cases that only a box with namespaces can contain check which box this machine gives
(``grade`` prints it, ``containment.plan_box`` decides it).
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
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
    # Each hang is stopped at 2 s, not the suite's 10 (four hangs: copy_outputs calls self_attention_plain).
    # The limit times the probe alone, not the restart before it, and the master's probes take milliseconds.
    monkeypatch.setenv("KIT_LIMITS", "call_seconds = 2")
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
    assert "timed out after 2 s" in outputs


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
    """Whether this machine gives the child its own namespaces (PID, mount, network)."""
    return box_here()["namespaces"]


_BOX: dict = {}


def box_here() -> dict:
    """The box ``grade`` uses on this machine, as ``containment.plan_box`` decides it."""
    if not _BOX:
        probe = ("import dataclasses, json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
                 "from autograder import containment;"
                 "print(json.dumps(dataclasses.asdict(containment.plan_box(Path(sys.argv[1])))))")
        result = subprocess.run([sys.executable, "-c", probe, str(KIT_ROOT)], capture_output=True, text=True,
                                check=True)
        _BOX.update(json.loads(result.stdout))
    return _BOX


def report_of(results: dict, name: str) -> list[str]:
    """What an attack in ``name`` reported reaching (its error message: ``REPORT a,b END``)."""
    outputs = [t["output"] for t in results["tests"] if t["name"].startswith(f"{name}:")]
    for output in outputs:
        if "REPORT" in output:
            return [item.strip() for item in output.split("REPORT", 1)[1].split("END", 1)[0].split(",") if item.strip()]
    raise AssertionError(f"no REPORT from {name}: the attack did not run ({outputs})")


# Finds the grading process the way an attacker would, when it is in view.
FIND_GRADERS = '''
def _graders():
    found = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as stream:
                    command = stream.read()
            except OSError:
                continue
            if b"autograder" in command:
                found.add(int(pid))
    return sorted(found | ({os.getppid()} - {0}))
'''


def test_deleting_or_modifying_the_graders_files_is_impossible(tmp_path):
    targets = [HIDDEN_TESTS, KIT_ROOT / "coursekit" / "testing.py", KIT_ROOT / "autograder" / "results.py"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in targets}
    vandal = f'''
import ctypes, os
{FIND_GRADERS}
def _vandalise():
    reached = []
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(None, b"/", None, 32, None) == 0:  # MS_REMOUNT: writable again
        reached.append("remount")
    roots = [""] + [f"/proc/{{pid}}/root" for pid in _graders()]
    for root in roots:
        for path in {[str(p) for p in targets]!r}:
            try:
                with open(root + path, "a") as stream:
                    stream.write("\\n# pwned\\n")
                reached.append("wrote " + root + path[-12:])
                os.remove(root + path)
            except OSError:
                pass
    return reached

def spectral_radius(W):
    raise ValueError("REPORT " + ",".join(_vandalise()) + " END")

W_AND = _vandalise()
'''
    results = grade_cells(tmp_path, STUB, vandal)
    assert results["score"] == 0
    assert report_of(results, "spectral_radius") == []
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
import ctypes, os, socket
{FIND_GRADERS}
def _call():
    for host in ["127.0.0.1", "example.com"]:
        try:
            socket.create_connection((host, {port}), timeout=2).sendall(b"answers please")
        except OSError:
            pass

def spectral_radius(W):
    reached = []
    _call()
    libc = ctypes.CDLL(None, use_errno=True)
    for pid in _graders() + [1]:
        try:
            fd = os.open(f"/proc/{{pid}}/ns/net", os.O_RDONLY)
        except OSError:
            continue
        if libc.setns(fd, 0x40000000) == 0:  # CLONE_NEWNET: into the grader's network
            reached.append(f"setns {{pid}}")
            _call()
    raise ValueError("REPORT " + ",".join(reached) + " END")
'''
    try:
        results = grade_cells(tmp_path, STUB, caller)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert results["score"] == 0
    assert report_of(results, "spectral_radius") == []  # the seccomp filter refuses setns in any box
    if isolation_available():
        assert connections == []


def test_an_output_flood_does_not_stop_grading(tmp_path):
    flood = '''
import sys
import tempfile

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
    "JSON nested 100k deep": (b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "a number of 10k digits": (b'{"nbformat": 4, "n": ' + b"9" * 10_000 + b"}", "a number too long"),
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


# ---------------------------------------------------------------------------------------------
# The grading process is out of reach: no signal, no memory, no file of its, no outliving it


def test_the_grader_cannot_be_stopped_killed_or_read(tmp_path):
    attack = f'''
import os, signal
{FIND_GRADERS}
def spectral_radius(W):
    reached = []
    for pid in _graders():
        try:
            with open(f"/proc/{{pid}}/mem", "rb") as stream:  # then write 1.0 over the judge's 0.0
                reached.append(f"mem {{pid}}")
        except OSError:
            pass
        for number in (signal.SIGSTOP, signal.SIGKILL):  # a grader that stops or dies fails graded()
            try:
                os.kill(pid, number)
            except OSError:
                pass
    raise ValueError("REPORT " + ",".join(reached) + " END")
'''
    results = grade_cells(tmp_path, STUB, attack)
    assert results["score"] == 0
    assert report_of(results, "spectral_radius") == []


CHAIN = '''
import ctypes, os, time
RESULTS = {results!r}
FAKE = '{{"score": 1000, "tests": []}}'

def xor_network(x):
    if os.fork() == 0:
        os.setsid()
        libc = ctypes.CDLL(None)
        deadline = time.time() + 15
        while time.time() < deadline:  # a chain of short-lived processes: each forks and exits
            if os.fork():
                os._exit(0)
            libc.prctl(15, {name!r}, 0, 0, 0)  # PR_SET_NAME: the test looks for it
            try:
                with open(RESULTS, "w") as stream:
                    stream.write(FAKE)
            except OSError:
                pass
            time.sleep(0.02)
        os._exit(0)
    time.sleep(1)
    return -1  # never right: the stub's score stays 0
'''


def processes_named(name: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                found.append(int(comm.parent.name))
        except OSError:
            pass
    return found


def test_a_chain_of_short_lived_processes_does_not_outlive_grading(tmp_path):
    out = tmp_path / "results.json"
    name = f"kitchain{os.getpid()}"[:15]  # this run's own name: another test run's chain is not this one's
    results = grade_cells(tmp_path, STUB, CHAIN.format(results=str(out), name=name.encode()))
    assert results["score"] == 0
    for _ in range(20):  # two seconds after grading: no process of the chain, results.json untouched
        assert processes_named(name) == []
        assert json.loads(out.read_text())["score"] == 0
        time.sleep(0.1)


def test_forks_past_the_process_limit_fail(tmp_path):
    bomb = '''
import os, time

def spectral_radius(W):
    made = 0
    for _ in range(200):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    raise ValueError(f"REPORT forked {made} END")
'''
    results = grade_cells(tmp_path, STUB, bomb)
    made = int(report_of(results, "spectral_radius")[0].split()[1])
    assert made < 64  # the limit counts the box's own processes too
    assert results["score"] == 0


@pytest.mark.skipif(not isolation_available(), reason="namespaces not permitted here: /tmp and /dev/shm are "
                    "the machine's (README, Security model)")
def test_tmp_and_dev_shm_are_private_and_gone_after_grading(tmp_path):
    marker = f"kit-hostile-{os.getpid()}-{time.monotonic_ns()}"
    writer = f'''
def spectral_radius(W):
    reached = []
    for folder in ("/dev/shm", "/tmp"):
        try:
            with open(f"{{folder}}/{marker}", "w") as stream:
                stream.write("left behind")
            reached.append(folder)
        except OSError:
            pass
    return 0.0
'''
    results = grade_cells(tmp_path, STUB, writer)
    assert results["score"] == 0
    assert not Path("/dev/shm", marker).exists() and not Path("/tmp", marker).exists()


# ---------------------------------------------------------------------------------------------
# Nothing secret in view: hidden tests, held-out data, masters


RNN_STUB = KIT_ROOT / "assignments" / "rnn" / "rnn.ipynb"
RNN_SUITE = KIT_ROOT / "autograder" / "suites" / "rnn"


def test_the_held_out_labels_are_out_of_reach(tmp_path):
    cheat = f'''
import csv, os

def predict_sentiment(texts):
    labels, reached = {{}}, []
    for folder, _, files in os.walk({str(RNN_SUITE)!r}):
        for name in files:
            try:
                with open(os.path.join(folder, name), encoding="latin-1", newline="") as stream:
                    for row in csv.reader(stream):
                        if len(row) == 6:
                            labels[row[5]] = int(row[0] == "4")
                reached.append(name)
            except OSError:
                pass
    for path in [{str(MASTER)!r}, {str(HIDDEN_TESTS)!r}]:
        if os.path.exists(path):
            reached.append(os.path.basename(path))
    if not labels:
        raise ValueError("REPORT " + ",".join(reached) + " END")
    return [labels.get(text, 0) for text in texts]
'''
    path = tmp_path / "rnn.ipynb"
    nbformat.write(with_cells(RNN_STUB, cheat), str(path))
    result = run_kit("grade", "rnn", str(path), "--out", str(tmp_path / "results.json"), timeout=GRADING_LIMIT_S)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    if isolation_available():  # else only file permissions guard them (Gradescope's setup.sh sets them)
        assert results["score"] == 0
        assert report_of(results, "predict_sentiment") == []


def hidden_lines() -> list[str]:
    return [line.strip() for line in HIDDEN_TESTS.read_text().splitlines() if len(line.strip()) >= 40]


def test_error_messages_never_carry_the_hidden_tests_to_results(tmp_path):
    leak = f'''
def spectral_radius(W):
    try:
        text = open({str(HIDDEN_TESTS)!r}).read()
    except OSError:
        text = ""
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 40]
    raise ValueError(" | ".join(lines[:3]))

def hidden_state(W, h0, t):
    raise ValueError({hidden_lines()[5]!r})  # a line copied in by hand: scrubbed all the same
'''
    results = grade_cells(tmp_path, STUB, leak)
    text = (tmp_path / "results.json").read_text()
    assert results["score"] == 0
    assert not [line for line in hidden_lines() if json.dumps(line)[1:-1] in text]
    assert any("withheld" in t["output"] for t in results["tests"] if t["name"].startswith("hidden_state"))


# ---------------------------------------------------------------------------------------------
# The grader cannot be starved


def test_cells_that_break_the_parser_cost_only_themselves(tmp_path):
    results = grade_cells(tmp_path, MASTER, "x = " + "(" * 10_000 + "1" + ")" * 10_000,
                          "y = " + "[" * 100_000 + "]" * 100_000, "z = 1\x00", "w = " + "-" * 200_000 + "1")
    assert results["score"] == FULL_MARKS
    assert "could not be read" in results["output"]


def test_a_name_whose_code_keeps_killing_its_process_loses_only_its_own_tests(tmp_path):
    killers = ["xor_network", "parity_lstm_params", "spectral_radius", "hidden_state", "self_attention_plain"]
    source = "import os\n" + "\n".join(f"def {name}(*args):\n    os._exit(1)\n" for name in killers)
    results = grade_cells(tmp_path, MASTER, source)
    # those tests crash (and copy_outputs, which calls self_attention_plain); W_*, b_*, h1_next... keep theirs
    assert lost_names(results) == set(killers) | {"copy_outputs"}


def test_100k_cheap_statements_load_in_seconds(tmp_path):
    started = time.monotonic()
    results = grade_cells(tmp_path, MASTER, "\n".join(f"v{i} = {i}" for i in range(100_000)))
    assert results["score"] == FULL_MARKS
    assert time.monotonic() - started < 60


def run_library_script(tmp_path: Path, source: str) -> dict:
    """Run a script that drives the sandbox as a library (small limits) on an empty submission
    folder; return the JSON it prints last."""
    script, workdir = tmp_path / "script.py", tmp_path / "submission"
    script.write_text(source)
    workdir.mkdir()
    result = subprocess.run([sys.executable, str(script), str(workdir)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(KIT_ROOT), "PYTHONHASHSEED": "0"}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# The budget case's limits, small so that it is quick: a hang is stopped after STATEMENT_S; loading may
# take LOAD_S; each slow body sleeps SLOW_S. Three bodies (1.8 s) fit in LOAD_S, a fourth (2.4 s) does
# not; each body fits in STATEMENT_S, and half of LOAD_S (1.15 s) holds one body but not two. Sleeps are
# wall-clock, so these hold on a loaded machine; a fresh interpreter's imports (1 to 5 s) come on top.
STATEMENT_S, LOAD_S, SLOW_S = 1.5, 2.3, 0.6
BUDGET_SCRIPT = f"STATEMENT_S, LOAD_S, SLOW_S = {STATEMENT_S}, {LOAD_S}, {SLOW_S}\n" + """
import json, sys, time
from pathlib import Path
import nbformat
from coursekit.notebook import extract_definitions
from autograder.sandbox import Limits, SandboxedSubmission
from coursekit.testing import SandboxError

def call_it(namespace):
    return namespace["spectral_radius"](None)

notebook = nbformat.v4.new_notebook()
notebook.cells = [nbformat.v4.new_code_cell("class Hang:\\n    while True:\\n        pass")]
notebook.cells += [nbformat.v4.new_code_cell(f"import time\\nclass Slow{i}:\\n    time.sleep({SLOW_S})") for i in range(6)]
notebook.cells += [nbformat.v4.new_code_cell("def spectral_radius(W):\\n    return 1.0")]
limits = Limits(statement_seconds=STATEMENT_S, load_seconds=LOAD_S, total_seconds=60, call_seconds=2)
sandbox = SandboxedSubmission(extract_definitions(notebook, {"spectral_radius"}), Path(sys.argv[1]), limits)
started = time.monotonic()
first = sandbox.run(call_it)
first_seconds = time.monotonic() - started
restarts = []
for _ in range(3):  # each restart loads again: what ran past a budget stays out
    sandbox._kill()
    started = time.monotonic()
    sandbox.run(call_it)
    restarts.append(time.monotonic() - started)
sandbox.close()
print(json.dumps({"value": first, "first_seconds": first_seconds, "excluded": sorted(sandbox.excluded), "restarts": restarts,
                  "why": sorted(sandbox.load_errors.values())}))
"""


def test_statements_past_their_budget_are_dropped_for_good(tmp_path):
    found = run_library_script(tmp_path, BUDGET_SCRIPT)
    assert found["value"] == 1.0  # the fast definition after the slow ones still loads
    assert len(found["excluded"]) >= 4  # the hang and the slow bodies that ran past the budget
    assert any("ran longer than" in why for why in found["why"])
    assert any("budget" in why for why in found["why"])
    # One start runs past the budget, and what made it do so is dropped: the next start fits (a hang,
    # then two starts of about LOAD_S, each after a fresh interpreter's imports, given 11 s together).
    # Retrying the slow bodies that remain, one overrun per start, would take four starts: with the
    # small limits its time no longer stands out from the imports', so the overruns are counted too
    # (each leaves out the statement it stopped, and only that one, with this message).
    overran = f"left out because loading the notebook ran past its budget of {LOAD_S:.0f} s"
    assert found["why"].count(overran) == 1
    assert found["first_seconds"] < STATEMENT_S + 2 * LOAD_S + 11
    assert max(found["restarts"]) < LOAD_S + 5  # and every later start fits too (5 s for the imports)


TOTAL_SCRIPT = """
import json, sys, time
from pathlib import Path
import nbformat
from coursekit.notebook import extract_definitions
from autograder.sandbox import Limits, SandboxedSubmission
from coursekit.testing import SandboxError

def hang(namespace):
    while True:
        pass

notebook = nbformat.v4.new_notebook()
sandbox = SandboxedSubmission(extract_definitions(notebook, set()), Path(sys.argv[1]),
                              Limits(total_seconds=3, call_seconds=2))
started, messages = time.monotonic(), []
for name in ("a", "b", "c", "d"):
    sandbox.current_graded_name = name
    try:
        sandbox.run(hang)
    except SandboxError as error:
        messages.append(str(error))
sandbox.close()
print(json.dumps({"seconds": time.monotonic() - started, "messages": messages}))
"""


def test_grading_has_a_total_time_bound(tmp_path):
    found = run_library_script(tmp_path, TOTAL_SCRIPT)
    # Four hangs would take 4 x 2 s and three restarts without the 3 s total; 3 s are left for the kill.
    assert found["seconds"] < 3 + 3
    assert "reached its limit of 3 s" in found["messages"][-1]


def test_a_zip_with_a_file_and_a_folder_of_the_same_name_says_so(tmp_path):
    for order in ([("notes", b"x"), ("notes/x", b"y")], [("notes/x", b"y"), ("notes", b"x")]):
        archive = zip_with(tmp_path / "submission.zip", {f"{SLUG}.ipynb": MASTER.read_bytes(), **dict(order)})
        results = graded(archive, tmp_path / "results.json")
        assert results["score"] == 0 and "could not be unpacked" in results["output"]


def test_a_zip_member_with_a_name_too_long_says_so(tmp_path):
    archive = zip_with(tmp_path / "submission.zip", {f"{SLUG}.ipynb": MASTER.read_bytes(), "n" * 300: b"x"})
    results = graded(archive, tmp_path / "results.json")
    assert results["score"] == 0 and "could not be unpacked" in results["output"]


def test_a_symlink_beside_a_bare_notebook_is_not_followed(tmp_path):
    secret = tmp_path / "grader-secret.txt"
    secret.write_text("SECRET-TOKEN-1234")
    folder = tmp_path / "handin"
    folder.mkdir()
    (folder / "rnn_weights.pt").symlink_to(secret)
    (folder / "rnn_data").symlink_to(tmp_path)  # a folder too
    reader = """
import os

def predict_sentiment(texts):
    found = []
    for name in ("rnn_weights.pt", "rnn_data/grader-secret.txt"):
        try:
            with open(name) as stream:
                found.append(stream.read())
        except OSError:
            pass
    raise ValueError("REPORT " + ",".join(found) + " END")
"""
    path = folder / "rnn.ipynb"
    nbformat.write(with_cells(RNN_STUB, reader), str(path))
    result = run_kit("grade", "rnn", str(path), "--out", str(tmp_path / "results.json"), timeout=GRADING_LIMIT_S)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert report_of(results, "predict_sentiment") == []
    assert "SECRET-TOKEN" not in (tmp_path / "results.json").read_text()


# ---------------------------------------------------------------------------------------------
# The same promises when the grader is an ordinary user (a user namespace instead of root)

NON_ROOT_USER = "kit-hostile-test"


def _expose_to(user_uid: int, user_gid: int) -> str:
    """Shell lines (run in a private mount namespace) that let the user reach Python and the kit
    when a folder on the way is closed to it (pyenv under /root, or a checkout in a ``mktemp -d``
    folder, mode 700): that folder is replaced by a tmpfs holding binds of just the paths needed
    (of every entry, when the needed path is itself the closed folder). Nothing changes outside
    that namespace."""
    from shlex import quote

    from autograder.containment import first_closed_folder

    lines = []
    needed = [Path(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix, KIT_ROOT)]
    for path in needed:
        closed = first_closed_folder(path, user_uid, user_gid)
        if closed is None:
            continue
        hold = f"/tmp/kit-hold-{abs(hash(str(closed)))}"
        lines += [f"mkdir -p {hold} && mountpoint -q {hold} || mount --bind {quote(str(closed))} {hold}",
                  f"mountpoint -q {quote(str(closed))} || mount -t tmpfs -o mode=0755 tmpfs {quote(str(closed))}"]
        inside = path.relative_to(closed)
        for entry in ([inside] if inside != Path(".") else sorted(Path(p.name) for p in path.iterdir())):
            target, source = quote(str(closed / entry)), quote(f"{hold}/{entry}")
            if (closed / entry).is_dir():
                lines.append(f"mkdir -p {target} && mountpoint -q {target} || mount --bind {source} {target}")
            else:
                lines.append(f"touch {target} && mount --bind {source} {target}")
    return "\n".join(lines)


def test_grading_as_an_ordinary_user_holds_the_same_promises(tmp_path):
    import pwd
    import shutil

    if os.geteuid() != 0:
        pytest.skip("creating a user to grade as needs root")
    if not all(shutil.which(tool) for tool in ("useradd", "setpriv", "unshare")):
        pytest.skip("useradd, setpriv or unshare (util-linux) missing")
    try:
        record = pwd.getpwnam(NON_ROOT_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NON_ROOT_USER],
                       check=True)
        record = pwd.getpwnam(NON_ROOT_USER)
    folder = Path(tempfile.mkdtemp(prefix="kit-nonroot-"))
    try:
        attack = f'''
import os, signal
{FIND_GRADERS}
def spectral_radius(W):
    reached = []
    for pid in _graders():
        try:
            open(f"/proc/{{pid}}/mem", "rb").close()
            reached.append(f"mem {{pid}}")
        except OSError:
            pass
        for number in (signal.SIGSTOP, signal.SIGKILL):  # a grader that stops or dies fails the run
            try:
                os.kill(pid, number)
            except OSError:
                pass
    for path in [{str(HIDDEN_TESTS)!r}, {str(KIT_ROOT / "autograder" / "results.py")!r}]:
        try:
            open(path).read()
            reached.append("read " + os.path.basename(path))
            open(path, "a").close()
            reached.append("opened for writing " + os.path.basename(path))
        except OSError:
            pass
    raise ValueError("REPORT " + ",".join(reached) + " END")
'''
        nbformat.write(with_cells(STUB, attack), str(folder / f"{SLUG}.ipynb"))
        for path in [folder, *folder.iterdir()]:
            os.chown(path, record.pw_uid, record.pw_gid)
        before = hashlib.sha256((KIT_ROOT / "autograder" / "results.py").read_bytes()).hexdigest()
        script = "\n".join(["set -e", _expose_to(record.pw_uid, record.pw_gid),
                            f"exec setpriv --reuid={record.pw_uid} --regid={record.pw_gid} --clear-groups "
                            f"env HOME={folder} PATH=/usr/bin:/bin {sys.executable} -m autograder grade {SLUG} "
                            f"{folder}/{SLUG}.ipynb --out {folder}/results.json"])
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], cwd=KIT_ROOT,
                                capture_output=True, text=True, timeout=GRADING_LIMIT_S)
        if result.returncode != 0 and "Permission denied" in result.stderr and "python" in result.stderr.lower():
            pytest.skip(f"the user {NON_ROOT_USER} cannot run this Python: {result.stderr[-300:]}")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "user namespace" in result.stderr or "NO namespaces" in result.stderr  # the box, said in one line
        results = json.loads((folder / "results.json").read_text())
        check_gradescope_schema(results)
        assert results["score"] == 0
        reached = report_of(results, "spectral_radius")
        assert not [r for r in reached if not r.startswith("read ")]  # no memory, no write: in any box
        if "user namespace" in result.stderr:
            assert reached == ["read results.py"]  # the engine's code is in view, the hidden tests are not
        assert hashlib.sha256((KIT_ROOT / "autograder" / "results.py").read_bytes()).hexdigest() == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)
