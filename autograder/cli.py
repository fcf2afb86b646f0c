"""``python -m autograder``: each verb is a short composition of the stages."""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from autograder.errors import UserError

KIT_ROOT = Path(__file__).resolve().parent.parent


def cmd_build(args) -> int:
    """Regenerate assignments/ from solutions/ and write release/."""
    from autograder.release import handout_files, write_handout, write_release
    from autograder.suite import load_suite, resolve_slugs

    if getattr(args, "nbgrader", False):
        return cmd_build_nbgrader(args)
    from autograder.course import placeholder_warnings

    suites = []
    for slug in resolve_slugs(args.slugs):
        suite = load_suite(slug)
        write_handout(suite, force=args.force)
        target = write_release(suite, handout_files(suite))
        suites.append(suite)
        print(f"built {slug}: assignments/{slug}/ and {target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target}/")
        for line in heldout_lines(suite):
            print(f"  {line}")
    for warning in placeholder_warnings(suites):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def heldout_lines(suite) -> list[str]:
    """What judges each trained model of ``suite`` in the release just built."""
    from autograder.heldout import heldout_names, heldout_source

    return [f"held-out {name}: {heldout_source(suite.folder, name).what}" for name in heldout_names(suite.folder)]


def cmd_build_nbgrader(args) -> int:
    """``build --nbgrader``: the masters as an nbgrader course directory (nothing else is rebuilt)."""
    from autograder.nbgrader_export import DEFAULT_COURSE_DIR, export_course
    from autograder.suite import load_suite, resolve_slugs

    suites = [load_suite(slug) for slug in resolve_slugs(args.slugs)]
    target = export_course(suites, Path(args.nbgrader_dir) if args.nbgrader_dir else DEFAULT_COURSE_DIR)
    print(f"wrote the nbgrader course {target} ({', '.join(s.slug for s in suites)}): "
          f"cd there and run `nbgrader generate_assignment SLUG`")
    return 0


def cmd_grade(args) -> int:
    """Grade one submission, write results.json, print the table."""
    from autograder import containment
    from autograder.suite import load_suite

    suite = load_suite(args.slug)
    if args.sandbox_user:
        containment.check_sandbox_user(args.sandbox_user)
    containment.harden_grader()  # not dumpable: its memory is not readable through /proc
    containment.probe_ahead(KIT_ROOT, args.sandbox_user)  # tries the box while torch is imported
    from autograder import fork_start
    from autograder.grade import grade_submission
    from autograder.results import grader_failure_results, table, write_json_atomically

    box = containment.plan_box(KIT_ROOT, args.sandbox_user)
    submission = Path(args.submission)
    if submission.is_dir() or (submission.exists() and submission.suffix in (".zip", ".ipynb")):
        # (else the one-line error that follows is all there is to say)
        print(box.describe(), file=sys.stderr, flush=True)
    if not box.namespaces:
        containment.become_subreaper()  # a submission's daemons end up as our children, and die with us
    fork_start.freeze_imported()  # torch is imported by now: no collection walks its objects again
    try:
        document = grade_submission(suite, submission, sandbox_user=args.sandbox_user)
    except UserError:
        raise
    except Exception:  # a bug in the kit: the student still gets a valid results.json
        write_json_atomically(grader_failure_results(), Path(args.out))
        raise
    finally:
        if not box.namespaces:  # with a PID namespace the kernel has already ended them all
            containment.kill_uid(box.uid)
            containment.kill_strays()
    write_json_atomically(document, Path(args.out))
    print(table(document))
    print(f"wrote {Path(args.out).resolve()}")
    return 0


def cmd_grade_batch(args) -> int:
    """Grade every submission under a folder in parallel into a gradebook."""
    from autograder.batch import grade_batch

    grade_batch(args.slug, Path(args.dir), Path(args.out), workers=args.workers, force=args.force,
                quiet=args.quiet, feedback_format=args.feedback, timeout=args.timeout,
                backend=args.backend, scheduler=args.scheduler)
    return 0


def cmd_verify(args) -> int:
    """Masters get full marks, stubs get none, student notebooks are in sync."""
    from autograder.verify import verify

    return 0 if verify(args.slugs) else 1


def cmd_demo(args) -> int:
    """The kit's main job on its bundled examples: build everything, grade the samples."""
    from autograder.batch import grade_examples

    cmd_build(argparse.Namespace(slugs=[], force=False))
    return grade_examples()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    top.add_argument("--data", default=None, metavar="DIR",
                     help="the data root holding the real data sets (default: $KIT_DATA, else ./data); "
                          "build and grade take the real held-out sets from it")
    verbs = top.add_subparsers(dest="verb", required=True)
    build = verbs.add_parser("build", help=cmd_build.__doc__)
    build.add_argument("slugs", nargs="*", metavar="SLUG")
    build.add_argument("--force", action="store_true", help="overwrite hand edits in assignments/")
    build.add_argument("--nbgrader", action="store_true",
                       help="write an nbgrader course directory (source/, config) instead of assignments/ and release/")
    build.add_argument("--nbgrader-dir", default=None, metavar="DIR", help="where --nbgrader writes (default release/nbgrader)")
    build.set_defaults(run=cmd_build)
    grade = verbs.add_parser("grade", help=cmd_grade.__doc__)
    grade.add_argument("slug", metavar="SLUG")
    grade.add_argument("submission", metavar="SUBMISSION", help="a .ipynb, a folder or a zip")
    grade.add_argument("--out", default="results.json", metavar="RESULTS_JSON",
                       help="where to write Gradescope's results.json (default: results.json in the current folder)")
    grade.add_argument("--sandbox-user", default=None, help="run student code as this unprivileged user")
    grade.set_defaults(run=cmd_grade)
    batch = verbs.add_parser("grade-batch", help=cmd_grade_batch.__doc__)
    batch.add_argument("slug", metavar="SLUG")
    batch.add_argument("dir", metavar="DIR")
    batch.add_argument("--workers", type=int, default=None)
    batch.add_argument("--out", default="gradebook.csv")
    batch.add_argument("--force", action="store_true", help="regrade submissions already graded")
    batch.add_argument("--feedback", choices=["md", "html"], default="md", help="format of the per-student feedback files")
    batch.add_argument("--timeout", type=float, default=None,
                       help="seconds before one submission's grading is stopped (default: the suite's limit + 60)")
    batch.add_argument("--backend", choices=["pool", "process", "dask"], default="pool",
                       help="pool: warm workers that import torch once (default); process: one grade process "
                            "per submission; dask: a Dask cluster's workers (see --scheduler)")
    batch.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="with --backend dask: the scheduler to use, e.g. tcp://10.0.0.5:8786 "
                            "(default: a local cluster of --workers processes)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(run=cmd_grade_batch)
    verify = verbs.add_parser("verify", help=cmd_verify.__doc__)
    verify.add_argument("slugs", nargs="*", metavar="SLUG")
    verify.set_defaults(run=cmd_verify)
    demo = verbs.add_parser("demo", help=cmd_demo.__doc__)
    demo.set_defaults(run=cmd_demo)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.data:
        if not os.path.isdir(args.data):
            print(f"error: --data {args.data}: no such folder; give the folder that holds sentiment140/, MNIST/, ...",
                  file=sys.stderr)
            return 2
        os.environ["KIT_DATA"] = os.path.abspath(args.data)  # one place: the loaders and the held-out sets read it
    try:
        return args.run(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug in the kit: show it, it is for us
        traceback.print_exc()
        return 3
