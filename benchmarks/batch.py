"""How ``grade-batch`` scales: a generated class, graded by each backend with 1 and 2 workers.

    .venv/bin/python benchmarks/batch.py --count 300                  # what the README reports
    .venv/bin/python benchmarks/batch.py --count 40 --backends pool --workers 2
    .venv/bin/python benchmarks/batch.py --count 300 --process-count 60  # the slow backend on a slice
    .venv/bin/python benchmarks/batch.py --count 100 --without-hangs --backends pool \
        --results benchmarks/results/batch-typical.md                    # typical submissions only

The class is generated from the foundations master in realistic proportions (``CLASS_MIX``, per 20
students): full-credit submissions (the zip collect_submission.py makes, and a bare notebook with
alternative correct code), partial ones with realistic bugs, broken ones (a notebook saved half-way),
untouched stubs (a folder, as a Gradescope export holds) and hanging ones (a graded function that
loops forever on tensor input, so the sandbox's per-call limit, 10 s here, has to stop it). Every
student's expected score is computed independently, in-process, by ``tests/variants.py``; the
benchmark fails if any gradebook row differs from it.

Backends (``grade-batch --backend``): ``pool``, warm workers that import torch once; ``process``,
one ``python -m autograder grade`` per submission (imports every time; it may run on the first
``--process-count`` students only, as it is slow); ``dask``, a local Dask cluster of ``workers``
processes. Reported: wall time, submissions per second per core (workers = cores used), the machine's
load (``uptime``) before each run, and the median time the grader itself spent on a non-hanging
submission. Writes ``benchmarks/results/batch.md`` (or ``--results``) unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, load_average  # noqa: E402  (benchmarks/common.py, beside this script)
SLUG = "foundations"
RESULTS = KIT_ROOT / "benchmarks" / "results" / "batch.md"

ALTERNATIVE = '''
def spectral_radius(W):
    return max(abs(complex(v)) for v in torch.linalg.eigvals(W).tolist())

def hidden_state(W, h0, t):
    h = h0.clone()
    for _ in range(t):
        h = W.T @ h
    return h
'''
BUGS = [
    "def spectral_radius(W):\n    return float(torch.linalg.eigvals(W).real.max())",
    "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W, t) @ h0",
    "def xor_network(x):\n    return int(x[0] + x[1] >= 1)",
    "def self_attention_plain(X):\n    return torch.softmax(X @ X.T / X.shape[1] ** 0.5, dim=-1) @ X",
    "W_AND = torch.tensor([1.0, 1.0]); b_AND = -0.5\nb_OR = [-0.5, -0.5]",
]
# Hangs on tensor input (the hidden test passes tensors): only the sandbox's timeout ends it.
HANG = '''
def xor_network(x):
    if isinstance(x, torch.Tensor):
        while True:
            pass
    return int(int(x[0]) != int(x[1]))
'''
# What the hanging submission scores once the timeout has failed that call: as if it raised there.
HANG_EQUIVALENT = HANG.replace("while True:\n            pass", "raise RuntimeError('timed out')")


def _master():
    import nbformat

    return nbformat.read(str(KIT_ROOT / "solutions" / f"{SLUG}.ipynb"), as_version=4)


def _notebook_text(replacement: str) -> str:
    """The master with ``replacement`` appended as a student's later cell (a later definition wins)."""
    import nbformat

    notebook = _master()
    if replacement:
        notebook.cells.append(nbformat.v4.new_code_cell(replacement))
    return nbformat.writes(notebook)


def _zip(path: Path, notebook_text: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{SLUG}.ipynb", notebook_text)


# Per 20 students: 9 full (7 zips, 2 notebooks with alternative code), 7 partial, 1 broken file,
# 2 untouched stubs, 1 hanging. Spread out, so that a slice of the class has the same mix.
CLASS_MIX = ["full_zip", "partial", "full_zip", "stub", "partial", "full_alt", "full_zip", "partial", "broken_json",
             "full_zip", "partial", "hang", "full_zip", "partial", "full_alt", "stub", "partial", "full_zip",
             "partial", "full_zip"]


def write_mix(folder: Path, count: int = 40, kinds: list[str] = CLASS_MIX) -> dict[str, float]:
    """Write ``count`` submissions into ``folder``, cycling through ``kinds``; return
    ``{student id: expected score}``."""
    for path in (str(KIT_ROOT), str(KIT_ROOT / "tests")):
        if path not in sys.path:
            sys.path.insert(0, path)
    from variants import scores

    def total(replacement: str) -> float:
        if replacement not in cache:
            cache[replacement] = round(sum(got for got, _ in scores(SLUG, replacement).values()), 4)  # as results.json rounds
        return cache[replacement]

    cache: dict[str, float] = {}
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for index in range(count):
        kind, sid = kinds[index % len(kinds)], f"s{index:03d}"
        if kind == "full_zip":
            _zip(folder / f"{sid}.zip", _notebook_text(""))
            expected[sid] = total("")
        elif kind == "full_alt":
            (folder / f"{sid}.ipynb").write_text(_notebook_text(ALTERNATIVE))
            expected[sid] = total(ALTERNATIVE)
        elif kind == "partial":
            bug = BUGS[index % len(BUGS)]
            _zip(folder / f"{sid}.zip", _notebook_text(bug))
            expected[sid] = total(bug)
        elif kind == "hang":
            _zip(folder / f"{sid}.zip", _notebook_text(HANG))
            expected[sid] = total(HANG_EQUIVALENT)
        elif kind == "broken_json":
            (folder / f"{sid}.ipynb").write_text('{"cells": [')  # saved half-way
            expected[sid] = 0.0
        elif kind == "stub":
            (folder / sid).mkdir()
            (folder / sid / f"{SLUG}.ipynb").write_bytes((KIT_ROOT / "assignments" / SLUG / f"{SLUG}.ipynb").read_bytes())
            expected[sid] = 0.0
    return expected


def read_gradebook(path: Path) -> dict[str, float]:
    with open(path, newline="") as stream:
        return {row["student"]: float(row["total"]) for row in csv.DictReader(stream)}


def run(folder: Path, backend: str, workers: int, out: Path) -> float:
    """Wall time of one ``grade-batch --force`` over ``folder``."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade-batch", SLUG, str(folder), "--workers", str(workers),
                    "--backend", backend, "--out", str(out), "--force", "--quiet"], cwd=KIT_ROOT, check=True)
    return time.perf_counter() - started


def grader_seconds(out: Path, hanging: set[str]) -> float:
    """Median ``execution_time`` of the non-hanging submissions: the grader's own time for one."""
    times = [json.loads(p.read_text()).get("execution_time", 0.0) for p in (out.parent / "gradebook-results").glob("*.json")
             if p.stem not in hanging]
    return statistics.median(times) if times else 0.0


def slice_of(folder: Path, count: int, target: Path) -> Path:
    """The first ``count`` students of ``folder`` (the mix repeats every 20), as links."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir())[:count]:
        (target / path.name).symlink_to(path)
    return target


def report(rows: list[dict], count: int, started: str) -> str:
    lines = [f"# grade-batch on a generated class of {count}", "",
             f"Measured {started} by `benchmarks/batch.py {' '.join(sys.argv[1:])}` on {platform.machine()}, "
             f"{os.cpu_count()} cores ({cpu_model()}); the machine is shared, so each row notes its load "
             "(`uptime`'s 1, 5 and 15-minute averages) just before and just after it ran. Every score "
             "equalled its in-process expectation.", "",
             "| backend | workers (= cores) | submissions | wall | submissions / s / core | grader's median per "
             "submission | load before → after |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['workers']} | {r['count']} ({r['hanging']} hanging) | {r['wall']:.1f} s | "
                     f"{r['rate']:.2f} | {r['grader']:.2f} s | {r['load']} → {r.get('load_after', '?')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="+", default=["pool", "process", "dask"],
                        choices=["pool", "process", "dask"])
    parser.add_argument("--process-count", type=int, default=None,
                        help="grade only the first N students with --backend process (it is slow)")
    parser.add_argument("--dask-workers", type=int, nargs="+", default=[2], help="local cluster sizes to try")
    parser.add_argument("--without-hangs", action="store_true",
                        help="leave the hanging students out of the mix: the rate of typical submissions")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the table")
    parser.add_argument("--no-write", action="store_true", help="print only; write no table")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, wrong = [], []
    with tempfile.TemporaryDirectory(prefix="kit-batch-bench-") as scratch:
        folder = Path(scratch) / "class"
        mix = [kind for kind in CLASS_MIX if kind != "hang"] if args.without_hangs else CLASS_MIX
        expected = write_mix(folder, args.count, mix)
        hanging = {sid for index, sid in enumerate(sorted(expected)) if mix[index % len(mix)] == "hang"}
        for backend in args.backends:
            sizes = args.dask_workers if backend == "dask" else args.workers
            count = min(args.process_count or args.count, args.count) if backend == "process" else args.count
            source = folder if count == args.count else slice_of(folder, count, Path(scratch) / f"slice{count}")
            for workers in sizes:
                out = Path(scratch) / f"{backend}-{workers}" / "gradebook.csv"
                before = load_average()
                wall = run(source, backend, workers, out)
                got = read_gradebook(out)
                wrong += [f"{backend} workers={workers} {sid}: got {got.get(sid)}, expected {expected[sid]:g}"
                          for sid in got if got[sid] != expected[sid]]
                if len(got) != count:
                    wrong.append(f"{backend} workers={workers}: {len(got)} rows for {count} students")
                row = {"backend": backend, "workers": workers, "count": count, "hanging": len(hanging & set(got)),
                       "wall": wall, "rate": count / wall / workers, "grader": grader_seconds(out, hanging),
                       "load": before, "load_after": load_average()}
                rows.append(row)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    text = report(rows, args.count, started)
    print(text)
    for line in wrong:
        print(f"WRONG {line}")
    if not args.no_write and not wrong:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text)
        print(f"wrote {args.results}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
