"""``verify``: the kit's promise to instructors, checked per assignment.

* the committed student notebook and manifest (``assignments/<slug>/``) are exactly what ``build``
  would write;
* the master gets full marks on every autograded test; where a trained model is judged on a real
  held-out set, a reference model below the bar is reported (the homework's bar may be out of
  reach of the CPU-trained reference: ``benchmarks/results/reference.md``), not failed;
* the student stub gets 0 on every autograded test.

It also warns (without failing) about placeholders left for the semester: the example
``handout_url`` and held-out data that is still the generated sample.
"""
from __future__ import annotations

from autograder.course import placeholder_warnings
from autograder.grade import grade_submission
from autograder.heldout import BAR_PHRASE, samples_in_use
from autograder.release import generated_files
from autograder.suite import load_suite, resolve_slugs


def stale_handout_files(suite) -> list[str]:
    """Committed files of ``assignments/<slug>/`` that differ from what ``build`` generates."""
    stale = []
    for name, content in generated_files(suite).items():
        path = suite.handout_dir / name
        if not path.exists() or path.read_bytes() != content:
            stale.append(name)
    return stale


def verify_suite(slug: str) -> list[str]:
    """Everything wrong with one assignment, as one-line problems (empty when all is well)."""
    suite = load_suite(slug)
    stale = stale_handout_files(suite)
    problems = [f"assignments/{slug}/{name} is out of date: run `python -m autograder build {slug}`"
                for name in stale]
    master = grade_submission(suite, suite.master_path)
    for test in master["tests"]:
        if test["score"] < test["max_score"]:
            shortfall = trained_model_shortfall(suite, test)
            if shortfall:
                print(f"note: {slug}: {shortfall} ('{test['name']}'): {test['output']}")
            else:
                problems.append(f"master loses points on '{test['name']}': {test['output']}")
    stub = grade_submission(suite, suite.handout_dir / f"{slug}.ipynb")
    for test in stub["tests"]:
        if test["score"] > 0:
            problems.append(f"the stub earns points on '{test['name']}': make the test need the student's code")
    total = sum(t["max_score"] for t in master["tests"])
    print(f"{slug}: master {master['score']:g}/{total:g} in {master['execution_time']:.1f} s, "
          f"stub {stub['score']:g}/{total:g}, handout {'out of date' if stale else 'in sync'}")
    return problems


def trained_model_shortfall(suite, test: dict) -> str:
    """Why a test of the master's trained model may fail without the kit being wrong, or "".

    On the real held-out set, a reference trained on this CPU can fall short of the homework's bar
    (reported, with the figures in benchmarks/results/reference.md). On the generated sample, a
    model trained on the real data may not even read the sample (gnn's features differ): the kit's
    own tests judge the sample with smoke-trained stand-ins instead (tests/sample_models/)."""
    if test["name"].split(":")[0] not in suite.required_files.values():
        return ""
    if samples_in_use(suite.folder):
        return "the shipped model, trained on the real data, was judged on the generated sample"
    if BAR_PHRASE in test["output"]:
        return "the reference model is below the bar on the real held-out data"
    return ""


def verify(slugs: list[str]) -> bool:
    """Verify each assignment; print every problem; True when there are none."""
    all_problems = []
    slugs = resolve_slugs(slugs)
    for slug in slugs:
        all_problems += [f"{slug}: {p}" for p in verify_suite(slug)]
    for problem in all_problems:
        print(f"FAIL {problem}")
    for warning in placeholder_warnings([load_suite(slug) for slug in slugs]):  # not failures: CI has no real data
        print(f"warning: {warning}")
    print("verify: all good" if not all_problems else f"verify: {len(all_problems)} problem(s)")
    return not all_problems
