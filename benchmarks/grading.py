"""How fast the kit grades each master, beside otter-grader's full-notebook run of the same master.

    .venv/bin/python benchmarks/grading.py               # every assignment, median of 5 runs
    .venv/bin/python benchmarks/grading.py --smoke       # foundations, 1 run (CI)

For each assignment it times, as whole commands (Python start-up and imports included):

* ``python -m autograder grade SLUG solutions/SLUG.ipynb``: the kit's grading of the master;
* ``otter run``: otter-grader 7 executing the same notebook top to bottom (smoke mode), with a
  one-question otter test, since otter's time is the notebook's execution, not its tests;
* ``python -c "import torch, os; os._exit(0)"`` (or ``torch_geometric``): the floor any grader of the
  assignment pays, the import alone (the interpreter's teardown skipped, as the kit's commands do).

Wall time is the median of the runs; peak memory is the largest resident set of any process of
the command. Writes ``benchmarks/results/grading.md`` (not in smoke mode) and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

from common import KIT_ROOT, hardware, stage_master

from autograder.suite import available_slugs, load_suite

RESULTS = KIT_ROOT / "benchmarks" / "results" / "grading.md"
MEASURE = ("import os, resource, subprocess, sys, time; "
           "cpus = os.environ.pop('KIT_BENCH_CPUS', ''); cpus and os.sched_setaffinity(0, {int(c) for c in cpus.split(',')}); "
           "start = time.monotonic(); "
           "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
           "print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")

OTTER_TEST = '''OK_FORMAT = True
test = {"name": "q1", "points": 1, "suites": [{"cases": [{"code": ">>> len(dir()) > 0\\nTrue",
        "hidden": False, "locked": False}], "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}
'''


def measure(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak MiB) of one run of ``command``; fails loudly if the command fails."""
    output = subprocess.run([sys.executable, "-c", MEASURE, *command], cwd=cwd, env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    seconds, peak_kib, code = float(output[0]), int(output[1]), int(output[2])
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {code}")
    return seconds, peak_kib / 1024


def median_of(runs: int, command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    samples = [measure(command, cwd, env) for _ in range(runs)]
    return statistics.median(s for s, _ in samples), max(m for _, m in samples)


ONE_CPU = {**os.environ, "KIT_BENCH_CPUS": str(min(os.sched_getaffinity(0)))}  # the wrapper pins itself


def kit_command(slug: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", slug, str(KIT_ROOT / "solutions" / f"{slug}.ipynb"),
            "--out", str(out)]


def otter_setup(slug: str, folder: Path) -> list[str]:
    """An otter autograder zip with the handout's helper files, and the master as a student would
    run it (with the handout's set-up cell); returns the ``otter run`` command."""
    suite = load_suite(slug)
    _, helpers = stage_master(suite, folder)
    with zipfile.ZipFile(folder / "autograder.zip", "w") as archive:
        archive.writestr("otter_config.json", json.dumps({"lang": "python"}))
        archive.writestr("tests/q1.py", OTTER_TEST)
        for name, content in helpers.items():
            archive.writestr(f"files/{name}", content)
        for extra in suite.extra_files:
            for path in (KIT_ROOT / "solutions").glob(extra):
                archive.writestr(f"files/{path.name}", path.read_bytes())
    (folder / "out").mkdir()
    otter = str(Path(sys.executable).with_name("otter"))
    return [otter, "run", "-a", str(folder / "autograder.zip"), "-o", str(folder / "out"), "--no-logo",
            str(folder / f"{slug}.ipynb")]


def benchmark(slugs: list[str], runs: int, otter_runs: int, floor: dict[str, float]) -> list[dict]:
    rows = []
    smoke_env = {**os.environ, "KIT_SMOKE": "1", "MPLBACKEND": "Agg"}
    for slug in slugs:
        with tempfile.TemporaryDirectory() as scratch:
            kit_s, kit_mb = median_of(runs, kit_command(slug, Path(scratch) / "r.json"), KIT_ROOT)
            one_cpu_s, _ = median_of(runs, kit_command(slug, Path(scratch) / "r.json"), KIT_ROOT, ONE_CPU)
            heaviest = heaviest_import(slug)
            row = {"slug": slug, "kit_s": kit_s, "kit_mb": kit_mb, "kit_one_cpu_s": one_cpu_s,
                   "floor": (heaviest, floor[heaviest])}
            if otter_runs:
                smoke_env["KIT_DATA"] = str(Path(scratch) / "data")
                command = otter_setup(slug, Path(scratch))
                row["otter_s"], row["otter_mb"] = median_of(otter_runs, command, Path(scratch), smoke_env)
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def heaviest_import(slug: str) -> str:
    """The library whose import bounds this assignment's grading from below: the last the suite
    preloads (``suite.toml``), else torch, which every grader imports."""
    preload = load_suite(slug).preload
    return preload[-1] if preload else "torch"


def floors(runs: int, slugs: list[str]) -> dict[str, float]:
    """Median wall time of a bare ``python -c "import MODULE"`` for each heaviest import of ``slugs``."""
    return {module: median_of(runs, [sys.executable, "-c", f"import {module}, os; os._exit(0)"], KIT_ROOT)[0]
            for module in sorted({heaviest_import(slug) for slug in slugs})}


def format_row(row: dict) -> str:
    otter = (f"| {row['otter_s']:.1f} s | {row['otter_mb']:.0f} MiB | {row['otter_s'] / row['kit_s']:.1f}× |"
             if "otter_s" in row else "| – | – | – |")
    module, seconds = row["floor"]
    return (f"| {row['slug']} | {row['kit_s']:.1f} s | {row['kit_one_cpu_s']:.1f} s | {row['kit_mb']:.0f} MiB "
            f"| {seconds:.1f} s (`{module}`) {otter}")


def report(rows: list[dict], runs: int, otter_runs: int) -> str:
    lines = [f"# Grading speed ({date.today().isoformat()}; {hardware()}; "
             f"median of {runs} kit runs and {otter_runs} otter runs)", "",
             "Import floor: `python -c \"import torch, os; os._exit(0)\"` (or `torch_geometric`), the import "
             "that any grader of the assignment pays, measured in the same run.", "",
             "\"kit on 1 CPU\": the same command pinned to one core (a one-CPU grading container).", "",
             "| assignment | kit grade (master) | kit on 1 CPU | kit peak | import floor | otter run (smoke) "
             "| otter peak | otter / kit |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    return "\n".join(lines + [format_row(r) for r in rows]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="default: every assignment")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--otter-runs", type=int, default=None, help="otter runs (default: --runs; 0: none)")
    parser.add_argument("--smoke", action="store_true", help="foundations, one run, nothing written (CI)")
    args = parser.parse_args()
    slugs = args.slugs or (["foundations"] if args.smoke else available_slugs())
    runs = 1 if args.smoke else args.runs
    otter_runs = runs if args.otter_runs is None else args.otter_runs
    started = time.monotonic()
    rows = benchmark(slugs, runs, otter_runs, floors(runs, slugs))
    text = report(rows, runs, otter_runs)
    print(text)
    if not args.smoke:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(KIT_ROOT)} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
