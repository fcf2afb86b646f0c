"""The sandboxed run: a submission's code lives in a child process under hard limits.

The grading process never imports student code. It starts ``autograder.sandbox_child`` with
limits on address space, CPU time, file size and process count, in a new session (so the whole
process group can be killed), in a scratch copy of the submission, optionally as an unprivileged
user (Gradescope), and talks to it only through ``autograder.channel``.

The first child is forked from the grading process once torch is imported, so that the import is
paid once (``autograder.fork_start`` says when that is safe); a restarted child is exec'd fresh.

When a statement hangs or kills the child while loading, that statement is left out and the child
is started again, so a broken cell costs only what it defines. When a probe hangs or kills the
child, that test fails with a one-line reason and the next test gets a fresh child.
"""
from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from autograder import channel, containment, fork_start
from coursekit.notebook import Extraction
from coursekit.testing import SandboxError, StudentCodeError

KIT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Suites override these in their ``suite.toml``."""

    memory_mb: int = 4096  # address space of the child; torch alone maps about 1 GiB
    call_seconds: float = 20.0  # one probe
    statement_seconds: float = 15.0  # one import or definition while loading
    load_seconds: float = 60.0  # all imports and definitions
    total_seconds: float = 300.0  # the whole grading of one submission
    cpu_seconds: int = 600
    file_size_mb: int = 256
    max_processes: int = 64
    max_restarts: int = 8


@dataclass
class _Child:
    process: subprocess.Popen | fork_start.ForkedProcess
    request_fd: int
    reply_fd: int


@dataclass
class SandboxedSubmission:
    """A submission seen through its sandbox: the ``sub`` that tests receive in the grader."""

    extraction: Extraction
    workdir: Path
    limits: Limits = field(default_factory=Limits)
    user: str | None = None  # run the child as this user (Gradescope's "student")
    preload: tuple[str, ...] = ("torch",)  # imported by the grader first, shared with a forked child
    isolation: bool = True  # read-only file system and no network, where the OS permits it
    excluded: set[int] = field(default_factory=set)
    load_errors: dict[int, str] = field(default_factory=dict)
    defined_names: set[str] = field(default_factory=set)
    leaderboard: dict[str, float] = field(default_factory=dict)
    current_graded_name: str = ""  # set by coursekit.testing.run_test: whose test is running
    timed_out: dict[str, float] = field(default_factory=dict)  # graded name -> seconds it hung for

    def __post_init__(self) -> None:
        self._child: _Child | None = None
        self._loading = False
        self._restarts = 0
        self._may_fork = fork_start.can_fork()  # the first child only: see autograder.fork_start
        self._deadline = time.monotonic() + self.limits.total_seconds

    # -- what tests call -----------------------------------------------------------------------

    def defined(self, name: str) -> bool:
        self._ensure_child()
        return name in self.defined_names

    def why_undefined(self, name: str) -> str:
        """A short reason for a missing name: the broken cell or failed statement, if any."""
        return self.extraction.why_undefined(name, self.load_errors)

    def explain_error(self, message: str) -> str:
        """Where a name the error says is undefined is built at top level, and why it was not."""
        return self.extraction.explain_name_error(message, self.load_errors)

    def run(self, probe: Callable, *args: Any, timeout: float | None = None) -> Any:
        """Run ``probe(namespace, *args)`` in the sandbox and return its plain-data result."""
        if self.current_graded_name in self.timed_out:
            raise SandboxError(f"not run: an earlier test of {self.current_graded_name} timed out after "
                               f"{self.timed_out[self.current_graded_name]:.0f} s")
        source = textwrap.dedent(inspect.getsource(probe))
        request = {"op": "run", "name": probe.__name__, "source": source, "args": list(args),
                   "seed": zlib.crc32(probe.__name__.encode()) & 0x7FFFFFFF}
        limit = min(timeout or self.limits.call_seconds, self._time_left())
        child = self._ensure_child()
        try:
            channel.send(child.request_fd, request)
            reply = channel.receive(child.reply_fd, timeout=limit)
        except channel.ChannelTimeout:
            self._kill()
            self.timed_out[self.current_graded_name] = limit
            raise SandboxError(f"{probe_label(probe)} timed out after {limit:.0f} s "
                               "(look for an infinite loop or a very slow step)") from None
        except channel.ChannelClosed:
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
            if self._restarts > self.limits.max_restarts:
                raise SandboxError("not run: the submission's process kept crashing")
            self._restarts += 1
            self._start()

    def _start(self) -> None:
        """Start a child and send it every statement not yet known to hang or crash."""
        self._kill()
        self._child = self._spawn()
        self._loading = True
        # A left-out statement still unbinds its names: Python would never have got past it.
        statements = [(i, s.cell, s.first_line, s.source, list(s.names), i in self.excluded)
                      for i, s in enumerate(self.extraction.statements)]
        channel.send(self._child.request_fd, {"op": "load", "statements": statements})

    def _await_load(self) -> None:
        """Read the load report; a statement that hangs or kills the child is left out next time."""
        current = None
        deadline = time.monotonic() + min(self.limits.load_seconds, self._time_left())
        while True:
            wait = min(self.limits.statement_seconds, deadline - time.monotonic())
            try:
                message = channel.receive(self._child.reply_fd, timeout=max(0.0, wait))
            except (channel.ChannelTimeout, channel.ChannelClosed) as failure:
                self._loading = False
                self._give_up_on(current, f"it ran longer than {self.limits.statement_seconds:.0f} s"
                                 if isinstance(failure, channel.ChannelTimeout) else "it ended the Python process")
                return
            if message.get("op") == "progress":
                current = message.get("index")
                continue
            self._loading = False
            self.load_errors.update({int(i): str(m) for i, m in message.get("errors", [])})
            self.defined_names = {str(n) for n in message.get("defined", [])}
            return

    def _give_up_on(self, index: int | None, why: str) -> None:
        self._kill()
        if index is None:
            raise SandboxError(f"the submission's process did not start ({why})")
        self.excluded.add(index)
        self.load_errors[index] = f"left out because {why}"

    def _spawn(self) -> _Child:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        if self._may_fork:
            self._may_fork = False
            fork_start.preload(self.preload)
            process = fork_start.fork_child(self.workdir, self._child_env(), (request_read, reply_write), self._box_forked)
        else:
            process = self._exec_child(request_read, reply_write)
        os.close(request_read)
        os.close(reply_write)
        return _Child(process, request_write, reply_read)

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
            "TMPDIR": str(self.workdir),  # the only writable place when isolated
        }

    def _exec_child(self, request_read: int, reply_write: int) -> subprocess.Popen:
        env = self._child_env()
        command = [sys.executable, "-m", "autograder.sandbox_child", str(request_read), str(reply_write)]
        options = dict(cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, pass_fds=(request_read, reply_write), start_new_session=True,
                       preexec_fn=self._limit_child)
        try:
            process = subprocess.Popen(command, **options)
        except subprocess.SubprocessError:  # namespaces not permitted here: limits and user only
            self.isolation = False
            process = subprocess.Popen(command, **options)
        return process

    def _box_forked(self) -> None:
        """The same box for a forked child; where namespaces are not permitted, it goes without,
        as an exec'd child does after its first try."""
        try:
            self._limit_child()
        except OSError:
            self.isolation = False
            self._limit_child()

    def _limit_child(self) -> None:
        """Runs in the child between fork and exec: see ``autograder.containment``."""
        limits = self.limits
        containment.apply_limits(limits.memory_mb, limits.cpu_seconds, limits.file_size_mb, limits.max_processes)
        if self.isolation:
            containment.isolate(self.workdir)
        if self.user:
            containment.drop_privileges(self.user)

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        for fd in (child.request_fd, child.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
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
