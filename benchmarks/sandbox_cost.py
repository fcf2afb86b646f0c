"""What the sandbox costs: each master graded in the strongest box this machine allows, and in the
weakest (resource limits and a change of uid only), alternating, in one process.

    .venv/bin/python benchmarks/sandbox_cost.py              # every assignment, 7 gradings each way
    .venv/bin/python benchmarks/sandbox_cost.py --against a31f1d6
                       # and whole `grade` commands of this tree beside those of an older commit

Issue 16 asked that the box (PID, mount, network, IPC and UTS namespaces, a fresh root, seccomp)
keep grading within 10 % of what it cost before. Whole commands move by more than that between
runs on a shared machine, so the box is measured where nothing else differs: the same grader,
the same submission, the same process, the probe that decides the box run again each time
(``containment._probed`` cleared), only the box changed. ``--against REV`` adds the comparison
with an older commit's whole ``grade`` commands (its own tests, so its scores differ), alternating
with this tree's, in a temporary git worktree.

Writes ``benchmarks/results/sandbox-cost.md`` and prints the table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import KIT_ROOT, hardware, load_average

from autograder import containment, grade
from autograder.suite import available_slugs, load_suite

RESULTS = KIT_ROOT / "benchmarks" / "results" / "sandbox-cost.md"


def weakest_box(kit_root: Path, user: str | None = None) -> containment.Box:
    """The box any Linux allows, as ``plan_box`` falls back to it: no namespaces, no seccomp; the
    limits stay, and the change of uid where that uid can reach Python."""
    return containment.candidate_boxes(kit_root, user)[-1]


PLAN_BOX = containment.plan_box


def graded(slug: str, boxed: bool) -> tuple[float, float]:
    """(seconds, score) of one in-process grading of the master, in the planned or the weakest box."""
    containment._probed.clear()  # the probe is part of what the box costs
    containment.plan_box = PLAN_BOX if boxed else weakest_box
    try:
        suite = load_suite(slug)
        started = time.monotonic()
        document = grade.grade_submission(suite, suite.master_path)
        return time.monotonic() - started, document["score"]
    finally:
        containment.plan_box = PLAN_BOX


def box_rows(slugs: list[str], runs: int) -> list[dict]:
    rows = []
    for slug in slugs:
        graded(slug, True)  # warm-up: first imports of the tests
        samples: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(runs):
            scores = {}
            for boxed in (True, False):
                seconds, scores[boxed] = graded(slug, boxed)
                samples[boxed].append(seconds)
            if scores[True] != scores[False]:  # a box that breaks the master would look cheap
                raise RuntimeError(f"{slug}: the master scored {scores[True]} in the box, {scores[False]} without")
        boxed_s, weak_s = statistics.median(samples[True]), statistics.median(samples[False])
        command_s = statistics.median(command_seconds(KIT_ROOT, slug) for _ in range(runs))
        rows.append({"slug": slug, "boxed": boxed_s, "weak": weak_s, "command": command_s})
        print(f"{slug}: boxed {boxed_s:.3f} s, weakest {weak_s:.3f} s, whole command {command_s:.2f} s", flush=True)
    return rows


def command_seconds(tree: Path, slug: str) -> float:
    """Wall time of one ``python -m autograder grade`` of the master in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as scratch:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "autograder", "grade", slug, f"solutions/{slug}.ipynb",
                        "--out", str(Path(scratch) / "results.json")], cwd=tree, env=env, check=True, capture_output=True)
        return time.monotonic() - started


def against_rows(revision: str, slugs: list[str], runs: int) -> list[dict]:
    """Whole ``grade`` commands: this tree against ``revision``, alternating."""
    with tempfile.TemporaryDirectory() as scratch:
        old = Path(scratch) / "old"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), revision], cwd=KIT_ROOT, check=True)
        try:
            rows = []
            for slug in slugs:
                samples: dict[str, list[float]] = {"now": [], "old": []}
                for _ in range(runs):
                    samples["old"].append(command_seconds(old, slug))
                    samples["now"].append(command_seconds(KIT_ROOT, slug))
                rows.append({"slug": slug, "old": statistics.median(samples["old"]),
                             "now": statistics.median(samples["now"])})
                print(f"{slug}: {revision} {rows[-1]['old']:.2f} s, now {rows[-1]['now']:.2f} s", flush=True)
            return rows
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=KIT_ROOT, check=False)


def report(rows: list[dict], runs: int, against: tuple[str, list[dict]] | None, load: str) -> str:
    box = PLAN_BOX(KIT_ROOT)
    lines = [f"# What the sandbox costs ({date.today().isoformat()}; {hardware()}; median of {runs})", "",
             f"Load (`uptime`) {load}.", "",
             f"Box here: {box.describe()}.", "",
             "In-process gradings of each master (`grade_submission`, imports already paid), alternating the "
             "box this machine gives with the weakest one (limits and the change of uid only); the probe that "
             "chooses the box is run again for each grading.", "",
             "\"whole grade\": the median `python -m autograder grade` command of the master (Python start-up "
             "and imports included), in which the box's cost is a share of what the grader pays.", "",
             "| assignment | strongest box | weakest box | box's cost | whole grade | box's cost / whole grade |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['slug']} | {r['boxed']:.3f} s | {r['weak']:.3f} s | {r['boxed'] - r['weak']:+.3f} s "
              f"| {r['command']:.2f} s | {100 * (r['boxed'] - r['weak']) / r['command']:+.1f} % |" for r in rows]
    if against:
        revision, old_rows = against
        lines += ["", f"Whole `python -m autograder grade` commands (Python start-up and imports included) of this "
                  f"tree against commit {revision}, alternating. The older commit grades with its own tests, so "
                  "the difference also holds every test added since, not only the sandbox.", "",
                  f"| assignment | {revision} | now | difference |", "| --- | --- | --- | --- |"]
        lines += [f"| {r['slug']} | {r['old']:.2f} s | {r['now']:.2f} s | {100 * (r['now'] / r['old'] - 1):+.0f} % |"
                  for r in old_rows]
    return "\n".join(lines) + "\n"


def with_seeded_hashing() -> None:
    """The grader serves a submission's first child from a fork only when string hashing is
    seeded, as ``python -m autograder`` arranges: otherwise run this script again so."""
    if sys.flags.hash_randomization:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="default: every assignment")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="also time whole grade commands against this commit")
    parser.add_argument("--no-write", action="store_true", help="print only (CI)")
    args = parser.parse_args()
    with_seeded_hashing()
    slugs = args.slugs or available_slugs()
    before = load_average()
    rows = box_rows(slugs, args.runs)
    against = (args.against, against_rows(args.against, slugs, args.runs)) if args.against else None
    after = load_average()
    text = report(rows, args.runs, against, f"{before} before, {after} after")
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(KIT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
