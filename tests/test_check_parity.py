"""Self-check parity: in a real Jupyter kernel, check() gives each public self-check the verdict, and
for a failure the message, that the grader gives it, for every example submission."""
import json
import queue
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT, grade

from autograder.suite import available_slugs, load_suite

EXAMPLES = KIT_ROOT / "examples"
CELL = re.compile(r"cell \d+")
SUMMARY = re.compile(r"^\S+: \d+/\d+ self-checks passed")
# Examples with a statement that hangs while loading: the grader and check() each wait out its
# statement budget (15 s by default), so these run with KIT_LIMITS' statement_seconds, which both
# read, at 4 s: room for their slowest real statement (a cold `import torch` in the kernel, about 1 s
# on a quiet machine), and both must still leave the hang out with the same message ("4 s").
HANGING = {"foundations/loop_exit_and_syntax_error.ipynb": 4}


def example_submissions() -> list[tuple[str, Path]]:
    found = []
    for slug in available_slugs():
        for path in sorted((EXAMPLES / slug).rglob("*.ipynb")):
            try:
                nbformat.read(str(path), as_version=4)
            except Exception:  # the deliberately broken notebook: nothing to check
                continue
            found.append((slug, path))
    return found


def student_folder(slug: str, example: Path, tmp_path: Path) -> Path:
    """The handout as a student has it (every file build puts in the zip), with the example's
    notebook and files in it."""
    from autograder.release import handout_files

    folder = tmp_path / slug
    for name, content in handout_files(load_suite(slug)).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    sources = list(example.parent.iterdir()) if example.parent != EXAMPLES / slug else [example]
    for path in sources:  # an example folder carries its notebook and its files
        shutil.copy2(path, folder / (f"{slug}.ipynb" if path.suffix == ".ipynb" else path.name))
    return folder


def kernel_checks(folder: Path, cells: list[str], names: list[str]) -> str:
    """Start a kernel in ``folder``, put ``cells`` in its history as if they had been run, then
    run the set-up cell and check(name) for each name; returns what it printed."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(folder))
    try:
        history = json.dumps(cells)
        code = (f"import json, os\nos.chdir({str(folder)!r})\nIn.extend(json.loads({history!r}))\n"
                "from coursekit import check\n" + "".join(f"check({name!r})\n" for name in names))
        client.execute(code)
        printed = []
        while True:
            try:
                message = client.get_iopub_msg(timeout=300)
            except queue.Empty:
                raise AssertionError("the kernel stopped answering") from None
            content = message["content"]
            if message["msg_type"] == "stream":
                printed.append(content["text"])
            elif message["msg_type"] == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif message["msg_type"] == "status" and content["execution_state"] == "idle":
                return "".join(printed)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def verdicts(printed: str) -> dict[str, str]:
    """{test name: 'passed' or the failure message} from check()'s output."""
    found, current = {}, None
    for line in printed.splitlines():
        if line.startswith(("  [PASS] ", "  [FAIL] ")):
            current = line[len("  [PASS] "):]
            found[current] = "passed" if line.startswith("  [PASS] ") else None
        elif SUMMARY.match(line):
            current = None
        elif current is not None and found[current] != "passed":  # the failure's message, on the next lines
            found[current] = line[len("      "):] if found[current] is None else found[current] + "\n" + line
    return found


@pytest.mark.parametrize("slug,example", example_submissions(),
                         ids=lambda value: str(value.relative_to(EXAMPLES)) if isinstance(value, Path) else value)
def test_check_gives_the_graders_verdicts_on_every_example(slug, example, tmp_path, monkeypatch):
    hang_seconds = HANGING.get(str(example.relative_to(EXAMPLES)))
    if hang_seconds:  # for the grader's process and the kernel alike
        monkeypatch.setenv("KIT_LIMITS", f"statement_seconds = {hang_seconds}")
    folder = student_folder(slug, example, tmp_path)
    notebook = nbformat.read(str(folder / f"{slug}.ipynb"), as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    results = grade(slug, folder / f"{slug}.ipynb", tmp_path / "results.json")
    public = {t["name"]: ("passed" if t["score"] >= t["max_score"] else t["output"])
              for t in results["tests"] if t["visibility"] == "visible"}
    names = list(dict.fromkeys(name.split(":")[0] for name in public))
    in_notebook = verdicts(kernel_checks(folder, cells, names))
    assert set(in_notebook) == set(public)
    # the grader numbers cells as the notebook does, the kernel as it ran them (In [n]): compare the rest
    assert {name: CELL.sub("cell N", m) for name, m in in_notebook.items()} == \
           {name: CELL.sub("cell N", m) for name, m in public.items()}
    if hang_seconds:  # and the shorter budget is what stopped the hang, in both
        assert any(f"ran longer than {hang_seconds} s" in m for m in in_notebook.values())


@pytest.mark.parametrize("setting", ["", "call_seconds = 4", "call_seconds = 4, statement_seconds = 2.5",
                                     "statement_seconds=30\nmemory_mb = 8192"])
def test_check_gives_a_statement_the_time_the_grader_gives_it(setting, monkeypatch):
    """check() leaves a hanging statement out after the grader's time, with its message: the
    default, or KIT_LIMITS' statement_seconds, read as the grader reads it."""
    from coursekit.testing import grader_statement_seconds

    monkeypatch.setenv("KIT_LIMITS", setting)
    assert grader_statement_seconds() == load_suite("foundations").limits.statement_seconds
