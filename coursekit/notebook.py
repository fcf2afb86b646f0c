"""Extraction: from a notebook's cells to the definitions the grader runs.

SPEC.md promises that code is graded "the way Python would see it after running the notebook's
cells in order", but without re-running training loops, downloads or plots. So we keep, in
order, only the top-level statements that *define* something:

* imports of the names the kept statements read (an import nothing kept reads, such as
  ``matplotlib.pyplot`` for the plots, is left out with the plots: see ``needed_imports``);
* functions and classes;
* assignments to a graded name (``W_AND = torch.tensor([1., 1.])``);
* assignments of cheap values: literals, ``torch.device(...)`` and environment look-ups
  (``HIDDEN = 64``, ``device = torch.device("cuda" if torch.cuda.is_available() else "cpu")``,
  ``SMOKE = os.environ.get("KIT_SMOKE") == "1"``);
* ``try:`` blocks made only of the above (the usual optional-import idiom);
* the top-level state those definitions use: an assignment such as ``criterion = nn.BCEWithLogitsLoss()``
  or ``vocab = build_vocab(words)`` is kept when a kept definition reads the name it binds (and, in
  turn, what that assignment reads). Such statements are marked ``state``: the grader runs them under
  the same per-statement time budget, and a name whose state did not build says which statement it was.

Everything else (loops, calls, plots, magics) is dropped. A cell that does not parse is reported
with the graded names it seems to define, so that it costs only those names.

It is part of the student runtime (``collect_submission.py`` uses it before the student uploads),
so it depends on the standard library only; IPython, when present, turns magics into
plain Python before parsing.
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import re
from dataclasses import dataclass, field
from types import CodeType

CHEAP_CALLS = {"torch.device", "torch.cuda.is_available", "torch.backends.mps.is_available",
               "os.environ.get", "os.getenv"}


@dataclass(frozen=True)
class Statement:
    """One kept top-level statement: the cell it came from and its exact source lines."""

    cell: int  # 1-based index of the cell in the notebook
    first_line: int  # 1-based line of the statement inside its cell
    source: str
    names: tuple[str, ...]  # the names it binds
    state: bool = False  # top-level state kept because a definition reads it (not a definition itself)


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
    # graded name -> {global it reads: the cell of the statement the grader does not run that binds
    # it, or None when nothing in the notebook does}: what the grader will not be able to build
    unbuildable: dict[str, dict[str, int | None]] = field(default_factory=dict)

    def defined_names(self) -> set[str]:
        return {name for statement in self.statements for name in statement.names}

    def last_definition(self, name: str) -> Statement | None:
        """The statement that Python would have bound ``name`` with last."""
        matches = [s for s in self.statements if name in s.names]
        return matches[-1] if matches else None

    def why_undefined(self, name: str, load_errors: dict[int, str]) -> str:
        """Why ``name`` is not defined after loading, given each failed statement's error (by index):
        the broken cell or the failed statement. The grader and ``check()`` say the same."""
        for problem in self.problems:
            if name in problem.names:
                return f": cell {problem.cell} does not parse ({problem.message})"
        statement = self.last_definition(name)
        if statement is None:
            return " in the notebook (check the spelling, and that the cell is a code cell)"
        error = load_errors.get(self.statements.index(statement))
        if error is None:
            return f": its definition in cell {statement.cell} did not finish loading"
        if error.startswith("left out because"):
            return f": its definition in cell {statement.cell} was {error}"
        return f": its definition in cell {statement.cell} failed ({error})"

    def explain_name_error(self, message: str, load_errors: dict[int, str]) -> str:
        """For ``NameError: name 'vocab' is not defined``: where the notebook builds ``vocab`` at top
        level and why that statement did not build it, with what to do instead ('' otherwise)."""
        found = re.search(r"name '(\w+)' is not defined", message)
        if not found:
            return ""
        name = found.group(1)
        for index in range(len(self.statements) - 1, -1, -1):
            statement = self.statements[index]
            if name in statement.names and statement.state and index in load_errors:
                why = load_errors[index]
                how = why[len("left out because "):] if why.startswith("left out because ") else f"failed: {why}"
                return (f"; `{name}` is built at top level in cell {statement.cell} (line {statement.first_line}) "
                        f"by a statement that did not finish here ({how}); build it inside the function that "
                        f"uses it, or save it with your files and load it there")
        return ""


def compile_statement(source: str, cell: int, first_line: int) -> CodeType:
    """A kept statement compiled as ``<cell N>`` with the cell's own line numbers, so tracebacks
    point where the student looks (the grader's sandbox and ``check()`` both run statements so)."""
    return at_line(compile(source, f"<cell {cell}>", "exec"), first_line - 1)


def at_line(code: CodeType, offset: int) -> CodeType:
    """``code`` with its line numbers moved down by ``offset`` (padding the source with newlines
    instead costs time quadratic in the cell)."""
    if offset == 0:
        return code
    consts = tuple(at_line(c, offset) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + offset, co_consts=consts)


def code_cells(notebook: dict) -> list[tuple[int, str]]:
    """``(cell number, source)`` for every code cell, numbered as Jupyter shows them (1-based)."""
    cells = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append((number, "".join(source) if isinstance(source, list) else str(source)))
    return cells


def extract_definitions(notebook: dict, graded_names: set[str] | frozenset[str]) -> Extraction:
    """The definitions a notebook makes, and the top-level state they read, in execution order."""
    extraction = Extraction()
    parsed: list[tuple[Statement, ast.stmt]] = []  # every top-level statement, in notebook order
    for number, source in code_cells(notebook):
        try:
            python, tree = parse_cell(source)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
            message = (f"{type(error).__name__}: {error.msg} (line {error.lineno})" if isinstance(error, SyntaxError)
                       else f"{type(error).__name__}: the cell is too large or too deeply nested to read")
            extraction.problems.append(CellProblem(
                number, message, tuple(sorted(names_in_broken_cell(source) & set(graded_names)))))
            continue
        lines = python.splitlines()
        for node in tree.body:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            text = "\n".join(lines[first - 1:node.end_lineno])
            parsed.append((Statement(number, first, text, tuple(bound_names(node))), node))
    definitions = {i for i, (_, node) in enumerate(parsed) if is_definition(node, graded_names)}
    imports = {i for i in definitions if isinstance(parsed[i][1], IMPORT_NODES)}
    state, extraction.unbuildable = state_statements(parsed, definitions, graded_names)
    kept = (definitions - imports) | needed_imports(parsed, imports, (definitions - imports) | state)
    for i, (statement, _) in enumerate(parsed):
        if i in kept:
            extraction.statements.append(statement)
        elif i in state:
            extraction.statements.append(Statement(statement.cell, statement.first_line, statement.source,
                                                   statement.names, state=True))
    return extraction


STATE_NODES = (ast.Assign, ast.AnnAssign, ast.AugAssign)
IMPORT_NODES = (ast.Import, ast.ImportFrom)


def needed_imports(parsed: list[tuple[Statement, ast.stmt]], imports: set[int], runs: set[int]) -> set[int]:
    """The top-level imports the grader runs: those that bind a name some statement it runs reads
    (anywhere in it, function bodies included), or a package whose submodule they load; star and
    ``__future__`` imports, whose effect cannot be told from their names, always.

    An import that nothing kept reads (``matplotlib.pyplot`` for the plots, ``tqdm`` for a training
    loop) is left out, as the plots and loops themselves are: it would cost its import time in every
    grading, and fail grading where the library is not installed, for nothing that is graded."""
    read = set().union(*(read_names(parsed[i][1]) for i in runs))
    return {i for i in imports if has_unknown_effect(parsed[i][1]) or not read.isdisjoint(import_reach(parsed[i][1]))}


def has_unknown_effect(node: ast.Import | ast.ImportFrom) -> bool:
    """A star import binds names no one can list; a ``__future__`` import changes how code compiles."""
    return isinstance(node, ast.ImportFrom) and (node.module == "__future__" or any(a.name == "*" for a in node.names))


def import_reach(node: ast.Import | ast.ImportFrom) -> set[str]:
    """Names through which an import can matter: the names it binds, and the top-level package of
    every module it loads (``import torch.nn.functional as F`` also makes ``torch.nn.functional``
    reachable as an attribute of ``torch``)."""
    if isinstance(node, ast.ImportFrom):
        packages = {node.module.split(".")[0]} if node.module and not node.level else set()
        return packages | {alias.asname or alias.name for alias in node.names}
    return {name for alias in node.names for name in (alias.asname or alias.name.split(".")[0], alias.name.split(".")[0])}


def state_statements(parsed: list[tuple[Statement, ast.stmt]], kept: set[int], graded_names):
    """Indices of the dropped top-level assignments that the graded names read, directly or through
    the other definitions they use (training loops and plots that no graded name reaches stay out),
    and, per graded name, the globals it reads that no kept statement can bind (see ``Extraction``).

    A function reads its globals when it is called, after every cell has run, so a name it reads is
    bound by the notebook's *last* assignment to it; a top-level assignment reads its names when it
    runs, so by the last assignment *before* it."""
    state: set[int] = set()
    unbuildable: dict[str, dict[str, int | None]] = {}
    for graded_name in sorted(graded_names):
        root = last_binder(parsed, graded_name, len(parsed))
        if root is None or root not in kept:
            continue
        visited = {root}
        wanted = [(root, name) for name in read_names(parsed[root][1])]
        while wanted:
            reader, name = wanted.pop()
            before = len(parsed) if isinstance(parsed[reader][1], DEFERRED_NODES) else reader
            binder = last_binder(parsed, name, before)
            if binder is None or (binder not in kept and not isinstance(parsed[binder][1], STATE_NODES)):
                if name not in NOTEBOOK_NAMES and not (binder is None and last_binder(parsed, name, len(parsed))):
                    setter = binder if binder is not None else last_setter(parsed, name, before)
                    unbuildable.setdefault(graded_name, {})[name] = parsed[setter][0].cell if setter is not None else None
                continue
            if binder in visited:
                continue
            if binder not in kept:
                state.add(binder)
            visited.add(binder)
            wanted += [(binder, read) for read in read_names(parsed[binder][1])]
    return state, unbuildable


NOTEBOOK_NAMES = {"In", "Out", "get_ipython", "display", "exit", "quit"}  # provided by IPython


DEFERRED_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def last_binder(parsed: list[tuple[Statement, ast.stmt]], name: str, before: int) -> int | None:
    """The index of the last top-level statement before ``before`` that binds ``name``."""
    for i in range(before - 1, -1, -1):
        if name in parsed[i][0].names:
            return i
    return None


def last_setter(parsed: list[tuple[Statement, ast.stmt]], name: str, before: int) -> int | None:
    """The last top-level statement before ``before`` that sets ``name`` anywhere in its body (a loop,
    a with block...), outside the functions and classes it defines."""
    for i in range(before - 1, -1, -1):
        node = parsed[i][1]
        if isinstance(node, DEFERRED_NODES):
            continue
        if any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == name for n in ast.walk(node)):
            return i
    return None


def read_names(node: ast.stmt) -> set[str]:
    """Global names a statement reads: for a function or class, the names its body loads that it
    does not bind itself (nor are builtins); for an assignment, those of its value."""
    if isinstance(node, STATE_NODES):
        value = node.value if node.value is not None else ast.Constant(None)
        loads = {n.id for n in ast.walk(value) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            loads.add(node.target.id)
        return loads - set(dir(builtins))
    if not isinstance(node, DEFERRED_NODES):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - set(dir(builtins))
    loads, local = set(), set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            (loads if isinstance(inner.ctx, ast.Load) else local).add(inner.id)
        elif isinstance(inner, ast.arg):
            local.add(inner.arg)
        elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and inner is not node:
            local.add(inner.name)
        elif isinstance(inner, (ast.Import, ast.ImportFrom)):
            local.update((a.asname or a.name).split(".")[0] for a in inner.names)
    return loads - local - set(dir(builtins))


def parse_cell(source: str) -> tuple[str, ast.Module]:
    """The cell as plain Python, and its syntax tree; raises what ``ast.parse`` raises.

    IPython magics (``%pip``, ``!ls``) are made into plain Python or removed. Most cells are plain
    Python already, and a cell whose only magics are whole-line ``%`` and ``!`` commands becomes
    plain Python by blanking those lines (IPython would make each a call, which the grader does
    not keep either). Only the rest (``%%`` cell magics, ``x = !ls``, ``obj?``) goes through
    IPython's own transformer, whose import costs about a fifth of a second per grading."""
    try:
        return source, ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    if not source.lstrip().startswith("%%"):
        blanked = without_magic_lines(source)
        try:
            return blanked, ast.parse(blanked)
        except (SyntaxError, ValueError):
            pass
    python = as_plain_python(source)
    return python, ast.parse(python)


def without_magic_lines(source: str) -> str:
    """The source with every line that starts with ``%`` or ``!`` blanked (line numbers kept)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def as_plain_python(source: str) -> str:
    """Cell source with IPython's transformer applied (magic lines blanked where IPython is missing)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return without_magic_lines(source)
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
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Store)]
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
