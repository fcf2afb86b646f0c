"""The written answers of a student notebook, as one file for Gradescope's hand-graded part.

``collect_submission.py`` calls :func:`export_written_answers`: each hand-graded question's prompt
and the student's answer (the cells marked ``{"kit": {"answer": NAME}}``), in order, as a PDF made
by :mod:`coursekit.pdf` (fpdf2 and matplotlib's mathtext, which pip installs on a laptop and Colab
has: no browser, no TeX), or by nbconvert where that fails; else as HTML, saying so in one line: the
student then opens the HTML in a browser and prints it to PDF.

Part of the student runtime (``coursekit``): it imports nothing from the grading engine.
"""
from __future__ import annotations

import copy
import html
import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

PLACEHOLDER = "_Type your answer here, replacing this text._"


@dataclass
class WrittenExport:
    """What was written: the file, its format, and a one-line note for the student."""

    path: Path
    format: str  # "pdf" or "html"
    note: str
    unanswered: list[str]


def answers_notebook(notebook: dict, questions: dict[str, float], title: str):
    """A notebook of the written questions only: a heading, then per question its prompt and answer."""
    import nbformat

    source = nbformat.reads(json.dumps(notebook), as_version=4)  # also joins sources saved as lists of lines
    cells = source.get("cells", [])
    answers: dict[str, list] = {}
    prompts: dict[str, object] = {}
    for index, cell in enumerate(cells):
        name = cell.get("metadata", {}).get("kit", {}).get("answer")
        if name is None:
            continue
        answers.setdefault(name, []).append(cell)
        if name not in prompts:
            prompts[name] = next((c for c in reversed(cells[:index]) if c.get("cell_type") == "markdown"
                                  and not c.get("metadata", {}).get("kit", {}).get("answer")), None)
    total = sum(questions.values())
    out = nbformat.v4.new_notebook()
    out.cells.append(nbformat.v4.new_markdown_cell(
        f"# {title}: written answers\n\n{len(questions)} question(s), {total:g} point(s), graded by hand."))
    unanswered = []
    for name, points in questions.items():
        given = [c for c in answers.get(name, []) if "".join(c.get("source", "")).strip() not in ("", PLACEHOLDER)]
        if not given:
            unanswered.append(name)
        heading = f"## {name} ({points:g} point{'' if points == 1 else 's'})"
        if prompts.get(name) is not None:
            heading += "\n\n" + "".join(prompts[name].source)
        out.cells.append(nbformat.v4.new_markdown_cell(heading))
        for cell in given or [nbformat.v4.new_markdown_cell("**(not answered)**")]:
            copied = copy.deepcopy(cell)
            copied.metadata = {}
            out.cells.append(copied)
    return out, unanswered


class FpdfExporter:
    """:mod:`coursekit.pdf` behind nbconvert's exporter interface."""

    def from_notebook_node(self, notebook):
        import tempfile

        from coursekit.pdf import notebook_to_pdf

        with tempfile.TemporaryDirectory() as folder:
            path = notebook_to_pdf(notebook, Path(folder) / "answers.pdf")
            return path.read_bytes(), {}


def pdf_converters() -> list[tuple[str, object]]:
    """The PDF exporters that can work on this machine, best first, without trying them."""
    from coursekit.pdf import available

    found = [("fpdf2", FpdfExporter)] if available() else []
    try:
        import nbconvert  # noqa: F401
    except ImportError:
        return found
    if importlib.util.find_spec("playwright") is not None:
        from nbconvert import WebPDFExporter

        found.append(("webpdf", WebPDFExporter))
    if shutil.which("xelatex") and shutil.which("pandoc"):
        from nbconvert import PDFExporter

        found.append(("latex", PDFExporter))
    return found


def to_html(notebook) -> str:
    """nbconvert's HTML, or a plain page of the cells' text where nbconvert is missing."""
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        body = "".join(f"<pre>{html.escape(''.join(c.source))}</pre>" for c in notebook.cells)
        return f"<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{body}</body></html>\n"
    text, _ = HTMLExporter().from_notebook_node(notebook)
    return text


def export_written_answers(notebook: dict, questions: dict[str, float], target_stem: Path,
                           title: str = "") -> WrittenExport | None:
    """Write ``<target_stem>.pdf`` (or ``.html``) with the written answers; None when the
    assignment has no hand-graded question."""
    if not questions:
        return None
    answers, unanswered = answers_notebook(notebook, questions, title or target_stem.name)
    for stale in (target_stem.with_suffix(".pdf"), target_stem.with_suffix(".html")):
        stale.unlink(missing_ok=True)
    failures = []
    for name, exporter in pdf_converters():
        try:
            data, _ = exporter().from_notebook_node(answers)
        except Exception as error:  # a converter that is present but broken: try the next one
            failures.append(f"{name} failed with {type(error).__name__}")
            continue
        path = target_stem.with_suffix(".pdf")
        path.write_bytes(data)
        return WrittenExport(path, "pdf", f"wrote {path.name} (PDF through {name})", unanswered)
    path = target_stem.with_suffix(".html")
    path.write_text(to_html(answers), encoding="utf-8")
    why = ", ".join(failures) if failures else "fpdf2 is not installed: `python -m pip install fpdf2` gives a PDF next time"
    note = (f"wrote {path.name} as HTML, not PDF ({why}): open it in a browser and print it to PDF "
            "(Ctrl-P, Save as PDF) for Gradescope")
    return WrittenExport(path, "html", note, unanswered)
