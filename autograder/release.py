"""The release stage: the student handout folder and the zips an instructor uploads.

``assignments/<slug>/`` is what a student is handed: its notebook and ``assignment.json`` are
generated from the master and committed, its public tests and helpers are authored there, and the
runtime every handout carries (``coursekit/``, ``collect_submission.py``) is copied in, not committed. ``release/<slug>/`` (built) holds
``<slug>-handout.zip``, Gradescope's ``autograder.zip`` and ``grading.md``, the list of autograded
and hand-graded points.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tomllib
import zipfile
from pathlib import Path

from autograder.errors import UserError
from autograder.heldout import heldout_names, heldout_source
from coursekit.notebook import code_fingerprint
from autograder.homework_map import homework_points_table
from autograder.master import read_master, written_questions
from autograder.student_version import render, student_notebook
from autograder.suite import KIT_ROOT, Suite, common_handout_files, runtime_files

RELEASE_DIR = KIT_ROOT / "release"
GRADESCOPE_DIR = Path(__file__).resolve().parent / "gradescope"


def handout_files(suite: Suite) -> dict[str, bytes]:
    """Every file of the student handout, by its path in the handout: the generated notebook and
    manifest, the assignment's own files, and the runtime every handout carries."""
    files = generated_files(suite)
    for name, path in {**suite_files(suite), **common_handout_files()}.items():
        files[name] = path.read_bytes()
    return files


def suite_files(suite: Suite) -> dict[str, Path]:
    """The assignment's own handout files, authored in ``assignments/<slug>/``: public tests, helpers."""
    return {suite.public_tests_path.name: suite.public_tests_path, **suite.helper_files()}


def generated_files(suite: Suite) -> dict[str, bytes]:
    """What ``build`` makes from the master and commits: the student notebook and ``assignment.json``."""
    notebook_text = render(student_notebook(suite))
    notebook_name = f"{suite.slug}.ipynb"
    generated = {notebook_name: hashlib.sha256(notebook_text.encode()).hexdigest()}
    return {notebook_name: notebook_text.encode(),
            "assignment.json": (json.dumps(manifest(suite, notebook_text, generated), indent=2) + "\n").encode(),
            "requirements.txt": student_requirements(suite).encode()}


# What every student notebook imports (besides an assignment's Colab packages), and what
# collect_submission.py uses for the notebook and the written answers' PDF.
STUDENT_PACKAGES = ["torch", "numpy", "matplotlib", "tqdm", "nbformat", "fpdf2", "ipykernel"]
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"


def student_requirements(suite: Suite) -> str:
    """The handout's requirements.txt: the packages its notebook needs, at the versions the grader
    pins in pyproject.toml, and PyTorch's CPU wheel index, so that a laptop gets the CPU build."""
    pins = pyproject_pins()
    wanted = STUDENT_PACKAGES + [_package_name(p) for p in suite.colab_packages]
    missing = [name for name in wanted if name not in pins]
    if missing:
        raise UserError(f"pyproject.toml pins no version of {', '.join(missing)}: add it to [project] dependencies")
    lines = [f"# {suite.title}: the packages of this handout, at the grader's versions.",
             "# On a laptop, in a terminal in this folder (a virtual environment is best):",
             "#     python -m pip install -r requirements.txt",
             "# The line below makes pip take torch's CPU build from PyTorch's CPU wheel index; a plain",
             "# `pip install torch` downloads a multi-GB CUDA build that this course never needs.",
             "# On Google Colab there is nothing to install: the notebook's set-up cell does it.",
             f"--extra-index-url {CPU_WHEELS}"]
    return "\n".join(lines + [pins[name] for name in dict.fromkeys(wanted)]) + "\n"


def pyproject_pins() -> dict[str, str]:
    """``{package: its requirement in pyproject.toml}``: the versions the grader runs."""
    return {_package_name(spec): spec for spec in tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())
            ["project"]["dependencies"]}


# What Colab lacks of every handout's packages: installed by the set-up cell there, with the
# suite's own colab_packages (the PDF of the written answers needs fpdf2).
COLAB_EXTRAS = ["fpdf2"]


def _package_name(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].strip().lower()


def manifest(suite: Suite, notebook_text: str, generated: dict[str, str]) -> dict:
    """What ``collect_submission.py`` needs to know about the assignment, and what ``build`` wrote
    (so that the next build can tell a hand edit from its own output)."""
    questions = written_questions(read_master(suite.master_path), suite.master_path)
    return {
        "slug": suite.slug,
        "title": suite.title,
        "graded_names": suite.graded_names,
        "extra_files": suite.extra_files,
        "max_file_mb": suite.max_file_mb,
        "required_files": {name: {"graded_name": graded, "points": points_of(suite, graded),
                                  "example": example_file(suite, name)}
                           for name, graded in suite.required_files.items()},
        "written_questions": {q.name: q.points for q in questions},
        "word_limits": suite.word_limits,
        "stub_sha256": hashlib.sha256(notebook_text.encode()).hexdigest(),
        "stub_code_sha256": code_fingerprint(json.loads(notebook_text)),
        "generated_sha256": generated,
    }


def points_of(suite: Suite, graded_name: str) -> float:
    """The autograded points of one graded name, public and hidden tests together."""
    return sum(fn.kit_test.points for fn, _ in suite.tests() if fn.kit_test.graded_name == graded_name)


def example_file(suite: Suite, pattern: str) -> str:
    """The name of the master's own file for a required pattern (``rnn_*``: ``rnn_checkpoint.pt``)."""
    found = sorted(p.name for p in suite.master_path.parent.glob(pattern) if p.is_file())
    return found[0] if found else pattern


def write_handout(suite: Suite, force: bool = False) -> Path:
    """Regenerate ``assignments/<slug>/``: the notebook and manifest from the master (refusing to
    overwrite a hand edit unless ``force``), and the runtime copies git ignores."""
    folder = suite.handout_dir
    generated = generated_files(suite)
    edited = [] if force else hand_edited_files(folder, generated)
    if edited:
        names = ", ".join(f"assignments/{suite.slug}/{name}" for name in edited)
        raise UserError(f"{names} changed since the last build; put the change in the master "
                        f"(solutions/{suite.slug}.ipynb) or the suite, or rerun build with --force to overwrite")
    files = {**generated, **{name: path.read_bytes() for name, path in common_handout_files().items()}}
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_bytes() == content:
            continue  # unchanged: not rewritten, so a reader never catches it half-written
        staged = path.with_name(f".{path.name}.building")
        staged.write_bytes(content)
        os.replace(staged, path)
    return folder


def hand_edited_files(folder: Path, files: dict[str, bytes]) -> list[str]:
    """Files that differ both from what the last build wrote and from what this build writes."""
    try:
        last = json.loads((folder / "assignment.json").read_text()).get("generated_sha256", {})
    except (OSError, json.JSONDecodeError):
        return []
    edited = []
    for name, content in files.items():
        path = folder / name
        if name in last and path.exists():
            current = path.read_bytes()
            if current != content and hashlib.sha256(current).hexdigest() != last[name]:
                edited.append(name)
    return edited


def write_release(suite: Suite, files: dict[str, bytes]) -> Path:
    """Write ``release/<slug>/``: the handout zip, Gradescope's autograder.zip and grading.md."""
    target = RELEASE_DIR / suite.slug
    if target.exists():
        shutil.rmtree(target)  # build output only: nothing here is ever edited by hand
    target.mkdir(parents=True)
    _zip_files(target / f"{suite.slug}-handout.zip", dict(files))
    _zip_files(target / "autograder.zip", gradescope_files(suite))
    (target / "grading.md").write_text(grading_sheet(suite))
    return target


def gradescope_files(suite: Suite) -> dict[str, Path | bytes]:
    """The autograder.zip layout: setup.sh and run_autograder at the top, the engine beside them."""
    files: dict[str, Path | bytes] = {
        "setup.sh": GRADESCOPE_DIR / "setup.sh",
        "requirements.txt": GRADESCOPE_DIR / "requirements.txt",
        "run_autograder": (GRADESCOPE_DIR / "run_autograder").read_bytes().replace(b"__SLUG__", suite.slug.encode()),
        "course.toml": KIT_ROOT / "course.toml",
        "solutions/README.md": b"Masters are not shipped to Gradescope.\n",
    }
    engine = Path(__file__).resolve().parent
    for path in sorted(engine.glob("*.py")):
        files[f"autograder/{path.name}"] = path
    for path in sorted(suite.folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"autograder/suites/{suite.slug}/{path.relative_to(suite.folder)}"] = path
    for name in heldout_names(suite.folder):  # the real held-out set from the data root travels as the instructor's file
        source = heldout_source(suite.folder, name)
        if source.kind == "real":
            files[f"autograder/suites/{suite.slug}/heldout/{name}"] = source.path
    files.update(runtime_files())
    for name, path in suite_files(suite).items():
        files[f"assignments/{suite.slug}/{name}"] = path
    return files


def grading_sheet(suite: Suite) -> str:
    """The release's list of points: autograded tests (results.json) and hand-graded questions."""
    questions = written_questions(read_master(suite.master_path), suite.master_path)
    tests = suite.tests()
    auto = sum(fn.kit_test.points for fn, _ in tests)
    manual = sum(q.points for q in questions)
    lines = [f"# {suite.title}", "", f"Total: {auto + manual:g} points = {auto:g} autograded + {manual:g} graded by hand.",
             "", "## Autograded (Gradescope results.json)", "", "| points | test | visibility |", "| --- | --- | --- |"]
    lines += [f"| {fn.kit_test.points:g} | {fn.kit_test.name} | {'hidden until published' if hidden else 'visible'} |"
              for fn, hidden in tests]
    lines += ["", "## Graded by hand (create these as manually graded questions on Gradescope)", "",
              "| points | question |", "| --- | --- |"]
    lines += [f"| {q.points:g} | {q.name} |" for q in questions]
    auto_points: dict[str, float] = {}
    for fn, _ in tests:
        auto_points[fn.kit_test.graded_name] = auto_points.get(fn.kit_test.graded_name, 0.0) + fn.kit_test.points
    lines += homework_points_table(suite, auto_points, {q.name: q.points for q in questions})
    return "\n".join(lines) + "\n"


def _zip_files(path: Path, files: dict[str, Path | bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else content.read_bytes()
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
