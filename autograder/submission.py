"""The submission stage: a notebook, a folder or a zip in; a notebook and its files out.

Whatever a student hands in is opened defensively: a zip is unpacked by hand (no ``../`` paths,
no absolute paths, no symlinks, no nested archives, a cap on the unpacked size), symlinks are
never followed (in a folder, in a zip or beside a bare notebook), the notebook must be UTF-8 JSON
in nbformat 4, and problems (JSON nested too deep, a file and a folder of the same name, names
too long for the file system) become a one-line reason that the student sees in results.json
rather than a crash.
"""
from __future__ import annotations

import json
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.errors import SubmissionUnreadable, UserError
from autograder.suite import Suite

MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_NOTEBOOK_BYTES = 100 * 1024**2
MAX_ZIP_MEMBERS = 2000


@dataclass
class Submission:
    notebook: dict
    notebook_path: Path
    files_dir: Path  # the scratch folder holding the notebook's companion files


def open_submission(path: Path, suite: Suite, scratch: Path) -> Submission:
    """Copy what the submission holds into ``scratch`` and read its notebook.

    Raises UserError when ``path`` does not exist (the caller's mistake) and
    SubmissionUnreadable when it exists but cannot be graded (the student's).
    """
    if not path.exists():
        raise UserError(f"{path} does not exist: give a .ipynb, a folder or a .zip from collect_submission.py")
    scratch.mkdir(parents=True, exist_ok=True)
    path = uploaded_zip(path)
    if not (path.is_dir() or path.suffix in (".zip", ".ipynb")):
        raise UserError(f"{path} is neither a .ipynb, a folder nor a .zip: hand in what collect_submission.py made")
    try:
        if path.is_dir():
            _copy_folder(path, scratch)
        elif path.suffix == ".zip":
            unpack_zip(path, scratch)
        else:
            shutil.copy2(path, scratch / path.name)
            for pattern in suite.extra_files:  # a bare notebook's artifacts are looked up beside it
                for extra in path.parent.glob(pattern):
                    if extra.is_file() and not _through_a_symlink(extra, path.parent):
                        target = scratch / extra.relative_to(path.parent)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(extra, target)
    except (OSError, shutil.Error) as error:  # a name too long, a file where a folder should be
        raise SubmissionUnreadable(f"{path.name} could not be unpacked ({_short(error)}): make it again with "
                                   "collect_submission.py") from None
    notebook_path = find_notebook(scratch, suite.slug)
    return Submission(read_notebook(notebook_path), notebook_path, scratch)


def uploaded_zip(path: Path) -> Path:
    """A folder holding no notebook and one zip (a student's upload, as Gradescope stores it) is that
    zip; anything else is itself. ``grade`` and ``grade-batch`` both open submissions this way."""
    if path.is_dir() and not any(path.rglob("*.ipynb")):
        zips = sorted(path.glob("*.zip"))
        if len(zips) == 1:
            return zips[0]
    return path


def _through_a_symlink(path: Path, base: Path) -> bool:
    """Whether ``path`` or a folder between it and ``base`` is a symlink (it could point anywhere)."""
    return any(p.is_symlink() for p in [path, *path.parents] if p != base and base in p.parents)


def _short(error: Exception) -> str:
    text = f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}"
    return text if len(text) <= 160 else text[:157] + "..."


def find_notebook(folder: Path, slug: str) -> Path:
    """``<slug>.ipynb`` if present, else the only notebook in the submission."""
    preferred = list(folder.rglob(f"{slug}.ipynb"))
    candidates = preferred or [p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    if not candidates:
        raise SubmissionUnreadable(f"no notebook found in the submission: hand in {slug}.ipynb "
                                   "(collect_submission.py makes the zip)")
    if len(candidates) > 1 and not preferred:
        names = ", ".join(sorted(p.name for p in candidates))
        raise SubmissionUnreadable(f"several notebooks ({names}) and none named {slug}.ipynb: rename yours")
    return sorted(candidates, key=lambda p: len(p.parts))[0]


def read_notebook(path: Path) -> dict:
    """The notebook as a dict, validated as nbformat 4, or SubmissionUnreadable with the reason."""
    size = path.stat().st_size
    if size == 0:
        raise SubmissionUnreadable(f"{path.name} is empty (0 bytes): save the notebook and submit again")
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionUnreadable(f"{path.name} is {size // 1024**2} MB: clear the outputs "
                                   "(Edit > Clear All Outputs) and submit again")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionUnreadable(f"{path.name} is not UTF-8 text (byte {error.start}): "
                                   "re-download it from Jupyter/Colab with File > Download .ipynb") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionUnreadable(f"{path.name} is not valid notebook JSON (line {error.lineno}: {error.msg}); "
                                   "it may have been saved half-way: open it in Jupyter, save, submit again") from None
    except (RecursionError, ValueError, MemoryError) as error:  # nested too deep, a number too long
        raise SubmissionUnreadable(f"{path.name} is not a notebook Jupyter writes ({type(error).__name__}: "
                                   "nested too deeply or a number too long): open it in Jupyter, save it and "
                                   "submit again") from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        found = raw.get("nbformat") if isinstance(raw, dict) else type(raw).__name__
        raise SubmissionUnreadable(f"{path.name} is not an nbformat 4 notebook (found nbformat {found}): "
                                   "open it in a current Jupyter and save it again")
    problem = structure_problem(raw)
    if problem:
        raise SubmissionUnreadable(f"{path.name} is not a valid notebook ({problem}): open it in Jupyter, "
                                   "save it and submit again")
    return raw


def structure_problem(notebook: dict) -> str:
    """What is wrong with the parts of nbformat 4 that grading reads, or '' when nothing is.

    Not ``nbformat.validate``: importing nbformat's schema machinery costs about 2 s (jsonschema
    and its format checkers), a third of a grading run, to check fields grading never reads.
    ``collect_submission.py`` runs the full nbformat validation on the student's machine.
    """
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return "it has no list of cells"
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return f"cell {number} is not a code, markdown or raw cell"
        source = cell.get("source", "")
        if not isinstance(source, str) and not (isinstance(source, list) and all(isinstance(s, str) for s in source)):
            return f"cell {number} has a source that is not text"
    return ""


def unpack_zip(path: Path, target: Path) -> None:
    """Unpack a submission zip safely into ``target``; refuse what a real collect never makes."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise SubmissionUnreadable(f"{path.name} is not a readable zip ({error}): "
                                   "make it again with collect_submission.py") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise SubmissionUnreadable(f"{path.name} holds {len(members)} files: submit only what collect_submission.py bundles")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise SubmissionUnreadable(f"{path.name} unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GiB: "
                                       "leave data sets out of the submission")
        for member in members:
            _unpack_member(archive, member, target)


def _unpack_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    name = PurePosixPath(member.filename)
    if name.is_absolute() or ".." in name.parts:
        return  # a path that escapes the folder: skipped, never written
    if stat.S_ISLNK(member.external_attr >> 16):
        return  # symlinks could point at the grader's files
    if member.is_dir() or name.suffix.lower() in {".zip", ".tar", ".gz", ".tgz", ".7z"}:
        return  # nested archives are not unpacked, and not needed
    destination = target.joinpath(*name.parts)
    destination.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(member) as source, open(destination, "wb") as sink:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > member.file_size or written > MAX_UNPACKED_BYTES:  # a lying header: a bomb
                raise SubmissionUnreadable(f"{archive.filename}: {member.filename} unpacks to more than "
                                           "its header says; make the zip again with collect_submission.py")
            sink.write(chunk)


def _copy_folder(source: Path, target: Path) -> None:
    """Copy a submission folder, skipping symlinks (they could point at the grader's files)."""
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if (Path(d) / n).is_symlink()])
