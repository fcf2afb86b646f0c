"""What a student installs: each handout's requirements.txt (the grader's pins, torch's CPU wheel
index), the set-up cell's check of the installed versions, and the Makefile's CPU build of torch."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from conftest import KIT_ROOT

from autograder.release import CPU_WHEELS, handout_files
from autograder.suite import available_slugs, load_suite
from coursekit.environment import check_environment, requirements

PINS = {spec.split("==")[0].split(">")[0].split("<")[0].strip().lower(): spec
        for spec in tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}


def normal(name: str) -> str:
    return name.lower().replace("_", "-")


def imported_distributions(notebook: dict, folder_modules: set[str]) -> set[str]:
    """The installed distributions that the notebook's imports come from (stdlib and the handout's own modules left out)."""
    owners = metadata.packages_distributions()
    found = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in folder_modules:
                    continue
                found |= {normal(d) for d in owners.get(top, [top])}
    return found


@pytest.mark.parametrize("slug", available_slugs())
def test_requirements_cover_every_import_of_the_notebook_at_the_graders_pins(slug):
    files = handout_files(load_suite(slug))
    required = requirements_of(files["requirements.txt"].decode())
    own_modules = {Path(n).stem for n in files if n.endswith(".py")} | {"coursekit", "google"}
    notebook = json.loads(files[f"{slug}.ipynb"])
    missing = imported_distributions(notebook, own_modules) - set(required)
    assert not missing, f"{slug}'s notebook imports {missing}, which its requirements.txt leaves out"
    for name, spec in required.items():
        assert PINS[name] == name + spec or PINS[name] == spec, f"{name}: {spec} is not pyproject's {PINS[name]}"
    assert required["torch"] == PINS["torch"].removeprefix("torch")
    assert f"--extra-index-url {CPU_WHEELS}" in files["requirements.txt"].decode().splitlines()


def requirements_of(text: str) -> dict[str, str]:
    path = Path(__import__("tempfile").mkdtemp()) / "requirements.txt"
    path.write_text(text)
    return {normal(name): spec for name, spec in requirements(path).items()}


@pytest.mark.parametrize("slug", available_slugs())
def test_the_committed_requirements_are_what_build_writes(slug):
    committed = (KIT_ROOT / "assignments" / slug / "requirements.txt").read_bytes()
    assert committed == handout_files(load_suite(slug))["requirements.txt"]


def test_a_laptop_with_other_versions_is_told_what_differs_and_what_to_run(tmp_path, capsys):
    torch_version = metadata.version("torch")
    (tmp_path / "requirements.txt").write_text(
        f"--extra-index-url {CPU_WHEELS}\ntorch==1.0.0\nnumpy>=1\nno-such-package-kit==1.0\n")
    found = check_environment(tmp_path / "requirements.txt")
    printed = capsys.readouterr().out.strip().splitlines()
    assert found == [f"torch {torch_version} (the grader uses 1.0.0)", "no-such-package-kit is not installed"]
    assert len(printed) == 1 and "python -m pip install -r requirements.txt" in printed[0] and "restart" in printed[0]


def test_the_graders_own_versions_print_nothing(tmp_path, capsys):
    (tmp_path / "requirements.txt").write_text(f"torch=={metadata.version('torch').split('+')[0]}\nnumpy>=1\n")
    assert check_environment(tmp_path / "requirements.txt") == []
    assert capsys.readouterr().out == ""


def test_the_set_up_cell_checks_the_versions_on_a_laptop(tmp_path):
    folder = tmp_path / "rnn"
    for name, content in handout_files(load_suite("rnn")).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    (folder / "requirements.txt").write_text("torch==1.0.0\n")
    setup = json.loads((folder / "rnn.ipynb").read_text())["cells"][0]
    (folder / "setup_cell.py").write_text("".join(setup["source"]))
    finished = subprocess.run([sys.executable, "setup_cell.py"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "Your packages differ from the grader's: torch" in finished.stdout
    assert "(the grader uses 1.0.0)" in finished.stdout and "Fetching" not in finished.stdout


def test_make_installs_the_cpu_build_of_the_pinned_torch_first():
    dry_run = subprocess.run(["make", "-n", "-B", ".venv/.installed"], cwd=KIT_ROOT, capture_output=True,
                             text=True, timeout=60).stdout.splitlines()
    installs = [line for line in dry_run if "pip install" in line]
    assert f'--index-url {CPU_WHEELS} "{PINS["torch"]}"' in installs[0]
    assert '-e ".[dev]"' in installs[1]
