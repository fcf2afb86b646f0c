"""The sandbox children forked from a spawner (autograder.fork_start), itself forked from the grader
before the grader loads its tests: the first child and every restart, each seen by the submission
exactly as an exec'd child, and all boxed alike (autograder.containment). Without seeded hashing,
every child is exec'd."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import KIT_ROOT

SCRIPT = textwrap.dedent('''
    import json, os, sys
    from pathlib import Path

    import nbformat

    from autograder import fork_start
    from coursekit.notebook import extract_definitions
    from autograder.sandbox import SandboxedSubmission
    from autograder.suite import load_suite

    SPY = """
    import os, sys, tempfile

    def spy():
        return {"grader_modules": sorted(m for m in sys.modules if m.startswith("kit_suite")),
                "hash": hash("grading is deterministic"), "cwd": os.getcwd(), "path0": sys.path[0],
                "tmp": tempfile.gettempdir(), "parent": os.getppid(),
                "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
    """


    def call_spy(namespace):
        return namespace["spy"]()


    workdir = Path(sys.argv[1])
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SPY)]
    sandbox = SandboxedSubmission(extract_definitions(notebook, {"spy"}), workdir)
    sandbox.start()
    load_suite("foundations").tests()  # the grader loads its tests after starting the child, as grade does
    first = dict(sandbox.run(call_spy), forked=not sandbox._child.process.execed)
    sandbox._kill()  # as after a probe that timed out: the next probe gets a new child
    again = dict(sandbox.run(call_spy), forked=not sandbox._child.process.execed)
    sandbox.close()
    ours = [p for p in os.listdir("/proc") if p.isdigit() and Path(f"/proc/{p}/stat").exists()
            and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
    print(json.dumps({"first": first, "restarted": again, "namespaces": sandbox.box.namespaces,
                      "children_after_close": ours}))
''')


def run_children(tmp_path, hash_seed: str) -> dict:
    script = tmp_path / "children.py"
    script.write_text(SCRIPT)
    workdir = tmp_path / "submission"
    workdir.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(KIT_ROOT)}
    result = subprocess.run([sys.executable, str(script), str(workdir)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]) | {"workdir": str(workdir)}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return run_children(tmp_path_factory.mktemp("seeded"), "0")


def test_the_first_child_is_forked_when_hashing_is_seeded(seeded):
    assert seeded["first"]["forked"]


def test_the_forked_child_holds_none_of_the_tests_the_grader_loaded_after_it(seeded):
    assert seeded["first"]["grader_modules"] == []


def test_a_restarted_child_is_forked_too_and_also_sees_no_tests(seeded):
    """It comes from the spawner, a copy of the grader from before the tests were loaded: a restart
    after a hang costs a fork, not a fresh interpreter's import of torch."""
    assert seeded["restarted"]["forked"]
    assert seeded["restarted"]["grader_modules"] == []


def test_the_spawner_and_every_box_are_gone_once_the_sandbox_is_closed(seeded):
    assert seeded["children_after_close"] == []


def test_forked_and_execed_children_see_the_same_world(seeded):
    first, again = seeded["first"], seeded["restarted"]
    assert first["hash"] == again["hash"]  # same string hashing: the same answers, run after run
    for child in (first, again):
        assert child["cwd"] == child["path0"] == child["tmp"] == seeded["workdir"]
        if seeded["namespaces"]:  # its own PID namespace, whose init (PID 1) all die with
            assert child["parent"] == 1 and child["processes"] == [1, child["processes"][-1]]


def test_without_seeded_hashing_no_child_is_forked(tmp_path):
    unseeded = run_children(tmp_path, "random")
    assert not unseeded["first"]["forked"] and not unseeded["restarted"]["forked"]
