"""Extraction: from a notebook's cells to the definitions the grader runs.

SPEC.md promises that code is graded "the way Python would see it after running the notebook's
cells in order", but without re-running training loops, downloads or plots. So we keep, in
order, only the top-level statements that *define* something:

* imports;
* functions and classes;
* assignments to a graded name (``W_AND = torch.tensor([1., 1.])``);
* assignments of cheap values: literals, ``torch.device(...)`` and environment look-ups
  (``HIDDEN = 64``, ``device = torch.device("cuda" if torch.cuda.is_available() else "cpu")``,
  ``SMOKE = os.environ.get("KIT_SMOKE") == "1"``);
* ``try:`` blocks made only of the above (the usual optional-import idiom).

Everything else (loops, calls, plots, magics) is dropped. A cell that does not parse is reported
with the graded names it seems to define, so that it costs only those names.

This module is copied into every student handout as ``kit_extract.py`` (``collect_submission.py``
uses it), so it depends on the standard library only; IPython, when present, turns magics into
plain Python before parsing.
"""
from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field

CHEAP_CALLS = {"torch.device", "torch.cuda.is_available", "torch.backends.mps.is_available",
               "os.environ.get", "os.getenv"}


@dataclass(frozen=True)
class Statement:
    """One kept top-level statement: the cell it came from and its exact source lines."""

    cell: int  # 1-based index of the cell in the notebook
    first_line: int  # 1-based line of the statement inside its cell
    source: str
    names: tuple[str, ...]  # the names it binds


@dataclass(frozen=True)
class CellProblem:
    """A code cell that does not parse."""

    cell: int
    message: str
    names: tuple[str, ...]  # graded names it appears to define, now lost


@dataclass
class Extraction:
    statements: list[Statement] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)

    def defined_names(self) -> set[str]:
        return {name for statement in self.statements for name in statement.names}

    def last_definition(self, name: str) -> Statement | None:
        """The statement that Python would have bound ``name`` with last."""
        matches = [s for s in self.statements if name in s.names]
        return matches[-1] if matches else None


def code_cells(notebook: dict) -> list[tuple[int, str]]:
    """``(cell number, source)`` for every code cell, numbered as Jupyter shows them (1-based)."""
    cells = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append((number, "".join(source) if isinstance(source, list) else str(source)))
    return cells


def extract_definitions(notebook: dict, graded_names: set[str] | frozenset[str]) -> Extraction:
    """The definitions a notebook makes, in execution order."""
    extraction = Extraction()
    for number, source in code_cells(notebook):
        python = as_plain_python(source)
        try:
            tree = ast.parse(python)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as error:  # nested too deep, NUL bytes
            message = (f"{error.msg} (line {error.lineno})" if isinstance(error, SyntaxError)
                       else f"{error or 'nested too deeply to parse'}")
            extraction.problems.append(CellProblem(
                number, f"{type(error).__name__}: {message}",
                tuple(sorted(names_in_broken_cell(source) & set(graded_names)))))
            continue
        lines = python.splitlines()
        for node in tree.body:
            if is_definition(node, graded_names):
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                text = "\n".join(lines[first - 1:node.end_lineno])
                extraction.statements.append(Statement(number, first, text, tuple(bound_names(node))))
    return extraction


def as_plain_python(source: str) -> str:
    """Cell source with IPython magics (``%pip``, ``!ls``) made into plain Python or removed."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in source.splitlines())
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython could not make sense of it: let ast.parse report the error
        return source


def is_definition(node: ast.stmt, graded_names) -> bool:
    """Whether the grader keeps this top-level statement (see the module docstring)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if not names or not all(isinstance(t, (ast.Name, ast.Tuple)) for t in targets):
            return False
        return any(name in graded_names for name in names) or (node.value is not None and is_cheap(node.value))
    if isinstance(node, ast.Try):
        inner = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return all(isinstance(s, ast.Pass) or is_definition(s, graded_names) for s in inner)
    return False


def is_cheap(expr: ast.expr) -> bool:
    """Literals and expressions built from them, names and a few cheap calls."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            if dotted_name(node.func) not in CHEAP_CALLS:
                return False
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                               ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Subscript)):
            return False
    return True


def dotted_name(node: ast.expr) -> str:
    """``torch.cuda.is_available`` for the matching attribute chain, '' otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def bound_names(node: ast.stmt) -> list[str]:
    """The top-level names a kept statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, ast.Try):
        inner = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return [name for s in inner for name in bound_names(s)]
    return []


_DEFINES = re.compile(r"^(?:async\s+def|def|class)\s+(\w+)|^(\w+)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


def names_in_broken_cell(source: str) -> set[str]:
    """Names a cell that does not parse seems to define at top level (a best guess for messages)."""
    return {a or b for a, b in _DEFINES.findall(source)}


def is_stub(statement: Statement) -> bool:
    """Whether a definition is still the handed-out stub (raises NotImplementedError or is None)."""
    tree = ast.parse(statement.source)
    node = tree.body[0] if tree.body else None
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return isinstance(node.value, ast.Constant) and node.value.value in (None, Ellipsis)
    for inner in ast.walk(tree):
        if isinstance(inner, ast.Raise) and inner.exc is not None:
            exc = inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def code_fingerprint(notebook: dict) -> str:
    """A hash of the code cells' text only: equal for a stub that was merely opened and saved."""
    code = "\n#cell\n".join(source for _, source in code_cells(notebook))
    return hashlib.sha256(code.encode()).hexdigest()
