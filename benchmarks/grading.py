"""How fast the kit grades each master, beside otter-grader's full-notebook run of the same master.

    .venv/bin/python benchmarks/grading.py               # every assignment, median of 5 runs
    .venv/bin/python benchmarks/grading.py --smoke       # foundations, 1 run (CI)
    .venv/bin/python benchmarks/grading.py --otter-full --data ../shared/data --full-budget 3
                                                         # and otter running each master for real

For each assignment it times, as whole commands (Python start-up and imports included):

* ``python -m autograder grade SLUG solutions/SLUG.ipynb``: the kit's grading of the master;
* ``otter run``: otter-grader 7 executing the same notebook top to bottom (smoke mode), with a
  one-question otter test, since otter's time is the notebook's execution, not its tests;
* ``python -c "import torch, os; os._exit(0)"`` (or ``torch_geometric``): the floor any grader of the
  assignment pays, the import alone (the interpreter's teardown skipped, as the kit's commands do);
* the same for every library the master's graded cells import at top level (``matplotlib.pyplot``
  beside torch, say): what running the notebook's own imports costs, whoever runs them;
* with ``--otter-full``: ``otter run`` executing the master in full mode, its real training on the
  real data sets under ``--data`` (``KIT_SMOKE`` unset; ``--full-budget MINUTES`` of training per
  master through ``KIT_TRAIN_MINUTES``, as ``benchmarks/reference.py --budget`` does), once: the
  comparison an instructor grading with otter, which runs every notebook top to bottom, would make.

Wall time is the median of the runs; peak memory is the largest resident set of any process of
the command. Writes ``benchmarks/results/grading.md`` (not in smoke mode) and prints the table.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from common import KIT_ROOT, hardware, load_average, stage_master

from autograder.suite import available_slugs, load_suite
from coursekit.budget import VARIABLE as BUDGET_VARIABLE
from coursekit.notebook import extract_definitions

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


def otter_setup(slug: str, folder: Path, debug: bool = False) -> list[str]:
    """An otter autograder zip with the handout's helper files, and the master as a student would
    run it (with the handout's set-up cell); returns the ``otter run`` command. With ``debug``,
    an error in the notebook fails the command (otter otherwise records it and goes on)."""
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
            *(["--debug"] if debug else []), str(folder / f"{slug}.ipynb")]


def benchmark(slugs: list[str], runs: int, otter_runs: int, floor: dict[str, float],
              full: FullMode | None = None) -> list[dict]:
    rows = []
    smoke_env = {**os.environ, "KIT_SMOKE": "1", "MPLBACKEND": "Agg"}
    for slug in slugs:
        with tempfile.TemporaryDirectory() as scratch:
            kit_s, kit_mb = median_of(runs, kit_command(slug, Path(scratch) / "r.json"), KIT_ROOT)
            one_cpu_s, _ = median_of(runs, kit_command(slug, Path(scratch) / "r.json"), KIT_ROOT, ONE_CPU)
            heaviest, imports = heaviest_import(slug), notebook_imports(slug)
            row = {"slug": slug, "kit_s": kit_s, "kit_mb": kit_mb, "kit_one_cpu_s": one_cpu_s,
                   "floor": (heaviest, floor[heaviest]), "imports": (imports, floor[imports])}
            if otter_runs:
                smoke_env["KIT_DATA"] = str(Path(scratch) / "data")
                command = otter_setup(slug, Path(scratch) / "smoke")
                row["otter_s"], row["otter_mb"] = median_of(otter_runs, command, Path(scratch) / "smoke", smoke_env)
            if full:
                command = otter_setup(slug, Path(scratch) / "full", debug=True)
                row["full_s"], row["full_mb"] = measure(command, Path(scratch) / "full", full.env())
        rows.append(row)
        print(format_row(row, full), flush=True)
    return rows


@dataclass(frozen=True)
class FullMode:
    """``--otter-full``: the masters run for real, on the real data, with a training budget."""

    data: Path
    budget_minutes: float | None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("KIT_SMOKE", BUDGET_VARIABLE)}
        env |= {"KIT_DATA": str(self.data), "MPLBACKEND": "Agg"}
        if self.budget_minutes:
            env[BUDGET_VARIABLE] = f"{self.budget_minutes:g}"
        return env

    def label(self) -> str:
        budget = f"{self.budget_minutes:g} min of training" if self.budget_minutes else "no training budget"
        return f"otter run (full, real data, {budget})"


def notebook_imports(slug: str) -> str:
    """The libraries the master's kept cells import at top level, outside the standard library and
    the handout's own files, as one ``import`` list: e.g. ``torch, matplotlib.pyplot``."""
    suite = load_suite(slug)
    local = {Path(name).with_suffix("").parts[0] for name in suite.helper_files()} | {"coursekit"}
    extraction = extract_definitions(json.loads(suite.master_path.read_text()), set(suite.graded_names))
    modules: list[str] = []
    for statement in extraction.statements:
        for node in ast.walk(ast.parse(statement.source)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            modules += [n for n in names if n.split(".")[0] not in sys.stdlib_module_names | local]
    unique = [m for m in dict.fromkeys(modules) if not any(o != m and o.startswith(m + ".") for o in modules)]
    return ", ".join(unique or ["torch"])


def heaviest_import(slug: str) -> str:
    """The library whose import bounds this assignment's grading from below: the last the suite
    preloads (``suite.toml``), else torch, which every grader imports."""
    preload = load_suite(slug).preload
    return preload[-1] if preload else "torch"


def floors(runs: int, slugs: list[str]) -> dict[str, float]:
    """Median wall time of a bare ``python -c "import MODULES"`` for each heaviest import of ``slugs``
    and each master's own list of imports."""
    wanted = {heaviest_import(slug) for slug in slugs} | {notebook_imports(slug) for slug in slugs}
    return {modules: median_of(runs, [sys.executable, "-c", f"import {modules}, os; os._exit(0)"], KIT_ROOT)[0]
            for modules in sorted(wanted)}


def format_row(row: dict, full: FullMode | None = None) -> str:
    otter = (f"| {row['otter_s']:.1f} s | {row['otter_mb']:.0f} MiB | {row['otter_s'] / row['kit_s']:.1f}× |"
             if "otter_s" in row else "| – | – | – |")
    if full:
        otter += f" {row['full_s']:.0f} s | {row['full_mb']:.0f} MiB | {row['full_s'] / row['kit_s']:.0f}× |"
    module, seconds = row["floor"]
    imports, import_s = row["imports"]
    return (f"| {row['slug']} | {row['kit_s']:.1f} s | {row['kit_one_cpu_s']:.1f} s | {row['kit_mb']:.0f} MiB "
            f"| {seconds:.1f} s (`{module}`) | {row['kit_s'] / seconds:.2f}× | {import_s:.1f} s (`{imports}`) "
            f"| {row['kit_s'] / import_s:.2f}× {otter}")


def report(rows: list[dict], runs: int, otter_runs: int, full: FullMode | None, load: str) -> str:
    lines = [f"# Grading speed ({date.today().isoformat()}; {hardware()}; "
             f"median of {runs} kit runs and {otter_runs} otter runs)", "",
             f"Load (`uptime`: 1, 5 and 15-minute averages) {load}.", "",
             "Import floor: `python -c \"import torch, os; os._exit(0)\"` (or `torch_geometric`), the import "
             "that any grader of the assignment pays, measured in the same run. Notebook's imports: the same "
             "for every library the master's graded cells import at top level (what running the notebook "
             "costs before any of its own code). \"kit / floor\": the grade's time over that floor.", "",
             "\"kit on 1 CPU\": the same command pinned to one core (a one-CPU grading container).", ""]
    header = ("| assignment | kit grade (master) | kit on 1 CPU | kit peak | import floor | kit / floor "
              "| notebook's imports | kit / imports | otter run (smoke) | otter peak | otter / kit |")
    rule = "| --- " * 11 + "|"
    if full:
        lines += [f"{full.label()}: `otter run --debug` executing the master top to bottom with `KIT_SMOKE` unset "
                  "on the real data sets, once per master.", ""]
        header += f" {full.label()} | its peak | full otter / kit |"
        rule += " --- | --- | --- |"
    return "\n".join(lines + [header, rule] + [format_row(r, full) for r in rows]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="default: every assignment")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--otter-runs", type=int, default=None, help="otter runs (default: --runs; 0: none)")
    parser.add_argument("--smoke", action="store_true", help="foundations, one run, nothing written (CI)")
    parser.add_argument("--otter-full", action="store_true",
                        help="also time otter running each master in full mode on the real data (once each)")
    parser.add_argument("--data", type=Path, default=None, help="the real data sets (default: $KIT_DATA)")
    parser.add_argument("--full-budget", type=float, default=None, metavar="MINUTES",
                        help="with --otter-full: minutes of training per master (default: none, full training)")
    args = parser.parse_args()
    full = full_mode(args)
    slugs = args.slugs or (["foundations"] if args.smoke else available_slugs())
    runs = 1 if args.smoke else args.runs
    otter_runs = runs if args.otter_runs is None else args.otter_runs
    started, load_before = time.monotonic(), load_average()
    rows = benchmark(slugs, runs, otter_runs, floors(runs, slugs), full)
    text = report(rows, runs, otter_runs, full, f"{load_before} before, {load_average()} after")
    print(text)
    if not args.smoke:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(KIT_ROOT)} in {time.monotonic() - started:.0f} s")
    return 0


def full_mode(args) -> FullMode | None:
    """The --otter-full settings; exits with one line when the real data sets are not there."""
    if not args.otter_full:
        return None
    data = args.data or (Path(os.environ["KIT_DATA"]) if os.environ.get("KIT_DATA") else None)
    if data is None or not data.is_dir():
        sys.exit(f"--otter-full runs the masters on the real data sets: point --data (or KIT_DATA) at them "
                 f"(got {data or 'nothing'})")
    return FullMode(data.resolve(), args.full_budget)


if __name__ == "__main__":
    sys.exit(main())
