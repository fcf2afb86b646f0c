"""Starting the sandbox child by ``fork`` from the grading process, with torch already imported.

Why: a fresh child spends seconds importing torch (and torch_geometric) that the grader has
imported too. A child forked after the grader's imports shares them, so a submission costs one
import instead of two: on a one-CPU container that halves the wait, and ``grade-batch`` gets
through more submissions on the same cores.

When it is safe, and ``autograder.sandbox`` only forks then:

* only the first child of a submission is forked, before the grader loads its tests or reads
  held-out data, so the child's copy of the grader's memory holds nothing to find (the kit's
  code, the student's own extraction, paths); a restarted child is exec'd fresh as before;
* the grader has run no torch operation yet, so no thread pool is copied half-alive;
* string hashing is seeded (``PYTHONHASHSEED=0``, which ``python -m autograder`` sets), so the
  child hashes as an exec'd child does and grading stays deterministic.

The child is boxed exactly as an exec'd one (``containment``), gets the same environment and
working folder, and runs the same ``sandbox_child.main``.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from autograder import sandbox_child


def can_fork() -> bool:
    """Forking keeps grading deterministic only when string hashing is seeded the same way."""
    return sys.flags.hash_randomization == 0 and hasattr(os, "fork")


def preload(modules: tuple[str, ...]) -> None:
    """Import, in the grader, the libraries the child will need (site-packages only: the grader's
    ``sys.path`` never holds the submission's folder)."""
    for module in modules:
        importlib.import_module(module)


class ForkedProcess:
    """The part of ``subprocess.Popen`` that the sandbox uses, for a child made by ``os.fork``."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped (by kill_strays, say)
                self.returncode = -9
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"sandbox child {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode


def fork_child(workdir: Path, env: dict[str, str], keep_fds: tuple[int, int],
               box: Callable[[], None]) -> ForkedProcess:
    """Fork; in the child, become what ``python -m autograder.sandbox_child`` would be, apply
    ``box`` (limits, isolation, user) and serve. Returns the child in the parent."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid)
    try:
        _become_a_fresh_child(workdir, env, keep_fds)
        box()
        sandbox_child.main(*keep_fds)
    finally:
        os._exit(70)  # never return into the grader's code


def _become_a_fresh_child(workdir: Path, env: dict[str, str], keep_fds: tuple[int, int]) -> None:
    """What an exec'd child gets from its command line and environment, set by hand."""
    import tempfile

    os.setsid()  # its own session and process group, killed as a whole
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    _close_all_but({0, 1, 2, *keep_fds})
    grader_folder = os.getcwd()
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # re-read TMPDIR: the scratch folder, the only writable place
    sys.dont_write_bytecode = True
    sys.path[:] = [str(workdir)] + [p for p in sys.path if p not in ("", ".", grader_folder)]


def _close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
