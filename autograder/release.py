"""The release stage: the student handout folder and the zips an instructor uploads.

``assignments/<slug>/`` (committed) is what a student is handed. ``release/<slug>/`` (built) holds
``<slug>-handout.zip``, Gradescope's ``autograder.zip`` and ``grading.md``, the list of autograded
and hand-graded points.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

from autograder.errors import UserError
from autograder.extract import code_fingerprint
from autograder.master import read_master, written_questions
from autograder.student_version import render, student_notebook
from autograder.suite import KIT_ROOT, Suite

RELEASE_DIR = KIT_ROOT / "release"
GRADESCOPE_DIR = Path(__file__).resolve().parent / "gradescope"


def handout_files(suite: Suite) -> dict[str, bytes]:
    """Every file of ``assignments/<slug>/``, by name, as ``build`` writes them."""
    notebook_text = render(student_notebook(suite))
    files = {f"{suite.slug}.ipynb": notebook_text.encode()}
    files["public_tests.py"] = (suite.folder / "public_tests.py").read_bytes()
    files["collect_submission.py"] = (KIT_ROOT / "collect_submission.py").read_bytes()
    for name, source in suite.helper_files().items():
        files[name] = source.read_bytes()
    generated = {name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())}
    files["assignment.json"] = (json.dumps(manifest(suite, notebook_text, generated), indent=2) + "\n").encode()
    return files


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
        "written_questions": {q.name: q.points for q in questions},
        "word_limits": suite.word_limits,
        "stub_sha256": hashlib.sha256(notebook_text.encode()).hexdigest(),
        "stub_code_sha256": code_fingerprint(json.loads(notebook_text)),
        "generated_sha256": generated,
    }


def write_handout(suite: Suite, files: dict[str, bytes], force: bool = False) -> Path:
    """Regenerate ``assignments/<slug>/`` from :func:`handout_files`, refusing to overwrite a file
    that was edited by hand since the last build unless ``force``."""
    folder = suite.handout_dir
    edited = [] if force else hand_edited_files(folder, files)
    if edited:
        names = ", ".join(f"assignments/{suite.slug}/{name}" for name in edited)
        raise UserError(f"{names} changed since the last build; put the change in the master "
                        f"(solutions/{suite.slug}.ipynb) or the suite, or rerun build with --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if path.is_file() and path.read_bytes() == content:
            continue  # unchanged: not rewritten, so a reader never catches it half-written
        staged = path.with_name(f".{name}.building")
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
    for name in suite.shared_helpers:
        files[f"autograder/handout/{name}"] = engine / "handout" / name
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
    return "\n".join(lines) + "\n"


def _zip_files(path: Path, files: dict[str, Path | bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else content.read_bytes()
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
