"""Train every assignment's reference models on the real data sets and write a results table.

    .venv/bin/python benchmarks/reference.py                  # every assignment, on real data
    .venv/bin/python benchmarks/reference.py gnn generative   # some of them (the others' results stay)
    .venv/bin/python benchmarks/reference.py --offline        # download nothing: say which files are missing
    .venv/bin/python benchmarks/reference.py --smoke          # generated data and tiny budgets (CI)

The reference models are the masters themselves. Each master runs top to bottom in a real Jupyter
kernel, as a student runs it (the handout's set-up cell and helper files beside it), in full mode
(``KIT_SMOKE`` unset) on the data under ``--data``, and on the GPU when there is one. A harvest cell
appended to the master collects its results (``reference_specs.py``); a model's training time is
the wall time of the cell that trains it. The generative models' samples are judged by a small
Fashion-MNIST classifier this script trains (``sample_quality.py``) and drawn as grids.

Before a master runs, its data is fetched with the handout's own functions, which download where
there is internet. A file that is missing and cannot be had is named in the table, with where to
get it and where to put it, and that master is not run.

Each assignment's outcome is kept in ``benchmarks/results/reference/<slug>.json`` and the table
``benchmarks/results/reference.md`` is made from all of them, so a run of some assignments keeps
the others' results. The executed notebooks and trained files go under ``--runs`` (not committed).
Smoke mode writes nothing under benchmarks/results.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from common import KIT_ROOT, hardware, stage_master
from reference_specs import SPECS, ReferenceSpec, Row

from autograder.suite import load_suite

RESULTS_DIR = KIT_ROOT / "benchmarks" / "results"


@dataclass
class Outcome:
    """What one assignment's reference run gave: rows, or why there are none."""

    slug: str
    date: str
    hardware: str
    mode: str  # "real data" or "smoke"
    rows: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # one line per data file that could not be had
    error: str = ""  # the master failed: the cell and the exception
    seconds: float = 0.0  # the whole master, start to end


# --- data ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def no_downloads():
    """Make every urllib download fail at once, so the handouts' fetchers say what is missing."""
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("--offline: not downloading")

    saved = urllib.request.urlretrieve, urllib.request.urlopen
    urllib.request.urlretrieve = urllib.request.urlopen = refuse
    try:
        yield
    finally:
        urllib.request.urlretrieve, urllib.request.urlopen = saved


def missing_data(spec: ReferenceSpec, data_root: Path, offline: bool) -> list[str]:
    """Fetch each file the master needs; a line for each that cannot be had, saying how to get it."""
    missing = []
    quiet = contextlib.redirect_stdout(io.StringIO()) if offline else contextlib.nullcontext()  # no "Downloading ..."
    with no_downloads() if offline else contextlib.nullcontext(), quiet:
        for what, fetch in spec.requirements():
            try:
                fetch(data_root)
            except Exception as problem:  # the fetchers raise with a message that says what to do
                missing.append(f"{what}: {problem}".replace(f"{KIT_ROOT}{os.sep}", ""))  # paths relative to the repo
    return missing


def make_helpers_importable(slug: str) -> None:
    """The requirement fetchers live in the handout's helper modules, imported by plain name."""
    for path in load_suite(slug).helper_files().values():
        if str(path.parent) not in sys.path:
            sys.path.append(str(path.parent))


# --- running a master ---------------------------------------------------------------------------

def execute_master(spec: ReferenceSpec, run_dir: Path, data_root: Path, smoke: bool):
    """Run the staged master and its harvest cell in a Jupyter kernel; returns the executed
    notebook and the harvested metrics. Raises RuntimeError naming the failing cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook_path, _ = stage_master(load_suite(spec.slug), run_dir)
    notebook = nbformat.read(str(notebook_path), as_version=4)
    harvest = (f"{spec.harvest}\nimport json as _json, os as _os\n"
               "with open(_os.path.join(_os.environ['KIT_REFERENCE_OUT'], 'metrics.json'), 'w') as _out:\n"
               "    _json.dump(metrics, _out)")
    notebook.cells.append(nbformat.v4.new_code_cell(harvest))
    env = {name: value for name, value in os.environ.items() if name != "KIT_SMOKE"}
    env |= {"KIT_DATA": str(data_root.resolve()), "KIT_REFERENCE_OUT": str(run_dir.resolve()), "MPLBACKEND": "Agg"}
    env |= {"KIT_SMOKE": "1"} if smoke else {}
    client = NotebookClient(notebook, timeout=600 if smoke else None, kernel_name="python3",
                            resources={"metadata": {"path": str(run_dir)}})
    try:
        client.execute(env=env)  # jupyter_client starts the kernel with exactly this environment
    except CellExecutionError:
        raise RuntimeError(first_error(notebook)) from None
    finally:
        nbformat.write(notebook, str(run_dir / f"{spec.slug}.executed.ipynb"))
    return notebook, json.loads((run_dir / "metrics.json").read_text())


def first_error(notebook) -> str:
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {index}: {output['ename']}: {output['evalue']}".splitlines()[0]
    return "a cell failed"


def cell_seconds(notebook, variable: str) -> float | None:
    """Wall time of the code cell that assigns ``variable`` (as recorded by nbclient)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and variable in assigned_names(cell.source):
            timing = cell.metadata.get("execution", {})
            start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if start and end:
                return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return None


def assigned_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for statement in tree.body if isinstance(statement, ast.Assign)
            for target in statement.targets for node in ast.walk(target) if isinstance(node, ast.Name)}


# --- the generative models' samples -------------------------------------------------------------

def judge_samples(run_dir: Path, data_root: Path, smoke: bool, grids_dir: Path) -> dict:
    """Train the yardstick classifier, score each model's samples, and draw the grids."""
    import torch
    from generative_helpers import fashion_mnist
    from sample_quality import accuracy, classifier_score, label_agreement, train_classifier

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_images, train_labels = fashion_mnist("train", smoke=smoke, root=data_root)
    test_images, test_labels = fashion_mnist("test", smoke=smoke, root=data_root)
    classifier = train_classifier(train_images, train_labels, epochs=8 if smoke else 3, device=device,
                                  batch_size=32 if smoke else 256)
    saved = torch.load(run_dir / "samples.pt", weights_only=True)
    images = saved["images"]
    quality = {"classifier_accuracy": accuracy(classifier, test_images, test_labels),
               "real": classifier_score(classifier, test_images[:len(images["GAN"])]),
               "agreement": label_agreement(classifier, images["conditional GAN"], saved["asked_for"])}
    quality.update({name: classifier_score(classifier, batch) for name, batch in images.items()})
    draw_grids(images, grids_dir)
    return quality


def draw_grids(images: dict, grids_dir: Path) -> None:
    """A 10 x 10 grid per model; the conditional GAN's rows are its classes."""
    import matplotlib.pyplot as plt
    from coursekit.data import FASHION_CLASSES
    from generative_helpers import show_grid

    grids_dir.mkdir(parents=True, exist_ok=True)
    for name, batch in images.items():
        labels = None
        if name == "conditional GAN":  # samples come class by class: take the first 10 of each
            batch, labels = batch.view(10, -1, *batch.shape[1:])[:, :10].flatten(0, 1), FASHION_CLASSES
        show_grid(batch[:100], nrow=10, title=f"{name} samples", row_labels=labels,
                  path=grids_dir / f"generative_{name.replace(' ', '_').lower()}.png")
        plt.close("all")


# --- one assignment -----------------------------------------------------------------------------

def run_reference(spec: ReferenceSpec, args, machine: str) -> Outcome:
    outcome = Outcome(spec.slug, date.today().isoformat(), machine, "smoke" if args.smoke else "real data")
    make_helpers_importable(spec.slug)
    if not args.smoke:
        outcome.missing = missing_data(spec, args.data, args.offline)
        if outcome.missing or args.offline:
            return outcome
    run_dir = args.runs / spec.slug
    started = time.monotonic()
    try:
        notebook, metrics = execute_master(spec, run_dir, args.data, args.smoke)
        if spec.samples:
            grids = run_dir if args.smoke else args.results / "reference"  # smoke: beside the run
            metrics["quality"] = judge_samples(run_dir, args.data, args.smoke, grids)
    except RuntimeError as failure:
        outcome.error = str(failure)
        return outcome
    finally:
        outcome.seconds = time.monotonic() - started
    outcome.rows = [asdict(row) | {"seconds": cell_seconds(notebook, row.trained_by) if row.trained_by else None}
                    for row in spec.rows(metrics)]
    return outcome


# --- the table ----------------------------------------------------------------------------------

def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def section(outcome: Outcome) -> list[str]:
    lines = [f"## {outcome.slug}", "", f"{outcome.date}, {outcome.mode}, {outcome.hardware}."
             + (f" The whole master ran in {duration(outcome.seconds)}." if outcome.rows else ""), ""]
    if outcome.missing:
        return lines + ["Not measured: the data is not here."] + [f"- {line}" for line in outcome.missing] + [""]
    if outcome.error:
        return lines + [f"Not measured: the master failed ({outcome.error})", ""]
    if not outcome.rows:
        return lines + ["Not measured: data checked only (--offline).", ""]
    lines += ["| model | metric | result | compare with | training time |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['metric']} | {r['result']} | {r['compare_with']} | {duration(r['seconds'])} |"
              for r in outcome.rows]
    return lines + [""]


def report(outcomes: list[Outcome], grids_dir: Path) -> str:
    """benchmarks/results/reference.md (real-data runs only: a smoke run prints its sections)."""
    title = "# The reference models on the real data sets"
    intro = ["Made by `benchmarks/reference.py`: each master trained in a Jupyter kernel, in full mode. "
             "Every figure was measured in the run its section names; a section without figures says why."]
    grids = sorted(grids_dir.glob("generative_*.png"))
    if grids:
        intro += ["", "Sample grids: " + ", ".join(f"[{p.stem.removeprefix('generative_')}](reference/{p.name})"
                                                    for p in grids) + "."]
    body = [line for outcome in outcomes for line in section(outcome)]
    return "\n".join([title, ""] + intro + [""] + body)


def saved_outcomes(folder: Path) -> dict[str, Outcome]:
    return {path.stem: Outcome(**json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help=f"default: all of {', '.join(SPECS)}")
    parser.add_argument("--smoke", action="store_true", help="generated data, tiny budgets, nothing written (CI)")
    parser.add_argument("--offline", action="store_true", help="download nothing; report the missing files")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("KIT_DATA", KIT_ROOT / "data")),
                        help="where the data sets are (default: $KIT_DATA or ./data)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR,
                        help="where reference.md and reference/ go (default: benchmarks/results)")
    parser.add_argument("--runs", type=Path, default=None,
                        help="executed notebooks and trained files (default: reference-runs/, smoke: a temporary folder)")
    args = parser.parse_args()
    unknown = [slug for slug in args.slugs if slug not in SPECS]
    if unknown:
        print(f"error: no reference models for {', '.join(unknown)}: choose from {', '.join(SPECS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kit-reference-") as scratch:
        if args.smoke:
            args.data = Path(scratch) / "data"
        args.runs = (args.runs or (Path(scratch) / "runs" if args.smoke else KIT_ROOT / "reference-runs")).resolve()
        return run_all(args)


def run_all(args) -> int:
    machine = hardware()
    print(f"{'smoke run' if args.smoke else 'real data'} on {machine}", flush=True)
    outcomes = []
    for slug in args.slugs or list(SPECS):
        outcome = run_reference(SPECS[slug], args, machine)
        print("\n".join(section(outcome)), flush=True)
        outcomes.append(outcome)
        if not args.smoke:
            outcomes_dir = args.results / "reference"
            outcomes_dir.mkdir(parents=True, exist_ok=True)
            (outcomes_dir / f"{slug}.json").write_text(json.dumps(asdict(outcome), indent=1) + "\n")
    if not args.smoke:
        everything = saved_outcomes(args.results / "reference")
        text = report([everything[slug] for slug in SPECS if slug in everything], args.results / "reference")
        (args.results / "reference.md").write_text(text)
        print(f"wrote {args.results / 'reference.md'}")
    return 1 if any(outcome.error for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
