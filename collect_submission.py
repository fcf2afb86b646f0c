"""Package your assignment for Gradescope: ``python collect_submission.py`` in the handout folder.

It checks your notebook before you hand it in, so that you do not lose points to the classic
accidents: an empty or half-saved notebook, the untouched handout instead of your working copy,
a graded function left as a stub, a checkpoint you forgot. Then it writes ``<slug>_submission.zip``
with your notebook and the extra files the assignment asks for, and nothing else.

Exit status: 0 when the zip was written (warnings included), 1 when it refused.

From inside the notebook (its last cell, and the only way on Google Colab, which has no terminal):
``import collect_submission; collect_submission.hand_in()`` does the same and, on Colab, fetches the
notebook from Colab first and offers the zip and the written answers for download.
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # coursekit/, the runtime with the grader's own notebook reader, sits beside this file
MAX_ZIP_MB = 100  # Gradescope refuses larger uploads
# Never packaged, whatever an extra_files pattern matches: this script's own outputs (a second run
# would otherwise copy the last zip into the new one), archives, notebooks (the notebook is added
# under its own name) and the files the handout itself carries.
NEVER_PACKAGED = ["*_submission.zip", "*_written_answers.*", "*.zip", "*.ipynb", "assignment.json",
                  "collect_submission.py", "public_tests.py", "handout.zip"]
DATASET_PATTERNS = ["*.csv", "*.tsv", "*-ubyte*", "*.idx*", "*.npz", "*.tar*", "*.gz", "glove*.txt", "*.parquet"]


class Refusal(Exception):
    """A reason not to write the zip; the message says what to do."""


def load_manifest(folder: Path) -> dict:
    path = folder / "assignment.json"
    if not path.exists():
        raise Refusal(f"no assignment.json in {folder}: run this script from the assignment's handout folder")
    return json.loads(path.read_text())


def read_notebook(path: Path) -> dict:
    """The notebook as a dict, or a Refusal saying why it cannot be submitted."""
    if not path.exists():
        raise Refusal(f"{path.name} not found in {path.parent}: save your notebook there under that name")
    data = path.read_bytes()
    if not data.strip():
        raise Refusal(f"{path.name} is empty: open it in Jupyter, save it (Ctrl-S), and run this again")
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Refusal(f"{path.name} is not a valid notebook ({type(error).__name__}); it may be half-saved: "
                      "open it in Jupyter, save, and run this again") from None
    try:
        import nbformat

        nbformat.validate(nbformat.from_dict(notebook))
    except ImportError:
        pass
    except Exception as error:
        raise Refusal(f"{path.name} is not a valid notebook ({str(error).splitlines()[0][:150]})") from None
    if notebook.get("nbformat") != 4:
        raise Refusal(f"{path.name} is nbformat {notebook.get('nbformat')}: save it from a current Jupyter")
    return notebook


def runtime(module: str):
    """``coursekit.<module>``, the kit's runtime beside this script, or a Refusal saying how to get it back."""
    import importlib

    try:
        if not (HERE / "coursekit" / f"{module}.py").is_file() and not (HERE.parent.parent / "coursekit").is_dir():
            raise ImportError(module)  # neither a handout's copy nor the kit's own repository around it
        return importlib.import_module(f"coursekit.{module}")
    except ImportError:
        raise Refusal(f"coursekit/ is missing or incomplete beside {Path(__file__).name}: download the handout "
                      "again and copy its coursekit/ folder next to your notebook") from None


def check_not_the_stub(path: Path, notebook: dict, manifest: dict) -> None:
    code_fingerprint = runtime("notebook").code_fingerprint

    if hashlib.sha256(path.read_bytes()).hexdigest() == manifest["stub_sha256"] or \
            code_fingerprint(notebook) == manifest["stub_code_sha256"]:
        raise Refusal(f"{path.name} is still the handed-out notebook, with none of your code. Did you work in "
                      "another copy (on Colab: 'Copy of ...'; File > Download .ipynb)? Put that copy here as "
                      f"{path.name} and run this again")


def graded_name_warnings(notebook: dict, manifest: dict) -> list[str]:
    """Graded names that are missing, still stubs, or in cells that do not parse."""
    extract_definitions, is_stub = runtime("notebook").extract_definitions, runtime("notebook").is_stub
    names = manifest["graded_names"]
    extraction = extract_definitions(notebook, set(names))
    warnings = [f"cell {p.cell} does not parse ({p.message}); the grader skips it"
                + (f", losing {', '.join(p.names)}" if p.names else "") for p in extraction.problems]
    missing = [n for n in names if extraction.last_definition(n) is None]
    stubs = [n for n in names if extraction.last_definition(n) and is_stub(extraction.last_definition(n))]
    if missing:
        warnings.append(f"not defined: {', '.join(missing)}")
    if stubs:
        warnings.append(f"still stubs (raise NotImplementedError or are ...): {', '.join(stubs)}")
    for name, reads in extraction.unbuildable.items():
        for read, cell in reads.items():
            where = (f"only cell {cell} sets it, in a statement the grader does not run (a loop, a call, a with block)"
                     if cell else "nothing in the notebook defines it")
            warnings.append(f"{name} reads `{read}`, but {where}: the grader will not have it; build it inside "
                            f"{name} or in a top-level assignment, or load it from a file you hand in")
    return warnings


def never_run_warning(notebook: dict) -> list[str]:
    cells = [i for i, c in enumerate(notebook.get("cells", []), 1)
             if c.get("cell_type") == "code" and "".join(c.get("source", "")).strip() and c.get("execution_count") is None]
    if not cells:
        return []
    shown = ", ".join(map(str, cells[:8])) + (", ..." if len(cells) > 8 else "")
    return [f"{len(cells)} code cell(s) were never run (cells {shown}): run all cells (Kernel > Restart & Run All) "
            "so your outputs and plots are in the notebook"]


def word_limit_warnings(notebook: dict, manifest: dict) -> list[str]:
    """Written answers longer than their stated limit (a warning: the graders decide)."""
    limits = manifest.get("word_limits", {})
    warnings = []
    for cell in notebook.get("cells", []):
        name = cell.get("metadata", {}).get("kit", {}).get("answer")
        if name in limits:
            words = len("".join(cell.get("source", "")).split())
            if words > limits[name]:
                warnings.append(f"answer '{name}' has {words} words; the limit is {limits[name]}")
    return warnings


def never_packaged(path: Path, folder: Path) -> bool:
    """This script's outputs and the handout's own files: never in the zip, whatever a pattern says."""
    relative = path.relative_to(folder)
    return relative.parts[0] in ("coursekit", ".ipynb_checkpoints", "__pycache__") or \
        any(fnmatch.fnmatch(path.name, pattern) for pattern in NEVER_PACKAGED)


def extra_files(folder: Path, manifest: dict) -> tuple[list[Path], list[str]]:
    """The declared extra files present (refusing data sets and over-size files), and warnings."""
    found, warnings = [], []
    limit = manifest.get("max_file_mb", 50)
    for pattern in manifest.get("extra_files", []):
        matches = [p for p in sorted(folder.glob(pattern)) if p.is_file() and not never_packaged(p, folder)]
        if not matches and not any(fnmatch.fnmatch(name, pattern) for name in manifest.get("required_files", {})):
            warnings.append(f"no file matches {pattern}: the autograder looks for it beside your notebook")
        for path in matches:
            if any(fnmatch.fnmatch(path.name, d) for d in DATASET_PATTERNS):
                raise Refusal(f"{path.name} looks like a data set; do not submit data, the autograder has its own")
            size_mb = path.stat().st_size / 1024**2
            if size_mb > limit:
                raise Refusal(f"{path.name} is {size_mb:.0f} MB, over the {limit:g} MB limit: "
                              "save a smaller model (fewer parameters, or a state_dict in float16)")
            if path not in found:
                found.append(path)
    return found, warnings


def missing_required_files(folder: Path, manifest: dict) -> list[str]:
    """One warning per required file (a trained model) that is not beside the notebook, naming the
    points the upload will lose without it."""
    warnings = []
    for pattern, needed_by in manifest.get("required_files", {}).items():
        if any(p.is_file() and not never_packaged(p, folder) for p in folder.glob(pattern)):
            continue
        example = needed_by.get("example", pattern)
        what = pattern if example == pattern else f"your trained model {example} (or another file named {pattern})"
        warnings.append(f"{what} is missing: {needed_by['graded_name']} loads it, so this upload will lose "
                        f"its {needed_by.get('points', 0):g} point(s); save it beside the notebook (the notebook's "
                        "training cell does) and run this again")
    return warnings


def write_zip(target: Path, files: dict[str, Path], limit_mb: float = MAX_ZIP_MB) -> None:
    """Write the zip through a temporary file, refusing (and leaving no zip) past ``limit_mb``."""
    total_mb = sum(path.stat().st_size for path in files.values()) / 1024**2
    if total_mb > limit_mb:
        biggest = max(files, key=lambda name: files[name].stat().st_size)
        raise Refusal(f"the files to submit add up to {total_mb:.0f} MB, over Gradescope's {limit_mb:g} MB; "
                      f"the largest is {biggest}: clear the notebook's outputs or save a smaller model")
    partial = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, path in files.items():
                archive.write(path, name)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def collect(folder: Path, notebook_name: str | None = None) -> Path:
    """Check the notebook and write the submission zip; print warnings; return the zip's path."""
    manifest = load_manifest(folder)
    slug = manifest["slug"]
    path = folder / (notebook_name or f"{slug}.ipynb")
    notebook = read_notebook(path)
    check_not_the_stub(path, notebook, manifest)
    extras, warnings = extra_files(folder, manifest)
    warnings = graded_name_warnings(notebook, manifest) + never_run_warning(notebook) \
        + word_limit_warnings(notebook, manifest) + warnings + missing_required_files(folder, manifest)
    target = folder / f"{slug}_submission.zip"
    write_zip(target, {f"{slug}.ipynb": path, **{extra.relative_to(folder).as_posix(): extra for extra in extras}})
    for warning in warnings:
        print(f"warning: {warning}")
    print(f"wrote {target.name} ({1 + len(extras)} file(s)); upload it to Gradescope")
    for line in written_answers(folder, notebook, manifest):
        print(line)
    return target


# ----------------------------------------------------------------------------------------------
# Written answers: a separate file for Gradescope's hand-graded part (coursekit.written does the work)


def written_answers(folder: Path, notebook: dict, manifest: dict) -> list[str]:
    """Write ``<slug>_written_answers.pdf`` (or ``.html``) and return what to tell the student."""
    questions = manifest.get("written_questions", {})
    if not questions:
        return []
    try:
        from coursekit.written import export_written_answers
    except ImportError:
        return ["warning: coursekit/ is missing from this folder, so your written answers were not "
                "exported; download the handout again, or print the notebook to PDF yourself"]
    try:
        result = export_written_answers(notebook, questions, folder / f"{manifest['slug']}_written_answers",
                                        manifest.get("title", manifest["slug"]))
    except Exception as error:  # the code zip is written: a failed export must not stop the hand-in
        return [f"warning: your written answers could not be exported ({type(error).__name__}: {error}); "
                "print the notebook to PDF yourself for the written part"]
    lines = [f"warning: written answer '{name}' is empty or still the placeholder" for name in result.unanswered]
    return lines + [f"{result.note}; upload it to the written part of the assignment on Gradescope"]


# ----------------------------------------------------------------------------------------------
# Handing in from the notebook itself: its last cell calls hand_in() (on Colab, the only way)


def on_colab() -> bool:
    return "google.colab" in sys.modules


def colab_notebook(folder: Path, slug: str) -> str:
    """Ask Colab for the notebook as it is now (Colab keeps it in Drive, not in /content) and save
    it in ``folder`` as ``<slug>.ipynb``; return that name."""
    from google.colab import _message

    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=120)
    if not isinstance(reply, dict) or not isinstance(reply.get("ipynb"), dict):
        raise Refusal("Colab did not hand over the notebook: save it (File > Save), then run this cell again")
    (folder / f"{slug}.ipynb").write_text(json.dumps(reply["ipynb"], indent=1), encoding="utf-8")
    return f"{slug}.ipynb"


def hand_in(folder: str | Path | None = None) -> Path | None:
    """Package the notebook from inside it: on Colab, fetch the notebook from Colab, write the zip
    and the written answers, and offer both for download; elsewhere, package the saved notebook
    beside this script (save it first). Returns the zip's path, or None when it refused."""
    folder = Path(folder or Path.cwd()).resolve()
    try:
        manifest = load_manifest(folder)
        name = colab_notebook(folder, manifest["slug"]) if on_colab() else None
        if name is None:
            print("Packaging the notebook as last saved: save it first (Ctrl-S) if you changed anything.")
        target = collect(folder, name)
    except Refusal as refusal:
        print(f"not submitted: {refusal}")
        return None
    if on_colab():
        from google.colab import files

        for path in [target, *sorted(folder.glob(f"{manifest['slug']}_written_answers.*"))]:
            files.download(str(path))
        print("Your browser is downloading these files: upload them to Gradescope.")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", help="the notebook to submit (default: <slug>.ipynb)")
    args = parser.parse_args(argv)
    try:
        collect(HERE, args.notebook)
    except Refusal as refusal:
        print(f"not submitted: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
