"""The warm worker pool of ``grade-batch``: torch imported once per worker, not once per submission.

A worker is a long-lived process, ``python -m autograder.warm_pool SLUG``, exec'd fresh, that
imports torch (and the suite's ``preload``, e.g. torch_geometric) and the kit's own code, and
nothing else: never the suite's tests, never held-out data, never a submission. For each
submission it forks a *grader*, and the fork does exactly what ``python -m autograder grade`` does
after its imports: its own session, a subreaper, ``grade_submission`` (which forks the sandbox child
from the grader before the tests load, as always, so the child's memory holds no test module and no
held-out data), results.json written atomically, every stray process killed, then ``_exit``.

Why a fork per submission rather than grading in the worker itself: the worker's memory must stay
what it was after the imports, since each sandbox child inherits it; and a grader that crashes,
leaks or hangs costs only its own submission. The worker stops a grader that outlives ``timeout``
(its process group and every process left under the worker), so a hanging submission holds its
worker no longer than its limit.

Protocol, one JSON document per line: the worker writes ``{"ready": true}`` once imported, then
reads ``{"path", "out", "timeout"}`` on stdin and answers ``{"ok", "why"}`` on stdout.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 120.0  # importing torch_geometric on a loaded machine
# A pool runs a worker per core: torch's OpenMP and MKL pools get one thread each (unless the
# environment says otherwise), or their threads spin-wait for cores the other workers hold. 30
# transformers submissions on 2 workers: 10.7 s, against 12.0 s with a thread per core.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Libraries that notebooks import and that cost a submission's child a third of a second or more
# each time: plain libraries, holding nothing of the suite's, so sharing them is as safe as sharing
# torch. torch.fx.experimental.symbolic_shapes (and sympy with it) is torch's own lazy import, made on
# the first check of a key-padding mask in nn.MultiheadAttention (every transformers submission).
NOTEBOOK_LIBRARIES = ("numpy", "matplotlib.pyplot", "torch.fx.experimental.symbolic_shapes")


# ----------------------------------------------------------------------------------------------
# The worker's side


def serve(slug: str, requests, replies) -> None:
    """Import once, then grade each requested submission in a forked grader."""
    from autograder import containment, fork_start
    from autograder.suite import load_suite

    suite = load_suite(slug)
    fork_start.preload(("torch", *suite.preload))
    os.environ["MPLBACKEND"] = "Agg"  # as in the child's environment: no display
    for library in NOTEBOOK_LIBRARIES:
        try:
            fork_start.preload((library,))
        except ImportError:
            pass
    import autograder.grade  # noqa: F401 - the kit's code, imported once; it loads no test module
    import autograder.results  # noqa: F401

    containment.plan_box(KIT_ROOT)  # tried once here: every forked grader inherits the answer
    fork_start.freeze_imported()  # every forked grader shares these pages and never walks them
    containment.become_subreaper()  # a dead grader's children come to us, and are killed
    _reply(replies, {"ready": True})
    for line in requests:
        job = json.loads(line)
        ok, why = grade_in_fork(suite, Path(job["path"]), Path(job["out"]), float(job["timeout"]))
        _reply(replies, {"ok": ok, "why": why})


def _reply(stream, document: dict) -> None:
    stream.write(json.dumps(document) + "\n")
    stream.flush()


def grade_in_fork(suite, path: Path, out: Path, timeout: float) -> tuple[bool, str]:
    """Fork a grader for one submission; wait for it at most ``timeout`` seconds."""
    from autograder import containment

    with tempfile.TemporaryFile() as log:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _grader(suite, path, out, log.fileno())
        code = _wait(pid, timeout)
        _kill_descendants(containment)
        if code is None:
            return False, f"the grader did not finish within {timeout:.0f} s and was stopped"
        log.seek(0)
        return code == 0, f"the grader exited with status {code}\n{log.read().decode(errors='replace')[-4000:]}"


def _grader(suite, path: Path, out: Path, log_fd: int) -> None:
    """In the fork: ``python -m autograder grade`` after its imports. Never returns."""
    code = 3
    try:
        os.setsid()  # its own process group: stopped as a whole on a timeout
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        from autograder import containment
        from autograder.grade import grade_submission
        from autograder.results import grader_failure_results, write_json_atomically

        containment.become_subreaper()
        try:
            document = grade_submission(suite, path)
        except Exception:  # a bug in the kit: the student still gets a valid results.json, as in `grade`
            write_json_atomically(grader_failure_results(), out)
            raise
        finally:
            containment.kill_strays()
        write_json_atomically(document, out)
        code = 0
    except BaseException:  # noqa: BLE001 - the reason goes to the log, the status to the worker
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    """The grader's exit status, or None after killing its process group at ``timeout``."""
    deadline = time.monotonic() + timeout
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        handle = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if handle is not None:
                select.select([handle], [], [], left)
            else:
                time.sleep(min(left, 0.01))
    finally:
        if handle is not None:
            os.close(handle)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    os.waitpid(pid, 0)
    return None


def _kill_descendants(containment) -> None:
    """Kill what the grader left (its sandbox child, a student's daemons): each one killed hands
    its own children to us, the subreaper, so repeat until none is left."""
    for _ in range(20):
        containment.kill_strays()
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.01)  # a child is still there (re-parented since): another round
                continue
        except ChildProcessError:
            return


def main(argv: list[str]) -> None:
    # The protocol owns the real stdout; anything else printed (a library's warning) goes to stderr.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(argv[0], sys.stdin, replies)


# ----------------------------------------------------------------------------------------------
# The batch's side


class WarmWorker:
    """One worker process, started on first use and restarted if it dies."""

    def __init__(self, slug: str, env: dict[str, str] | None = None):
        self.slug = slug
        self.env = env
        self.process: subprocess.Popen | None = None
        self._replies: "list[str]" = []

    def _start(self) -> None:
        env = {**ONE_THREAD, **(self.env or os.environ), "PYTHONHASHSEED": "0", "PYTHONPATH": str(KIT_ROOT)}
        with tempfile.TemporaryFile() as errors:
            self.process = subprocess.Popen([sys.executable, "-m", "autograder.warm_pool", self.slug], cwd=KIT_ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                            text=True, env=env, start_new_session=True)
            ready = self._read(READY_SECONDS)
            if not (ready and ready.get("ready")):
                self.stop()
                errors.seek(0)
                last = (errors.read().decode(errors="replace").strip().splitlines() or ["no message"])[-1]
                raise RuntimeError(f"the {self.slug} grading worker did not start: {last}")

    def grade(self, path: Path, out: Path, timeout: float) -> tuple[bool, str]:
        """Grade one submission into ``out``: ``(True, "")``, or ``(False, why)``."""
        if self.process is None or self.process.poll() is not None:
            try:
                self._start()
            except (OSError, RuntimeError) as error:  # this row fails with the reason; the next one retries
                return False, str(error)
        try:
            self.process.stdin.write(json.dumps({"path": str(path), "out": str(out), "timeout": timeout}) + "\n")
            self.process.stdin.flush()
        except OSError:
            self.stop()
            return False, "the grading worker died before it was given the submission"
        reply = self._read(timeout + 30)  # the worker itself stops the grader at ``timeout``
        if reply is None:
            self.stop()
            return False, f"the grading worker did not answer within {timeout + 30:.0f} s and was restarted"
        return bool(reply.get("ok")), str(reply.get("why", ""))

    def _read(self, timeout: float) -> dict | None:
        """The worker's next line, or None if it died or said nothing for ``timeout`` seconds."""
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not got or not got[0]:
            return None
        try:
            return json.loads(got[0])
        except json.JSONDecodeError:
            return None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class WarmPool:
    """``workers`` warm workers; each ``grade`` call borrows one, so at most ``workers`` run at once."""

    def __init__(self, slug: str, workers: int):
        import queue

        self._idle: "queue.Queue[WarmWorker]" = queue.Queue()
        self._all = [WarmWorker(slug) for _ in range(workers)]
        for worker in self._all:
            self._idle.put(worker)

    def grade(self, path: Path, out: Path, timeout: float) -> tuple[bool, str]:
        worker = self._idle.get()
        try:
            return worker.grade(path, out, timeout)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        for worker in self._all:
            worker.stop()

    def __enter__(self) -> "WarmPool":
        return self

    def __exit__(self, *_) -> None:
        self.close()


if __name__ == "__main__":
    main(sys.argv[1:])
