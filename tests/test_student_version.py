"""The student notebook is generated from the master, in sync, and free of solutions."""
import json
import os
import re
import zipfile

import nbformat
import pytest

from autograder.master import raw_marker
from autograder.release import handout_files
from autograder.suite import available_slugs, load_suite
from autograder.verify import stale_handout_files

# These tests build into and check the committed handout and release/ (one edits a handout file for
# a moment): under pytest-xdist they hold the handout lock, as test_grading's verify does.
pytestmark = pytest.mark.usefixtures("handout_lock")

SLUGS = available_slugs()


def solution_lines(master) -> list[str]:
    """Every substantial line of solution text in a master: code blocks, one-liners, written answers."""
    lines, in_raw_solution = [], False
    for cell in master.cells:
        marker = raw_marker(cell)
        if marker in ("BEGIN SOLUTION", "END SOLUTION"):
            in_raw_solution = marker == "BEGIN SOLUTION"
            continue
        if in_raw_solution:
            lines += cell.source.splitlines()
        elif cell.cell_type == "code":
            in_block = False
            for line in cell.source.splitlines():
                if line.strip().startswith("# BEGIN SOLUTION"):
                    in_block = True
                elif line.strip() == "# END SOLUTION":
                    in_block = False
                elif in_block or line.rstrip().endswith("# SOLUTION"):
                    lines.append(line.split("# SOLUTION")[0])
    return [line.strip() for line in lines if len(line.strip()) >= 25]


def public_text(master) -> str:
    """Master text outside solutions: a solution line that also appears here is not a leak."""
    kept = []
    for cell in master.cells:
        if cell.cell_type != "raw":
            kept.append(re.sub(r"# BEGIN SOLUTION.*?# END SOLUTION", "", cell.source, flags=re.S))
    return "\n".join(kept)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_committed_handout_is_what_build_generates(slug):
    assert stale_handout_files(load_suite(slug)) == [], f"run: python -m autograder build {slug}"


@pytest.mark.parametrize("slug", SLUGS)
def test_no_solution_text_reaches_any_student_file(slug):
    suite = load_suite(slug)
    master = nbformat.read(str(suite.master_path), as_version=4)
    files = handout_files(suite)
    student_text = "\n".join(content.decode("utf-8", "replace") for content in files.values())
    # Code the instructor hands out on purpose (helper modules) may share generic lines with a solution.
    given = "\n".join(path.read_text() for path in suite.helper_files().values())
    public = public_text(master) + given
    leaks = [line for line in solution_lines(master) if line in student_text and line not in public]
    assert solution_lines(master), "the master should have solutions to protect"
    assert leaks == []


@pytest.mark.parametrize("slug", SLUGS)
def test_hidden_tests_and_masters_stay_out_of_the_handout(slug):
    names = set(handout_files(load_suite(slug)))
    assert "hidden_tests.py" not in names and not any(n.startswith("solutions") for n in names)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_graded_name_is_stubbed_in_the_student_notebook(slug):
    from coursekit.notebook import extract_definitions, is_stub

    suite = load_suite(slug)
    notebook = json.loads(handout_files(suite)[f"{slug}.ipynb"])
    extraction = extract_definitions(notebook, set(suite.graded_names))
    for name in suite.graded_names:
        statement = extraction.last_definition(name)
        assert statement is not None and is_stub(statement), f"{name} is not stubbed"


def test_written_answers_become_empty_cells_with_their_points():
    notebook = json.loads(handout_files(load_suite("foundations"))["foundations.ipynb"])
    answers = [c for c in notebook["cells"] if c["metadata"].get("kit", {}).get("answer")]
    assert answers and all("Type your answer here" in "".join(c["source"]) for c in answers)
    assert any("(2 points, graded by hand)" in "".join(c["source"]) for c in notebook["cells"])
    assert not any(c["cell_type"] == "raw" for c in notebook["cells"])


@pytest.mark.parametrize("slug", SLUGS)
def test_staff_notes_tagged_master_only_stay_in_the_master(slug):
    master = nbformat.read(str(load_suite(slug).master_path), as_version=4)
    notes = [c.source for c in master.cells if "master-only" in c.get("metadata", {}).get("tags", [])]
    handout = handout_files(load_suite(slug))[f"{slug}.ipynb"].decode()
    assert not any(note.splitlines()[0] in handout for note in notes if note.strip())


def test_the_rnn_note_on_how_its_checkpoint_was_made_is_for_staff_only():
    master = nbformat.read(str(load_suite("rnn").master_path), as_version=4)
    assert any("What the reference model reaches" in c.source for c in master.cells)
    assert "What the reference model reaches" not in handout_files(load_suite("rnn"))["rnn.ipynb"].decode()


def test_the_student_notebook_starts_with_the_colab_setup_cell():
    notebook = json.loads(handout_files(load_suite("foundations"))["foundations.ipynb"])
    setup = "".join(notebook["cells"][0]["source"])
    assert "google.colab" in setup and "handout.zip" in setup and "from coursekit import check" in setup
    assert all(c.get("outputs", []) == [] for c in notebook["cells"] if c["cell_type"] == "code")


def test_the_release_holds_the_handout_and_a_gradescope_autograder(tmp_path):
    from autograder.cli import main

    assert main(["build", "foundations"]) == 0
    from autograder.release import RELEASE_DIR

    with zipfile.ZipFile(RELEASE_DIR / "foundations" / "autograder.zip") as archive:
        names = set(archive.namelist())
    assert {"setup.sh", "run_autograder", "requirements.txt",
            "autograder/suites/foundations/hidden_tests.py"} <= names
    assert not any(n.startswith("solutions/") and n.endswith(".ipynb") for n in names)
    with zipfile.ZipFile(RELEASE_DIR / "foundations" / "foundations-handout.zip") as archive:
        assert "hidden_tests.py" not in archive.namelist()
    grading = (RELEASE_DIR / "foundations" / "grading.md").read_text()
    assert "graded by hand" in grading and "xor_not_separable" in grading
    assert "| CS7643-HW3 Q6(b) | 1 of 5 (extra credit) | 1 | h1_next |" in grading  # the homework's points beside ours


def test_build_refuses_to_overwrite_a_hand_edited_handout_file(tmp_path):
    import shutil

    from autograder.release import hand_edited_files
    from conftest import run_kit

    suite = load_suite("foundations")
    files = handout_files(suite)
    copy = tmp_path / "foundations"
    shutil.copytree(suite.handout_dir, copy)
    assert hand_edited_files(copy, files) == []
    (copy / "foundations.ipynb").write_text((copy / "foundations.ipynb").read_text() + " ")
    assert hand_edited_files(copy, files) == ["foundations.ipynb"]

    notebook = suite.handout_dir / "foundations.ipynb"
    original = notebook.read_bytes()
    try:
        staged = notebook.with_name(".edited.ipynb")  # replaced whole: other tests may be reading it
        staged.write_bytes(original + b" ")
        os.replace(staged, notebook)
        result = run_kit("build", "foundations")
        assert result.returncode == 2 and "changed since the last build" in result.stderr
        assert "--force" in result.stderr and notebook.read_bytes() == original + b" "
        assert run_kit("build", "foundations", "--force").returncode == 0
        assert notebook.read_bytes() == original
    finally:
        staged.write_bytes(original)
        os.replace(staged, notebook)


# ---------------------------------------------------------------------------------------------
# One source for everything a handout carries


@pytest.mark.parametrize("slug", SLUGS)
def test_the_repository_commits_only_what_is_specific_to_the_assignment(slug):
    import subprocess

    from autograder.suite import KIT_ROOT

    listed = subprocess.run(["git", "ls-files", f"assignments/{slug}"], cwd=KIT_ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    if not listed:
        pytest.skip("not a git checkout")
    suite = load_suite(slug)
    expected = {f"{slug}.ipynb", "assignment.json", "requirements.txt", "public_tests.py", *suite.helper_files()}
    assert {name.split("/", 2)[2] for name in listed} == expected
    assert not any("coursekit" in name or name.endswith("collect_submission.py") for name in listed)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_handout_carries_the_runtime_and_packager_from_their_one_source(slug):
    from autograder.suite import KIT_ROOT

    files = handout_files(load_suite(slug))
    runtime = {f"coursekit/{p.name}": p.read_bytes() for p in (KIT_ROOT / "coursekit").glob("*.py")}
    assert runtime and {name: files.get(name) for name in runtime} == runtime
    assert files["collect_submission.py"] == (KIT_ROOT / "collect_submission.py").read_bytes()
    assert files["public_tests.py"] == load_suite(slug).public_tests_path.read_bytes()


def test_a_student_notebook_in_the_repository_finds_the_runtime_before_any_build(tmp_path):
    """The set-up cell of a notebook opened in assignments/<slug>/ of a fresh clone (no copies of
    the runtime yet) imports the repository's coursekit instead of fetching the handout."""
    import shutil
    import subprocess
    import sys

    from autograder.suite import KIT_ROOT

    suite = load_suite("foundations")
    clone = tmp_path / "clone"
    shutil.copytree(KIT_ROOT / "coursekit", clone / "coursekit")
    folder = clone / "assignments" / "foundations"
    folder.mkdir(parents=True)
    for path in (suite.public_tests_path, *suite.helper_files().values()):
        shutil.copy2(path, folder / path.name)
    notebook = json.loads(handout_files(suite)["foundations.ipynb"])
    setup = "".join(notebook["cells"][0]["source"])
    probe = setup + "\nimport coursekit\nprint(os.path.realpath(coursekit.__file__))\nprint(check('W_AND'))\n"
    finished = subprocess.run([sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True,
                              timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert finished.returncode == 0, finished.stderr
    assert str(clone / "coursekit") in finished.stdout and "Fetching" not in finished.stdout
    assert "W_AND is not defined" in finished.stdout  # the self-checks ran, on a notebook with no answer yet
