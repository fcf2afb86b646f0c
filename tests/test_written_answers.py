"""collect_submission.py also writes the student's written answers for Gradescope's hand-graded
part: a PDF where nbconvert can make one here, HTML otherwise, and it says which."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
from conftest import KIT_ROOT

from coursekit import written as written_answers
from coursekit.written import PLACEHOLDER, export_written_answers

SLUG = "foundations"


def manifest() -> dict:
    return json.loads((KIT_ROOT / "assignments" / SLUG / "assignment.json").read_text())


def answered_notebook(skip: str = "") -> dict:
    """The handout with every answer cell filled in (but ``skip``), and the code of the master."""
    notebook = nbformat.read(str(KIT_ROOT / "assignments" / SLUG / f"{SLUG}.ipynb"), as_version=4)
    for cell in notebook.cells:
        name = cell.get("metadata", {}).get("kit", {}).get("answer")
        if name and name != skip:
            cell.source = f"My answer to {name}: because the eigenvalues say so."
    master = nbformat.read(str(KIT_ROOT / "solutions" / f"{SLUG}.ipynb"), as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(c.source) for c in master.cells
                       if c.cell_type == "code" and "SOLUTION" in c.source]
    for cell in notebook.cells:
        cell.pop("id", None)  # the handout is nbformat 4.4, without cell ids
    return notebook


def test_html_fallback_says_so_and_holds_every_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(written_answers, "pdf_converters", lambda: [])
    questions = manifest()["written_questions"]
    result = export_written_answers(answered_notebook(skip="cnn_over_rnn"), questions, tmp_path / "w", "Foundations")
    assert result.format == "html" and result.path == tmp_path / "w.html"
    assert "as HTML, not PDF" in result.note and "print it to PDF" in result.note
    text = result.path.read_text()
    for name, points in questions.items():
        assert f"{name} ({points:g} point" in text
        if name != "cnn_over_rnn":
            assert f"My answer to {name}" in text
    assert result.unanswered == ["cnn_over_rnn"] and "(not answered)" in text
    assert PLACEHOLDER.strip("_") not in text
    assert "Question 3.1" in text, "each answer comes with its prompt"


def test_pdf_when_a_converter_works(tmp_path, monkeypatch):
    class Broken:
        def from_notebook_node(self, notebook):
            raise OSError("Chromium not found")

    class Working:
        def from_notebook_node(self, notebook):
            return b"%PDF-1.7 fake", {}

    monkeypatch.setattr(written_answers, "pdf_converters", lambda: [("webpdf", Broken), ("latex", Working)])
    result = export_written_answers(answered_notebook(), manifest()["written_questions"], tmp_path / "w")
    assert result.format == "pdf" and result.path.read_bytes().startswith(b"%PDF")
    assert "latex" in result.note and not (tmp_path / "w.html").exists()


def test_no_written_questions_no_file(tmp_path):
    assert export_written_answers(answered_notebook(), {}, tmp_path / "w") is None
    assert list(tmp_path.iterdir()) == []


def test_collect_submission_writes_the_written_answers(tmp_path):
    folder = tmp_path / SLUG
    shutil.copytree(KIT_ROOT / "assignments" / SLUG, folder)
    shutil.copy2(KIT_ROOT / "collect_submission.py", folder / "collect_submission.py")  # this checkout's
    shutil.copytree(KIT_ROOT / "coursekit", folder / "coursekit", dirs_exist_ok=True)  # as a handout carries it
    nbformat.write(answered_notebook(), str(folder / f"{SLUG}.ipynb"))
    finished = subprocess.run([sys.executable, "collect_submission.py"], cwd=folder, capture_output=True, text=True,
                              timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert finished.returncode == 0, finished.stderr
    assert (folder / f"{SLUG}_submission.zip").exists()
    written = [p for p in folder.glob(f"{SLUG}_written_answers.*")]
    assert len(written) == 1, finished.stdout
    if written[0].suffix == ".html":
        assert "as HTML, not PDF" in finished.stdout
    assert "upload it to the written part" in finished.stdout
    assert "My answer to xor_not_separable" in written[0].read_text(errors="ignore") or written[0].suffix == ".pdf"


def test_a_real_pdf_with_math_is_written_here_without_browser_or_tex(tmp_path, monkeypatch):
    import shutil as which_tools

    monkeypatch.setattr(which_tools, "which", lambda name: None)  # no xelatex, no pandoc, as on a laptop
    notebook = answered_notebook()
    for cell in notebook.cells:
        if cell.get("metadata", {}).get("kit", {}).get("answer") == "eigenvalues_and_growth":
            cell.source = ("If $W^\\top = V \\Lambda V^{-1}$ then $h_t \\ge 0$ and $\\tfrac12 \\operatorname{softmax}(x)$:\n"
                           "$$\n\\begin{aligned} a &= b \\\\ c &= \\sqrt d \\end{aligned}\n$$\n"
                           "and $\\unknowncommand{x}$ stays readable.")
    result = export_written_answers(notebook, manifest()["written_questions"], tmp_path / "w", "Foundations")
    assert result.format == "pdf" and result.note == "wrote w.pdf (PDF through fpdf2)"
    data = result.path.read_bytes()
    assert data.startswith(b"%PDF") and b"/Subtype /Image" in data, "formulas are drawn as images"


def test_latex_that_mathtext_lacks_is_translated_and_aligned_blocks_split_into_rows():
    from coursekit.pdf import aligned_rows, mathtext_spelling

    assert mathtext_spelling(r"a \ge \tfrac12, \operatorname{softmax}_j / \sqrt d") == \
        r"a \geq \frac{1}{2}, \mathrm{softmax}_j / \sqrt{d}"
    assert mathtext_spelling(r"\mathcal N(\mu, \sigma^2), \mathbb E_q") == r"\mathcal{N}(\mu, \sigma^2), \mathbb{E}_q"
    assert aligned_rows(r"\begin{aligned} f &= 1, & g &= 2 \\ h &= 3 \end{aligned}") == ["f = 1,", "g = 2", "h = 3"]
    assert aligned_rows(r"x = 1") == []
