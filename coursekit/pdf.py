"""A PDF of markdown cells with their math, from what pip installs: fpdf2 lays out the text and
matplotlib's mathtext draws each ``$...$`` and ``$$...$$`` formula. No browser, no TeX.

It reads the markdown a written answer uses: headings, paragraphs, bullet and numbered lists,
``**bold**``, ``*italic*``, `` `code` ``, inline and display math, and code cells as monospace.
A formula mathtext cannot draw is printed as its TeX source, in monospace.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

LINE_MM = 6.0
BODY_PT = 11
MATH_DPI = 300
INLINE = re.compile(r"(\$[^$\n]+?\$|\*\*[^*\n]+?\*\*|\*[^*\n]+?\*|`[^`\n]+?`)")


def available() -> bool:
    """fpdf2 and matplotlib importable: the PDF can be made here."""
    try:
        import fpdf  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return hasattr(fpdf, "FPDF") and hasattr(fpdf, "FPDF_VERSION")


# LaTeX that mathtext spells otherwise, or not at all
_TEX_SPELLINGS = [(r"\\ge(?![a-zA-Z])", r"\\geq"), (r"\\le(?![a-zA-Z])", r"\\leq"), (r"\\ne(?![a-zA-Z])", r"\\neq"),
                  (r"\\[td]frac(?![a-zA-Z])", r"\\frac"), (r"\\frac\s*(\w)\s*(\w)", r"\\frac{\1}{\2}"),
                  (r"\\operatorname\*?", r"\\mathrm"), (r"\\sqrt\s+(\w)", r"\\sqrt{\1}"), (r"\\text(?![a-zA-Z])", r"\\mathrm"),
                  (r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])", ""), (r"\\!|\\displaystyle", ""),
                  (r"\\boldsymbol(?![a-zA-Z])", r"\\mathbf"),
                  (r"\\(mathcal|mathbb|mathrm|mathbf|mathit|mathsf|mathtt)\s+(\w)", r"\\\1{\2}")]


def mathtext_spelling(tex: str) -> str:
    """``\\ge``, ``\\tfrac12``, ``\\operatorname{softmax}``... as mathtext draws them."""
    for pattern, replacement in _TEX_SPELLINGS:
        tex = re.sub(pattern, replacement, tex)
    return tex


def aligned_rows(tex: str) -> list[str]:
    """The rows of an ``aligned`` (or ``align``, ``gather``...) block, split at ``\\\\`` and at every
    second ``&`` (a new column pair), alignment marks removed; [] for any other formula."""
    match = re.fullmatch(r"\s*\\begin\{(\w+\*?)\}(.*)\\end\{\1\}\s*", tex, flags=re.S)
    if not match:
        return []
    rows = []
    for line in re.split(r"\\\\", match.group(2)):
        cells = line.split("&")
        pairs = ["".join(cells[i:i + 2]) for i in range(0, len(cells), 2)]
        rows += [" ".join(p.split()) for p in pairs if p.strip()]
    return rows


class _Writer:
    def __init__(self):
        import matplotlib
        from fpdf import FPDF

        fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(True, margin=15)
        for style, name in (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf"), ("I", "DejaVuSans-Oblique.ttf")):
            self.pdf.add_font("Body", style, str(fonts / name))
        self.pdf.add_font("Mono", "", str(fonts / "DejaVuSansMono.ttf"))
        self.pdf.add_page()
        self.font()

    def font(self, style: str = "", size: float = BODY_PT, family: str = "Body") -> None:
        self.pdf.set_font(family, style, size)

    def math_image(self, tex: str, size: float):
        """The formula as a PNG in memory and its size in mm, or None when mathtext cannot draw it."""
        from matplotlib import mathtext
        from matplotlib.font_manager import FontProperties

        buffer = io.BytesIO()
        try:
            mathtext.math_to_image(f"${mathtext_spelling(tex)}$", buffer, prop=FontProperties(size=size), dpi=MATH_DPI, format="png")
        except Exception:  # mathtext covers most of LaTeX's math, not all of it
            return None
        buffer.seek(0)
        from PIL import Image

        width, height = Image.open(buffer).size
        buffer.seek(0)
        return buffer, width / MATH_DPI * 25.4, height / MATH_DPI * 25.4

    def inline(self, text: str, size: float = BODY_PT, style: str = "") -> None:
        """A run of text with inline markup and math, wrapped at the right margin."""
        for piece in INLINE.split(text):
            if not piece:
                continue
            if piece.startswith("$") and piece.endswith("$") and len(piece) > 2:
                self.inline_math(piece[1:-1], size, style)
            elif piece.startswith("**") and piece.endswith("**") and len(piece) > 4:
                self.words(piece[2:-2], size, "B")
            elif piece.startswith("`") and piece.endswith("`") and len(piece) > 2:
                self.words(piece[1:-1], size - 1, "", "Mono")
            elif piece.startswith("*") and piece.endswith("*") and len(piece) > 2:
                self.words(piece[1:-1], size, "I")
            else:
                self.words(piece, size, style)
        self.font()

    def words(self, text: str, size: float, style: str, family: str = "Body") -> None:
        self.font(style, size, family)
        self.pdf.write(LINE_MM, text.replace("\n", " "))

    def inline_math(self, tex: str, size: float, style: str) -> None:
        image = self.math_image(tex, size)
        if image is None:
            self.words(tex, size - 1, "", "Mono")
            return
        buffer, width, height = image
        pdf = self.pdf
        if height > 1.7 * LINE_MM:  # a tall formula (a fraction, a sum) gets a line of its own
            self.display_math(tex, size)
            return
        if pdf.get_x() + width + 1.2 > pdf.w - pdf.r_margin:
            pdf.ln(LINE_MM)
        x, y = pdf.get_x() + 1.0, pdf.get_y()
        pdf.image(buffer, x=x, y=y + (LINE_MM - height) / 2, w=width, h=height)
        pdf.set_xy(x + width + 0.6, y)

    def display_math(self, tex: str, size: float = BODY_PT + 1) -> None:
        rows = aligned_rows(tex)
        if rows:  # mathtext has no aligned environment: one centred formula per row
            for row in rows:
                self.display_math(row, size)
            return
        image = self.math_image(tex, size)
        pdf = self.pdf
        if pdf.get_x() > pdf.l_margin + 0.1:
            pdf.ln(LINE_MM)
        if image is None:
            self.font("", size - 1, "Mono")
            pdf.multi_cell(0, LINE_MM, tex, new_x="LMARGIN", new_y="NEXT")
            self.font()
            return
        buffer, width, height = image
        width, height = (min(width, pdf.epw), height * min(1.0, pdf.epw / width))
        if pdf.get_y() + height > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.image(buffer, x=pdf.l_margin + (pdf.epw - width) / 2, y=pdf.get_y() + 1, w=width, h=height)
        pdf.set_xy(pdf.l_margin, pdf.get_y() + height + 2)

    def markdown(self, source: str) -> None:
        """One markdown cell: blocks split on blank lines and display math."""
        pdf = self.pdf
        for block in re.split(r"(\$\$.+?\$\$)", source, flags=re.S):
            if block.startswith("$$") and block.endswith("$$") and len(block) > 4:
                self.display_math(" ".join(block[2:-2].split()))
                continue
            paragraph: list[str] = []
            for line in block.split("\n") + [""]:
                stripped = line.strip()
                heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
                item = re.match(r"^([-*+]|\d+[.)])\s+(.*)$", stripped)
                if paragraph and (not stripped or heading or item):
                    self.inline(" ".join(paragraph))
                    pdf.ln(LINE_MM + 1.5)
                    paragraph = []
                if heading:
                    level = len(heading.group(1))
                    size = {1: 17, 2: 14, 3: 12.5}.get(level, BODY_PT + 1)
                    pdf.ln(2)
                    self.inline(heading.group(2), size, "B")
                    pdf.ln(LINE_MM + 2)
                elif item:
                    marker = "•" if item.group(1) in "-*+" else item.group(1)
                    pdf.set_x(pdf.l_margin + 4)
                    self.words(marker + " ", BODY_PT, "")
                    self.inline(item.group(2))
                    pdf.ln(LINE_MM + 0.5)
                elif stripped:
                    paragraph.append(stripped)

    def code(self, source: str) -> None:
        self.font("", BODY_PT - 2, "Mono")
        self.pdf.set_fill_color(243, 243, 243)
        self.pdf.multi_cell(0, LINE_MM - 1, source, fill=True, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)
        self.font()


def notebook_to_pdf(notebook, path: Path) -> Path:
    """Write the notebook's markdown and code cells (no outputs) to ``path`` as a PDF."""
    writer = _Writer()
    for cell in notebook.cells:
        source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        if cell.cell_type == "code":
            writer.code(source)
        else:
            writer.markdown(source)
    writer.pdf.output(str(path))
    return path
