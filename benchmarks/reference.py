"""Train every assignment's reference models on the real data sets and write a results table.

    .venv/bin/python benchmarks/reference.py                  # every assignment, on real data
    .venv/bin/python benchmarks/reference.py gnn generative   # some of them (the others' results stay)
    .venv/bin/python benchmarks/reference.py --offline        # download nothing: say which files are missing
    .venv/bin/python benchmarks/reference.py --budget 25      # at most ~25 min of training per assignment (CPU)
    .venv/bin/python benchmarks/reference.py --smoke          # generated data and tiny budgets (CI)

The reference models are the masters themselves. Each master runs top to bottom in a real Jupyter
kernel, as a student runs it (the handout's set-up cell and helper files beside it), in full mode
(``KIT_SMOKE`` unset) on the data under ``--data``, and on the GPU when there is one. A harvest cell
The kernel records the master's results after every cell (``reference_specs.py`` names them), so a
run whose kernel dies, times out or is interrupted still keeps the figures measured before, with
the error; a model's training time is the wall time of the cell that trains it. The generative
models' samples are judged by a small Fashion-MNIST classifier this script trains
(``sample_quality.py``) and drawn as grids.

``--budget MINUTES`` gives each master that many minutes of training (``KIT_TRAIN_MINUTES``): each
training loop has a share of it (``coursekit.budget``) and stops, keeping its model, when its share
is spent; the table says each figure's share and where the budget stopped its training. Data
loading, evaluation and sampling come on top: with ``--budget 25`` each master takes about 30
minutes on a 2-core CPU.

Before a master runs, its data is fetched with the handout's own functions, which download where
there is internet. A file that is missing and cannot be had is named in the table, with where to
get it and where to put it (relative to the repository or to ``<data root>``, the ``--data``
folder), that master is not run, and the script exits with 1.

Each assignment's outcome is kept in ``benchmarks/results/reference/<slug>.json`` and the table
``benchmarks/results/reference.md`` is made from all of them, so a run of some assignments keeps
the others' results; a run that did not run a master (``--offline``, missing data) never replaces
a saved outcome that has figures. Ctrl-C saves the outcome of the master it stops, then exits with
130. The executed notebooks and trained files go under ``--runs`` (not committed). Smoke mode
writes nothing under benchmarks/results.
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
from coursekit.budget import VARIABLE as BUDGET_VARIABLE

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
    data: list[str] = field(default_factory=list)  # one line per data file used: which copy it is
    error: str = ""  # the master failed: the cell and the exception (the rows measured before it stay)
    seconds: float = 0.0  # the whole master, start to end
    budget_minutes: float | None = None  # --budget: the master's training minutes (KIT_TRAIN_MINUTES)
    interrupted: bool = False  # Ctrl-C (or SIGTERM) stopped this run

    @property
    def ran_master(self) -> bool:
        """False when the run stopped at the data check: missing files, --offline, or Ctrl-C there."""
        return bool(self.rows) or self.seconds > 0


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


def missing_data(spec: ReferenceSpec, data_root: Path, offline: bool, used: list[str] | None = None) -> list[str]:
    """Fetch each file the master needs; a line for each that cannot be had, saying how to get it.
    ``used`` receives a line per file that is there, naming the copy ("a 44k real subset ...")."""
    from coursekit.data import identify

    missing = []
    quiet = contextlib.redirect_stdout(io.StringIO()) if offline else contextlib.nullcontext()  # no "Downloading ..."
    with no_downloads() if offline else contextlib.nullcontext(), quiet:
        for what, fetch in spec.requirements():
            try:
                path = fetch(data_root)
            except Exception as problem:  # the fetchers raise with a message that says what to do
                missing.append(portable(f"{what}: {problem}", data_root))
                continue
            if used is not None and isinstance(path, Path):
                used.append(f"{what}: {identify(path) or 'a copy its loader checked'}")
    return missing


def portable(text: str, data_root: Path) -> str:
    """``text`` without this machine's paths: relative to the repository, else to ``<data root>``
    (the --data folder), else to the home folder (``~``)."""
    folders = [(KIT_ROOT, ""), (data_root.resolve(), "<data root>/"), (data_root.absolute(), "<data root>/"),
               (Path.home(), "~/")]
    for folder, name in folders:
        if len(folder.parts) > 1:  # never the file system's root
            text = text.replace(f"{folder}{os.sep}", name).replace(str(folder), name.rstrip("/") or ".")
    return text


def make_helpers_importable(slug: str) -> None:
    """The requirement fetchers live in the handout's helper modules, imported by plain name."""
    for path in load_suite(slug).helper_files().values():
        if str(path.parent) not in sys.path:
            sys.path.append(str(path.parent))


# --- running a master ---------------------------------------------------------------------------

RECORDER = '''"""Written by benchmarks/reference.py; the kernel runs it before the master (IPython's exec_files).
After every cell it records the metrics that can be evaluated so far, and what the time budget did,
so that a run that dies keeps what it measured."""
_KIT_METRICS = {metrics!r}
_KIT_RECORD = {path!r}


def _kit_record_metrics(result=None):
    import json, os, sys
    namespace, recorded = get_ipython().user_ns, {{}}
    for name, expression in _KIT_METRICS.items():
        try:
            value = eval(expression, namespace)
            json.dumps(value)
        except Exception:  # not measured yet (or not something a table can show)
            continue
        recorded[name] = value
    budget = sys.modules.get("coursekit.budget")
    if budget is not None:
        recorded["budget"] = budget.budget_report()
    with open(_KIT_RECORD + ".part", "w") as out:
        json.dump(recorded, out)
    os.replace(_KIT_RECORD + ".part", _KIT_RECORD)


get_ipython().events.register("post_run_cell", _kit_record_metrics)
'''


@dataclass
class MasterRun:
    """An executed master: the notebook as far as it ran, the metrics recorded, and how it failed."""

    notebook: object
    metrics: dict
    failure: str = ""  # "" when every cell ran
    interrupted: bool = False


def execute_master(spec: ReferenceSpec, run_dir: Path, data_root: Path, smoke: bool,
                   budget: float | None = None) -> MasterRun:
    """Run the staged master (and the samples cell of a spec that has one) in a Jupyter kernel that
    records the spec's metrics after every cell. A failure of any kind (a cell's error, a dead or
    timed-out kernel, Ctrl-C) is described in the result, with the metrics recorded until then."""
    import nbformat
    from nbclient import NotebookClient

    notebook_path, _ = stage_master(load_suite(spec.slug), run_dir)
    notebook = nbformat.read(str(notebook_path), as_version=4)
    if spec.samples:
        notebook.cells.append(nbformat.v4.new_code_cell(spec.samples))
    record = run_dir / "metrics.json"
    for stale in (record, run_dir / "samples.pt"):  # a previous run's files must not pass for this run's
        stale.unlink(missing_ok=True)
    recorder = run_dir / ".kit_record_metrics.py"
    recorder.write_text(RECORDER.format(metrics=spec.metrics, path=str(record.resolve())))
    env = {name: value for name, value in os.environ.items() if name not in ("KIT_SMOKE", BUDGET_VARIABLE)}
    env |= {"KIT_DATA": str(data_root.resolve()), "KIT_REFERENCE_OUT": str(run_dir.resolve()), "MPLBACKEND": "Agg"}
    env |= {"KIT_SMOKE": "1"} if smoke else {}
    env |= {BUDGET_VARIABLE: f"{budget:g}"} if budget else {}
    client = NotebookClient(notebook, timeout=600 if smoke else None, kernel_name="python3",
                            resources={"metadata": {"path": str(run_dir)}},
                            extra_arguments=[f"--InteractiveShellApp.exec_files={recorder.resolve()}"])
    failure, interrupted = "", False
    try:
        client.execute(env=env)  # jupyter_client starts the kernel with exactly this environment
    except KeyboardInterrupt:  # before or after nbclient's own handler is in place
        failure, interrupted = f"Ctrl-C in {running_cell(notebook)}", True
    except Exception as problem:
        # nbclient turns Ctrl-C (SIGINT) and SIGTERM into a kernel shutdown, which the running cell
        # then sees as a dead kernel; its handler leaves this future behind.
        interrupted = getattr(client, "_async_cleanup_kernel_future", None) is not None
        failure = f"Ctrl-C in {running_cell(notebook)}" if interrupted else describe(problem, notebook)
    finally:
        nbformat.write(notebook, str(run_dir / f"{spec.slug}.executed.ipynb"))
    metrics = json.loads(record.read_text()) if record.exists() else {}
    return MasterRun(notebook, metrics, failure, interrupted)


def describe(problem: Exception, notebook) -> str:
    """One line for a failed execution; nbclient may raise an AssertionError from its clean-up
    with the real failure (DeadKernelError, CellTimeoutError) as its context."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    chain = []
    while problem is not None and problem not in chain:
        chain.append(problem)
        problem = problem.__cause__ or problem.__context__
    for cause in chain:
        if isinstance(cause, CellExecutionError):
            return first_error(notebook)
        if isinstance(cause, DeadKernelError):
            return f"the kernel died in {running_cell(notebook)} (killed, or out of memory)"
        if isinstance(cause, CellTimeoutError):
            return f"{running_cell(notebook)} ran past the cell time limit"
    return f"{type(chain[0]).__name__}: {chain[0]}".splitlines()[0]


def running_cell(notebook) -> str:
    """The cell that was running when the execution stopped: the first code cell never answered
    (nbclient runs them in order; a kernel killed at once may not even have said it started)."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "shell.execute_reply" not in cell.get("metadata", {}).get("execution", {}):
            return f"cell {index}"
    return "a cell"


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
    # Three epochs in both modes. The generated smoke set (a bar per class) is learned after two: test
    # accuracy 1.0, real images' score 9.8 of 10 (9.9 after three). Smoke mode trained for eight, 128
    # small steps: 1 s on a quiet 2-core machine, 4 s beside a CPU hog, 7 to 40 s beside busier neighbours
    # (three epochs: 0.4, 1.4 to 2 s).
    classifier = train_classifier(train_images, train_labels, epochs=3, device=device,
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
    """Check the data, run the master, and turn what it recorded into rows, even when it failed."""
    outcome = Outcome(spec.slug, date.today().isoformat(), machine, "smoke" if args.smoke else "real data",
                      budget_minutes=args.budget)
    run, started, graded = None, time.monotonic(), []
    try:
        make_helpers_importable(spec.slug)
        if not args.smoke:
            outcome.missing = missing_data(spec, args.data, args.offline, outcome.data)
            if outcome.missing or args.offline:
                return outcome
        run_dir = args.runs / spec.slug
        started = time.monotonic()
        run = execute_master(spec, run_dir, args.data, args.smoke, args.budget)
        outcome.error, outcome.interrupted = portable(run.failure, args.data), run.interrupted
        if spec.samples and not run.failure:
            grids = run_dir if args.smoke else args.results / "reference"  # smoke: beside the run
            run.metrics["quality"] = judge_samples(run_dir, args.data, args.smoke, grids)
        elif not run.failure and (unrecorded := sorted(set(spec.metrics) - set(run.metrics))):
            outcome.error = f"it ran through but never defined {', '.join(unrecorded)}"
        if not run.failure and not args.smoke:
            graded = heldout_rows(spec.slug, run_dir)
    except KeyboardInterrupt:
        outcome.error, outcome.interrupted = "Ctrl-C", True
    if run is not None:
        outcome.seconds = time.monotonic() - started
        outcome.rows = [asdict(row) | {"seconds": cell_seconds(run.notebook, row.trained_by) if row.trained_by else None,
                                       "budget": budget_note(row.loop, run.metrics.get("budget"))}
                        for row in spec.rows(run.metrics)]
        outcome.rows += [asdict(row) | {"seconds": None, "budget": ""} for row in graded]
    return outcome


def heldout_rows(slug: str, run_dir: Path) -> list[Row]:
    """What the autograder measures: the run's trained model graded by ``grade`` on the real held-out
    set of the data root (its leaderboard entries), as a student's submission would be."""
    from autograder.grade import grade_submission
    from autograder.heldout import heldout_names, heldout_source

    suite = load_suite(slug)
    sources = [heldout_source(suite.folder, name) for name in heldout_names(suite.folder)]
    if not sources or any(source.kind == "sample" for source in sources):
        return []
    results = grade_submission(suite, run_dir / f"{slug}.ipynb")
    bars = {t["name"].split(":")[0]: t for t in results["tests"] if "held-out" in t["name"]}
    what = "; ".join(source.what for source in sources)
    rows = []
    for entry in results.get("leaderboard", []):
        passed = all(t["score"] >= t["max_score"] for t in bars.values())
        rows.append(Row(f"the same model, graded by `grade` ({entry['name']})", f"on the autograder's held-out set: {what}",
                        f"{entry['value']:.4g}", "passes the bar" if passed else "below the bar: the test's points are lost"))
    return rows


def budget_note(loop: str, budget: dict | None) -> str:
    """The share of the time budget a row's model trained in, and where the budget stopped it."""
    if not loop or not budget or budget.get("minutes") is None or loop not in budget["loops"]:
        return ""
    share, minutes = budget["loops"][loop]["share"], budget["minutes"]
    stopped_at = budget["loops"][loop]["stopped_at"]
    return f"{minutes_text(share * minutes)} of {minutes_text(minutes)} min, " + (
        f"stopped {stopped_at}" if stopped_at else "finished within it")


def minutes_text(minutes: float) -> str:
    return f"{minutes:.2g}" if minutes < 1 else f"{minutes:.1f}".removesuffix(".0")


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
    header = f"{outcome.date}, {outcome.mode}, {outcome.hardware}."
    if outcome.seconds and outcome.error:
        header += f" The master ran for {duration(outcome.seconds)} before it stopped."
    elif outcome.seconds:
        header += f" The whole master ran in {duration(outcome.seconds)}."
    if outcome.budget_minutes and outcome.ran_master:
        header += (f" Time budget: {minutes_text(outcome.budget_minutes)} min of training (`--budget`), "
                   "shared by its training loops as the last column says.")
    elif outcome.rows and outcome.mode == "real data":
        header += " No time budget: every model trained for its full schedule."
    lines = [f"## {outcome.slug}", "", header, ""]
    if outcome.data:
        lines += ["Data: " + "; ".join(outcome.data) + ".", ""]
    if outcome.missing:
        return lines + ["Not measured: the data is not here."] + [f"- {line}" for line in outcome.missing] + [""]
    stopped = "the run was interrupted" if outcome.interrupted else "the master failed"
    if outcome.error and not outcome.rows:
        return lines + [f"Not measured: {stopped} ({outcome.error}).", ""]
    if not outcome.rows:
        return lines + ["Not measured: data checked only (--offline).", ""]
    if outcome.error:
        lines += [f"{stopped.capitalize()} ({outcome.error}): the rows below were measured before that; "
                  "the others were not.", ""]
    budget = bool(outcome.budget_minutes)
    lines += ["| model | metric | result | compare with | training time |" + (" time budget |" if budget else ""),
              "| --- | --- | --- | --- | --- |" + (" --- |" if budget else "")]
    lines += [f"| {r['model']} | {r['metric']} | {r['result']} | {r['compare_with']} | {duration(r['seconds'])} |"
              + (f" {r.get('budget', '')} |" if budget else "") for r in outcome.rows]
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


def save(outcome: Outcome, folder: Path) -> None:
    """Keep the outcome in ``folder/<slug>.json``, unless it did not run the master (--offline,
    missing data) and the saved one has figures: a data check never replaces a measurement."""
    path = folder / f"{outcome.slug}.json"
    if not outcome.ran_master and path.exists():
        saved = Outcome(**json.loads(path.read_text()))
        if saved.rows:
            print(f"{outcome.slug}: kept the figures measured on {saved.date} (this run did not run the master)")
            return
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(outcome), indent=1) + "\n")


def positive_minutes(text: str) -> float:
    minutes = float(text)
    if minutes <= 0:
        raise argparse.ArgumentTypeError(f"{text}: the budget is a positive number of minutes")
    return minutes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help=f"default: all of {', '.join(SPECS)}")
    parser.add_argument("--smoke", action="store_true", help="generated data, tiny budgets, nothing written (CI)")
    parser.add_argument("--offline", action="store_true",
                        help="download nothing; report the missing files (saved figures are kept)")
    parser.add_argument("--budget", type=positive_minutes, default=None, metavar="MINUTES",
                        help="minutes of training per assignment, shared by its training loops (default: no limit)")
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
        os.environ["KIT_DATA"] = str(args.data.resolve())  # one data root: the masters' kernels and `grade` read it
        args.runs = (args.runs or (Path(scratch) / "runs" if args.smoke else KIT_ROOT / "reference-runs")).resolve()
        return run_all(args)


def run_all(args) -> int:
    """Run each assignment, saving its outcome as soon as it has one; Ctrl-C stops after saving.
    Exits with 130 when interrupted, 1 when a master failed or data is missing, else 0."""
    machine = hardware()
    print(f"{'smoke run' if args.smoke else 'real data'} on {machine}", flush=True)
    outcomes = []
    for slug in args.slugs or list(SPECS):
        outcome = run_reference(SPECS[slug], args, machine)
        print("\n".join(section(outcome)), flush=True)
        outcomes.append(outcome)
        if not args.smoke:
            save(outcome, args.results / "reference")
        if outcome.interrupted:
            break
    if not args.smoke:
        everything = saved_outcomes(args.results / "reference")
        text = report([everything[slug] for slug in SPECS if slug in everything], args.results / "reference")
        (args.results / "reference.md").write_text(text)
        print(f"wrote {args.results / 'reference.md'}")
    if any(outcome.interrupted for outcome in outcomes):
        return 130
    if any(outcome.missing for outcome in outcomes):
        print("error: data is missing: put the files where the lines above say, or run where there is internet",
              file=sys.stderr)
        return 1
    return 1 if any(outcome.error for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
