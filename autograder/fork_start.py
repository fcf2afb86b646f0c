"""Starting the sandbox child: a spawner, then two forks, the second one inside new namespaces.

When hashing is seeded, the grading process forks a *spawner* (``Spawner``) just before its first
box, and every box of the submission is started from it: the first child and each restart after a
hang or a crash. The spawner forks an *outer* process, which makes a new session, enters new
namespaces (``containment.enter_namespaces``) and forks the box's first process: PID 1 of its own
PID namespace. That process builds its file system view, gives up every privilege
(``containment.enter_box``) and forks the submission's process, which serves the grader (or, where
hashing is not seeded, the grader forks the outer itself and the submission's process execs
``python -m autograder.sandbox_child``); PID 1 stays behind as the namespace's init, reaping orphans.
The outer process only waits, and ends with the submission's exit status. On SIGTERM (the grader's
way to end a box) it kills the box's first process and still waits for it: that process ends only
after every other process of its PID namespace, so the outer's exit tells the grader the box is
empty. When the outer process dies instead (killed, or with the spawner or the grader), the box's
first process dies with it (``PR_SET_PDEATHSIG``), and with it, by the kernel's hand, every process
the submission made: nothing can outlive it by racing a sweep.

Why children are forked rather than exec'd: a fresh child spends seconds importing torch (and
torch_geometric) that the grader has imported too. A child forked after the grader's imports shares
them, so a submission costs one import instead of two, and a restart costs a fork instead of an
import. It is safe because:

* the spawner is forked before the grader loads its tests or reads held-out data, so its memory,
  which every child copies, holds nothing to find (the kit's code, the student's own extraction,
  paths); the spawner never runs student code and takes orders only from the grader;
* the grader has run no torch operation yet, so no thread pool is copied half-alive;
* string hashing is seeded (``PYTHONHASHSEED=0``, which ``python -m autograder`` sets), so the
  child hashes as an exec'd child does and grading stays deterministic.
"""
from __future__ import annotations

import functools
import gc
import importlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from autograder import containment

BOX_FAILED = 71  # the box could not be built: the outer process's exit code


def can_fork() -> bool:
    """Serving from the fork keeps grading deterministic only when string hashing is seeded; the
    spawner hands the grader a pidfd of each box (Linux 5.3 and later)."""
    return sys.flags.hash_randomization == 0 and hasattr(os, "fork") and hasattr(os, "pidfd_open")


def preload(modules: tuple[str, ...]) -> None:
    """Import, in the grader, the libraries the child will need (site-packages only: the grader's
    ``sys.path`` never holds the submission's folder)."""
    for module in modules:
        importlib.import_module(module)
    freeze_imported()


def freeze_imported() -> None:
    """Put every object that exists now out of the garbage collector's sight (``gc.freeze``).

    torch's import leaves about a million long-lived objects that each full collection would walk:
    the first one, triggered by whatever allocates next (parsing the notebook, a child's first
    test), cost about 0.08 s of every grading. Frozen objects are never collected (they are the
    libraries' own), and a forked child no longer touches, and so copies, their memory pages."""
    gc.freeze()


class ForkedProcess:
    """The part of ``subprocess.Popen`` that the sandbox uses, for the outer process."""

    def __init__(self, pid: int, execed: bool):
        self.pid = pid
        self.execed = execed  # whether the box execs a fresh interpreter (a restart)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped
                self.returncode = -9
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def exited(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the process to end, without reaping it: its pid, and so its
        process group, stay reserved until ``wait``."""
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            try:
                if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                    return True
            except ChildProcessError:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"sandbox child {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode


class Spawner:
    """A fork of the grader, made before the grader loads its tests, that starts every box of one
    submission on the grader's orders (see the module docstring). It is the parent of each box's
    outer process; the grader ends boxes through the pidfd it gets for each, and has the spawner
    reap them only when asked, so an outer's pid stays reserved until the grader is done with it."""

    def __init__(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        grader = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self._socket.close()
                _serve_spawns(theirs, grader)
            finally:
                os._exit(0)
        theirs.close()
        self.pid = pid

    def start_box(self, box: containment.Box, workdir: Path, root: Path, env: dict[str, str],
                  keep_fds: tuple[int, int], limits: tuple[int, int, int, int]) -> SpawnedProcess:
        """Start a box whose submission process serves on ``keep_fds`` (a request pipe's read end and
        a reply pipe's write end, which the grader may close once this returns)."""
        order = pickle.dumps({"op": "start", "box": box, "workdir": workdir, "root": root, "env": env,
                              "limits": limits})
        socket.send_fds(self._socket, [order], list(keep_fds))
        reply, fds, _, _ = socket.recv_fds(self._socket, 1 << 16, 1)
        if not reply or not fds:
            raise OSError("the sandbox's spawner is gone")
        return SpawnedProcess(pickle.loads(reply)["pid"], fds[0], self)

    def reap(self, pid: int) -> int:
        """The exit code of a box's outer process that has ended, which the spawner then reaps."""
        try:
            self._socket.send(pickle.dumps({"op": "reap", "pid": pid}))
            reply = self._socket.recv(1 << 16)
        except OSError:  # the spawner is gone (killed): so is the box, with its parent
            reply = b""
        return pickle.loads(reply)["code"] if reply else -signal.SIGKILL

    def close(self) -> None:
        """End the spawner (it sees the socket close) and reap it."""
        self._socket.close()
        os.waitpid(self.pid, 0)


def _serve_spawns(orders: socket.socket, grader: int) -> None:
    """The spawner's life: start boxes and reap them until the grader closes the socket."""
    containment._libc().prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the grader,
    if os.getppid() != grader:  # and with it every box (their outer processes die with their parent)
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the grader's to handle
    _close_all_but({0, 1, 2, orders.fileno()})
    from autograder import sandbox_child

    while True:
        message, fds, _, _ = socket.recv_fds(orders, 1 << 16, 2)
        if not message:
            os._exit(0)
        order = pickle.loads(message)  # from the grader, the only other end of this socket
        if order["op"] == "start":
            serve = functools.partial(sandbox_child.main, *fds)
            process = start_box(order["box"], order["workdir"], order["root"], order["env"], tuple(fds),
                                order["limits"], serve)
            for fd in fds:
                os.close(fd)
            pidfd = os.pidfd_open(process.pid)  # not reaped before the grader asks: the pid is still this box's
            socket.send_fds(orders, [pickle.dumps({"pid": process.pid})], [pidfd])
            os.close(pidfd)
        else:
            _, status = os.waitpid(order["pid"], 0)
            orders.send(pickle.dumps({"code": os.waitstatus_to_exitcode(status)}))


class SpawnedProcess:
    """A box's outer process started by the spawner: ``ForkedProcess``'s interface, through a pidfd
    (which tells when it ends, and cannot signal another process that reuses its pid) and the
    spawner (which reaps it and tells its exit code)."""

    execed = False

    def __init__(self, pid: int, pidfd: int, spawner: Spawner):
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = pidfd
        self._spawner = spawner

    def exited(self, timeout: float | None) -> bool:
        """Whether it has ended within ``timeout`` (None: wait for it), without reaping it: its pid
        and process group stay reserved until ``poll`` or ``wait``."""
        if self.returncode is not None:
            return True
        return bool(select.select([self._pidfd], [], [], None if timeout is None else max(0.0, timeout))[0])

    def poll(self) -> int | None:
        if self.returncode is None and self.exited(0):
            self.returncode = self._spawner.reap(self.pid)
            os.close(self._pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.exited(timeout):
            raise subprocess.TimeoutExpired(f"sandbox child {self.pid}", timeout)
        return self.poll()


def start_box(box: containment.Box, workdir: Path, root: Path, env: dict[str, str], keep_fds: tuple[int, int],
              limits: tuple[int, int, int, int], serve: Callable[[], None] | None) -> ForkedProcess:
    """Start the box; ``serve`` runs in it (a fork of the grader), or, when None, the box execs
    ``python -m autograder.sandbox_child``. Returns the outer process, in the grader."""
    sys.stdout.flush()
    sys.stderr.flush()
    grader = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid, execed=serve is None)
    try:
        containment._libc().prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a killed grader
        if os.getppid() != grader:  # takes the box with it, even when it dies before we got here
            os._exit(BOX_FAILED)
        _outer(box, workdir, root, env, keep_fds, limits, serve)
    finally:
        os._exit(BOX_FAILED)  # never return into the grader's code


def _outer(box, workdir, root, env, keep_fds, limits, serve) -> None:
    os.setsid()  # a new session and process group, killed as a whole
    _quiet_standard_streams()
    _close_all_but({0, 1, 2, *keep_fds})
    if box.namespaces:
        containment.enter_namespaces(box)
    alive_read, alive_write = os.pipe()  # the box sees EOF here once this process is gone
    pid = os.fork()
    if pid == 0:
        os.close(alive_write)
        try:
            _box(box, workdir, root, env, keep_fds, limits, serve, alive_read)
        finally:
            os._exit(BOX_FAILED)
    for fd in (*keep_fds, alive_read):
        os.close(fd)  # the grader sees the pipes close when the box dies, not when we do
    signal.signal(signal.SIGTERM, _killer_of(pid))  # the grader's way to end the box
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    number = -code if code < 0 else (code - 128 if box.namespaces and 128 < code < 128 + signal.NSIG else 0)
    if number:  # end as the submission's process ended, so the grader can tell why
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(code)


def _killer_of(pid: int) -> Callable:
    """A signal handler that kills ``pid``, through a pidfd where the kernel has them, so that a
    signal arriving after the process was reaped cannot hit another process given the same pid."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux before 5.3
        return lambda *_: _quietly(os.kill, pid, signal.SIGKILL)
    return lambda *_: _quietly(signal.pidfd_send_signal, pidfd, signal.SIGKILL)


def _quietly(send: Callable, target: int, number: int) -> None:
    try:
        send(target, number)
    except OSError:  # already gone
        pass


def _box(box, workdir, root, env, keep_fds, limits, serve, alive_read) -> None:
    _become_a_fresh_child(workdir, env)
    containment.enter_box(box, workdir, root, limits)
    # Set after the uid change (which clears it); then make sure the outer process is still there.
    containment._libc().prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.set_blocking(alive_read, False)
    try:
        if os.read(alive_read, 1) == b"":
            os._exit(BOX_FAILED)
    except BlockingIOError:
        pass
    os.close(alive_read)
    if box.namespaces:
        child = os.fork()
        if child:
            _init(child, keep_fds)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any Python program
    if serve is not None:
        serve()
        os._exit(0)
    os.set_inheritable(keep_fds[0], True)
    os.set_inheritable(keep_fds[1], True)
    os.execve(sys.executable, [sys.executable, "-m", "autograder.sandbox_child", *map(str, keep_fds)], env)


def _init(child: int, keep_fds: tuple[int, int]) -> None:
    """PID 1 of the box: reaps every orphan (a chain of forks would otherwise fill the process
    limit with zombies), and ends, taking the namespace with it, when the submission's process
    does. A signal that ended it is told by an exit code of 128 + its number (PID 1 cannot be
    signalled from inside)."""
    for fd in keep_fds:
        os.close(fd)  # the grader sees the pipes close when the submission's process dies
    containment._libc().prctl(containment.PR_SET_DUMPABLE, 0, 0, 0, 0)  # its memory, a copy of the
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # grader's, is not the submission's to read or write
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(BOX_FAILED)
        except InterruptedError:
            continue
        if pid == child:  # the submission's process
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def start_probe(box: containment.Box) -> Callable[[], bool]:
    """Start building ``box``, a box that exits at once, in a throwaway folder; returns the
    function that waits for the answer (whether it could be built here) and removes the folder."""
    scratch = tempfile.TemporaryDirectory(prefix="kit-probe-")
    os.chmod(scratch.name, 0o711)  # as grade's scratch folder: a box of another uid, without namespaces, enters it
    workdir, root = Path(scratch.name) / "submission", Path(scratch.name) / "root"
    workdir.mkdir()
    root.mkdir()
    containment.hand_over(workdir, box)
    read, write = os.pipe()
    process = start_box(box, workdir, root, {"PATH": "/usr/bin:/bin"}, (read, write), (4096, 10, 1, 64),
                        serve=lambda: None)
    os.close(read)
    os.close(write)

    def answer() -> bool:
        try:
            return process.wait(timeout=30) == 0
        finally:
            scratch.cleanup()

    return answer


def _quiet_standard_streams() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _become_a_fresh_child(workdir: Path, env: dict[str, str]) -> None:
    """What an exec'd child gets from its command line and environment, set by hand."""
    grader_folder = os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # re-read TMPDIR: the scratch folder
    sys.dont_write_bytecode = True
    sys.path[:] = [str(workdir)] + [p for p in sys.path if p not in ("", ".", grader_folder)]


def _close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
