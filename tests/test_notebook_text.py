"""Student notebooks never show text that contradicts the self-checks: a cell that runs check()
runs it before the cell uses a graded name (a stub then fails with the check's message, not a bare
NotImplementedError), and check() leaves no Out[...] value."""
from __future__ import annotations

import ast
import json

import pytest
from conftest import KIT_ROOT

from autograder.suite import available_slugs, load_suite


def uses_before_check(source: str, graded: set[str]) -> list[str]:
    """Graded names called at the top level of a cell before its first check(...)."""
    tree = ast.parse(source)
    checks = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "check"]
    if not checks:
        return []
    bodies = [(n.lineno, n.end_lineno) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    return sorted({n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) in graded
                   and n.lineno < min(checks) and not any(a <= n.lineno <= b for a, b in bodies)})


@pytest.mark.parametrize("slug", available_slugs())
def test_each_cell_runs_check_before_it_uses_a_graded_name(slug):
    graded = set(load_suite(slug).graded_names)
    notebook = json.loads((KIT_ROOT / "assignments" / slug / f"{slug}.ipynb").read_text())
    late = {number: used for number, cell in enumerate(notebook["cells"], 1) if cell["cell_type"] == "code"
            for used in [uses_before_check("".join(cell["source"]), graded)] if used}
    assert not late, f"{slug}: cells call these before check(): {late}"


def test_the_scan_finds_a_call_before_check():
    assert uses_before_check('print(clean_tweet("x"))\ncheck("clean_tweet")', {"clean_tweet"}) == ["clean_tweet"]
    assert uses_before_check('check("clean_tweet")\nprint(clean_tweet("x"))', {"clean_tweet"}) == []


def test_check_returns_nothing_so_the_cell_shows_no_out_value(tmp_path, monkeypatch):
    from coursekit.testing import check

    (tmp_path / "public_tests.py").write_text(
        "from coursekit.testing import test, expect\n\n@test('f', 'returns 1', points=1)\n"
        "def returns_one(sub):\n    from coursekit.testing import call\n    expect(sub.run(call, 'f') == 1, 'f() should be 1')\n")
    monkeypatch.chdir(tmp_path)

    def f():
        return 1

    globals()["f"] = f
    assert check("f") is None
