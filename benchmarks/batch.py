"""How ``grade-batch`` scales: wall time for the same generated class with --workers 1 and 2.

    .venv/bin/python benchmarks/batch.py                 # 40 submissions, workers 1 and 2
    .venv/bin/python benchmarks/batch.py --count 12 --workers 1 2 4

The class is generated from the foundations master: full-credit submissions (as the zip
collect_submission.py makes, and as a bare notebook), partial ones with realistic bugs, broken
ones (a file that is not a notebook, the untouched stub) and hanging ones (a graded function that
loops forever on tensor input, so the sandbox's per-call timeout has to stop it). Every student's
expected score is computed independently, in-process, by ``tests/variants.py``; the benchmark
fails if any gradebook row differs from it.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
SLUG = "foundations"

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


MIX = ["full_zip", "partial", "full_alt", "partial", "broken_json", "partial", "full_zip", "hang", "partial", "stub"]


def write_mix(folder: Path, count: int = 40, kinds: list[str] = MIX) -> dict[str, float]:
    """Write ``count`` submissions into ``folder``, cycling through ``kinds``; return
    ``{student id: expected score}``."""
    for path in (str(KIT_ROOT), str(KIT_ROOT / "tests")):
        if path not in sys.path:
            sys.path.insert(0, path)
    from variants import scores

    def total(replacement: str) -> float:
        if replacement not in cache:
            cache[replacement] = sum(got for got, _ in scores(SLUG, replacement).values())
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


def run(folder: Path, workers: int, out: Path) -> float:
    """Wall time of one ``grade-batch --force`` over ``folder``."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade-batch", SLUG, str(folder), "--workers", str(workers),
                    "--out", str(out), "--force", "--quiet"], cwd=KIT_ROOT, check=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kit-batch-bench-") as scratch:
        folder = Path(scratch) / "class"
        expected = write_mix(folder, args.count)
        timings, wrong = {}, []
        for workers in args.workers:
            out = Path(scratch) / f"w{workers}" / "gradebook.csv"
            timings[workers] = run(folder, workers, out)
            got = read_gradebook(out)
            wrong += [f"workers={workers} {sid}: got {got.get(sid)}, expected {score:g}"
                      for sid, score in expected.items() if got.get(sid) != score]
            print(f"workers={workers}: {args.count} submissions in {timings[workers]:.1f} s", flush=True)
    print(json.dumps({"count": args.count, "wall_seconds": {str(k): round(v, 1) for k, v in timings.items()}}))
    for line in wrong:
        print(f"WRONG {line}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
