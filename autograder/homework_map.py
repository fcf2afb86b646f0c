"""Where each homework question lives: ``solutions/homework_map.toml``, read for the release.

The table maps every question of the homework documents the kit reproduces to the graded names and
written questions that answer it, with the document's own points; ``grading.md`` shows those beside
the kit's, so an instructor sees how the defaults were set (tests/test_homework_fidelity.py keeps the
table honest).
"""
from __future__ import annotations

import tomllib

from autograder.suite import KIT_ROOT, Suite

TABLE_PATH = KIT_ROOT / "solutions" / "homework_map.toml"


def questions_of(slug: str) -> list[dict]:
    """The table's rows for one assignment, in the table's order (none when there is no table)."""
    if not TABLE_PATH.exists():
        return []
    return [row for row in tomllib.loads(TABLE_PATH.read_text()).get("question", []) if row["slug"] == slug]


def homework_points_table(suite: Suite, auto_points: dict[str, float], written_points: dict[str, float]) -> list[str]:
    """Markdown lines: each homework question of ``suite``, its document points and the kit's."""
    rows = questions_of(suite.slug)
    if not rows:
        return []
    lines = ["", "## The homework's points and the kit's", "",
             "| question | in the document | here | answered by |", "| --- | --- | --- | --- |"]
    for row in rows:
        names = row.get("graded", []) + row.get("written", [])
        here = sum(auto_points.get(n, 0.0) for n in row.get("graded", [])) + \
            sum(written_points.get(n, 0.0) for n in row.get("written", []))
        status = "" if row["status"] == "reproduced" else f" ({row['status']})"
        lines.append(f"| {row['source']}{status} | {row['document_points']} | {here:g} | {', '.join(names)} |")
    lines += ["", "A name that answers two documents' versions of a question is counted in each row."]
    return lines
