"""The sandboxed run: a submission's code lives in a child process under hard limits.

The grading process never imports student code. It starts ``autograder.sandbox_child`` in a box
(``autograder.containment``: its own namespaces and file system view, an unprivileged uid, no
capabilities, a seccomp filter, resource limits), in a scratch copy of the submission, and talks
to it only through ``autograder.channel``.

Children are forked from a spawner, itself a fork of the grading process once torch is imported
and before the tests are loaded, so that the import is paid once and a restart costs a fork
(``autograder.fork_start`` says when that is safe); without seeded hashing each child is exec'd fresh.

When a statement hangs or kills the child while loading, that statement is left out for good and
the child is started again, so a broken cell costs only what it defines; when loading runs past
its budget, the slowest statements are left out too. When a probe hangs or kills the child, that
test fails with a one-line reason and the next test gets a fresh child; a graded name whose code
kills the process ``max_restarts`` times loses its remaining tests, and only those.
"""
from __future__ import annotations

import inspect
import os
import signal
import subprocess
import textwrap
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from autograder import channel, containment, fork_start
from coursekit.notebook import Extraction
from coursekit.testing import STATEMENT_SECONDS, SandboxError, StudentCodeError

KIT_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60.0  # for a fresh child to import its libraries and report its first statement
BOX_END_SECONDS = 10.0  # for the kernel to end every process of a box (a loaded machine, a chain of forks)


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Suites override these in their ``suite.toml``."""

    memory_mb: int = 4096  # address space of the child; torch alone maps about 1 GiB
    call_seconds: float = 20.0  # one probe
    statement_seconds: float = STATEMENT_SECONDS  # one import or definition while loading (check() gives as much)
    load_seconds: float = 60.0  # all imports and definitions
    total_seconds: float = 300.0  # the whole grading of one submission
    cpu_seconds: int = 600
    file_size_mb: int = 256
    max_processes: int = 64
    max_restarts: int = 3  # per graded name: its code killed the process this often, its other tests are skipped


@dataclass
class _Child:
    process: fork_start.ForkedProcess
    request_fd: int
    reply_fd: int


@dataclass
class SandboxedSubmission:
    """A submission seen through its sandbox: the ``sub`` that tests receive in the grader."""

    extraction: Extraction
    workdir: Path
    limits: Limits = field(default_factory=Limits)
    user: str | None = None  # run the child as this user (Gradescope's "student"); default: a uid of our own
    preload: tuple[str, ...] = ("torch",)  # imported by the grader first, shared with a forked child
    excluded: set[int] = field(default_factory=set)
    load_errors: dict[int, str] = field(default_factory=dict)
    defined_names: set[str] = field(default_factory=set)
    leaderboard: dict[str, float] = field(default_factory=dict)
    current_graded_name: str = ""  # set by coursekit.testing.run_test: whose test is running
    timed_out: dict[str, float] = field(default_factory=dict)  # graded name -> seconds it hung for
    crashes: dict[str, int] = field(default_factory=dict)  # graded name -> times its code ended the process

    def __post_init__(self) -> None:
        self._child: _Child | None = None
        self._not_started = ""
        self._loading = False
        self._may_fork = fork_start.can_fork()  # start boxes from a spawner: see autograder.fork_start
        self._spawner: fork_start.Spawner | None = None
        self._deadline = time.monotonic() + self.limits.total_seconds
        self._load_spent = 0.0  # seconds this start of the child has spent running statements
        self._durations: dict[int, float] = {}  # statement -> seconds it took to run, when known
        self.box = containment.plan_box(KIT_ROOT, self.user)
        self._root = self.workdir.parent / f".box-root-{self.workdir.name}"
        self._root.mkdir(exist_ok=True)
        containment.hand_over(self.workdir, self.box)

    # -- what tests call -----------------------------------------------------------------------

    def defined(self, name: str) -> bool:
        try:
            self._ensure_child()
        except SandboxError as problem:  # did not start, or out of time: this test cannot run
            self._not_started = str(problem)
            return False
        self._not_started = ""
        return name in self.defined_names

    def why_undefined(self, name: str) -> str:
        """A short reason for a missing name: the broken cell or failed statement, if any."""
        if self._not_started:
            return f" (not checked: {self._not_started})"
        return self.extraction.why_undefined(name, self.load_errors)

    def explain_error(self, message: str) -> str:
        """Where a name the error says is undefined is built at top level, and why it was not."""
        return self.extraction.explain_name_error(message, self.load_errors)

    def run(self, probe: Callable, *args: Any, timeout: float | None = None) -> Any:
        """Run ``probe(namespace, *args)`` in the sandbox and return its plain-data result."""
        name = self.current_graded_name
        if name in self.timed_out:
            raise SandboxError(f"not run: an earlier test of {name} timed out after {self.timed_out[name]:.0f} s")
        if self.crashes.get(name, 0) >= self.limits.max_restarts:
            raise SandboxError(f"not run: {name} ended the Python process in {self.crashes[name]} earlier tests")
        source = textwrap.dedent(inspect.getsource(probe))
        request = {"op": "run", "name": probe.__name__, "source": source, "args": list(args),
                   "seed": zlib.crc32(probe.__name__.encode()) & 0x7FFFFFFF}
        limit = min(timeout or self.limits.call_seconds, self._time_left())
        child = self._ensure_child()
        try:
            channel.send_request(child.request_fd, request)
            reply = channel.receive(child.reply_fd, timeout=limit)
        except channel.ChannelTimeout:
            self._kill()
            self.timed_out[self.current_graded_name] = limit
            raise SandboxError(f"{probe_label(probe)} timed out after {limit:.0f} s "
                               "(look for an infinite loop or a very slow step)") from None
        except channel.ChannelClosed:
            self.crashes[name] = self.crashes.get(name, 0) + 1
            raise SandboxError(self._death_message(probe)) from None
        if not reply.get("ok"):
            if reply.get("memory"):
                raise SandboxError(f"ran out of memory: the sandbox allows {self.limits.memory_mb} MiB "
                                   f"({reply.get('message', '')})")
            raise StudentCodeError(str(reply.get("message", "unknown error")))
        return reply.get("value")

    def source_of(self, name: str) -> str:
        statement = self.extraction.last_definition(name)
        return statement.source if statement else ""

    def record(self, key: str, value: float) -> None:
        self.leaderboard[key] = float(value)

    def close(self) -> None:
        self._kill()
        spawner, self._spawner = self._spawner, None
        if spawner is not None:
            spawner.close()

    # -- the child's life ---------------------------------------------------------------------

    def _time_left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise SandboxError(f"not run: grading reached its limit of {self.limits.total_seconds:.0f} s")
        return left

    def start(self) -> None:
        """Start the child and send it the definitions now; the answer is read on first use."""
        if self._child is None:
            self._start()

    def _ensure_child(self) -> _Child:
        while True:
            if self._child is not None and self._loading:
                self._await_load()
            if self._child is not None and self._child.process.poll() is None:
                return self._child
            self._time_left()  # every start leaves out a statement or follows a crash: bounded by time
            self._start()

    def _start(self) -> None:
        """Start a child and send it every statement not yet known to hang or crash."""
        self._kill()
        self._child = self._spawn()
        self._loading = True
        self._load_spent = 0.0
        # A left-out statement still unbinds its names: Python would never have got past it.
        statements = [(i, s.cell, s.first_line, s.source, list(s.names), i in self.excluded)
                      for i, s in enumerate(self.extraction.statements)]
        try:
            channel.send_request(self._child.request_fd, {"op": "load", "statements": statements})
        except channel.ChannelClosed:
            pass  # the child died at once: reading its report says so

    def _await_load(self) -> None:
        """Read the load report; a statement that hangs or kills the child is left out for good.

        Each start has ``load_seconds`` to run the statements, counted from the first one (not the
        child's own imports); when it runs out, ``_over_budget`` decides what is left out."""
        current, since, deadline = None, time.monotonic(), None
        while True:
            now = time.monotonic()
            # Before its first statement the child imports torch: on a loaded machine that alone can take
            # longer than a statement may.
            wait = START_SECONDS if deadline is None else min(self.limits.statement_seconds, deadline - now)
            try:
                message = channel.receive(self._child.reply_fd, timeout=max(0.0, min(wait, self._time_left())))
            except (channel.ChannelTimeout, channel.ChannelClosed) as failure:
                self._loading = False
                if current is not None:
                    self._durations[current] = time.monotonic() - since
                    self._load_spent += time.monotonic() - since
                if self._deadline - time.monotonic() <= 0.05:  # out of time for the whole submission
                    self._kill()
                    self._time_left()
                if isinstance(failure, channel.ChannelClosed):
                    self._give_up_on(current, "it ended the Python process")
                elif deadline is None:
                    self._give_up_on(None, f"it did not start within {START_SECONDS:.0f} s")
                elif time.monotonic() < deadline - 0.05:
                    self._give_up_on(current, f"it ran longer than {self.limits.statement_seconds:.0f} s")
                else:
                    self._over_budget(current)
                return
            if message.get("op") == "progress":
                now = time.monotonic()
                if current is not None:
                    self._durations[current] = now - since
                    self._load_spent += now - since
                else:
                    deadline = now + max(0.0, self.limits.load_seconds - self._load_spent)
                current, since = message.get("index"), now
                continue
            self._loading = False
            if current is not None:
                self._durations[current] = time.monotonic() - since
                self._load_spent += time.monotonic() - since
            self.load_errors.update({int(i): str(m) for i, m in message.get("errors", [])})
            self.defined_names = {str(n) for n in message.get("defined", [])}
            return

    def _give_up_on(self, index: int | None, why: str) -> None:
        self._kill()
        if index is None:
            raise SandboxError(f"the submission's process did not start ({why})")
        self.excluded.add(index)
        self.load_errors[index] = f"left out because {why}"

    def _over_budget(self, running: int | None) -> None:
        """Loading ran past its budget: leave out the statement running and the slowest ones
        until what is left took at most half the budget, so the next start can finish."""
        why = f"loading the notebook ran past its budget of {self.limits.load_seconds:.0f} s"
        if running is None:
            self._give_up_on(None, why)
        self._give_up_on(running, why)
        kept = {i: s for i, s in self._durations.items() if i not in self.excluded}
        for index in sorted(kept, key=kept.get, reverse=True):
            if sum(kept.values()) <= self.limits.load_seconds / 2:
                break
            self.excluded.add(index)
            self.load_errors[index] = f"left out because it took {kept.pop(index):.0f} s and {why}"

    def _spawn(self) -> _Child:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        if self._may_fork:  # the first start: before the grader loads its tests (see autograder.fork_start)
            self._may_fork = False
            fork_start.preload(self.preload)
            self._spawner = fork_start.Spawner()
        limits = self.limits
        box = (self.box, self.workdir, self._root, self._child_env(), (request_read, reply_write),
               (limits.memory_mb, limits.cpu_seconds, limits.file_size_mb, limits.max_processes))
        process = self._spawned(box) if self._spawner else None
        if process is None:  # hashing not seeded, or no spawner: a fresh interpreter each time
            process = fork_start.start_box(*box, serve=None)
        os.close(request_read)
        os.close(reply_write)
        for fd in (request_write, reply_read):
            os.set_inheritable(fd, False)
        return _Child(process, request_write, reply_read)

    def _spawned(self, box: tuple) -> fork_start.SpawnedProcess | None:
        """The box started by the spawner; None when the spawner is gone (killed), which leaves the
        rest of this submission to fresh interpreters."""
        try:
            return self._spawner.start_box(*box)
        except OSError:
            spawner, self._spawner = self._spawner, None
            spawner.close()  # reaps it
            return None

    def _child_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(KIT_ROOT),
            "HOME": str(self.workdir),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "TMPDIR": str(self.workdir),  # the scratch folder, as in a notebook's working folder
            "USER": "student",
            "LOGNAME": "student",
        }

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        for fd in (child.request_fd, child.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if child.process.returncode is None:  # not reaped yet, so its pid is still its own
            try:  # the outer process kills the box's first process and waits for it: with a PID namespace,
                os.kill(child.process.pid, signal.SIGTERM)  # that first process ends only once every other has
            except (ProcessLookupError, PermissionError):
                pass
            child.process.exited(timeout=BOX_END_SECONDS)
            try:
                os.killpg(child.process.pid, signal.SIGKILL)  # the outer, if it did not end in time, and its group
            except (ProcessLookupError, PermissionError):
                pass
        child.process.wait()

    def _death_message(self, probe: Callable) -> str:
        child, code = self._child, None
        if child is not None:
            try:
                code = child.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        if code == -signal.SIGXCPU:
            return f"{probe_label(probe)} used up the sandbox's CPU time"
        if code is not None and code < 0:
            return (f"{probe_label(probe)} crashed the Python process "
                    f"({signal.Signals(-code).name}; very deep recursion or too much memory can do this)")
        return f"{probe_label(probe)} ended the Python process (exit code {code}); do not call exit() in graded code"


def probe_label(probe: Callable) -> str:
    """How a failure names what was running: the probe's docstring, or its name."""
    doc = (probe.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else "your code"
