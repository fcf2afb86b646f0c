"""What keeps a submission's process in its box. Applied between fork and exec of the child.

Layers, each independent of the others:

1. resource limits: address space, CPU seconds, file size, process count, no core dumps;
2. when the grader may create namespaces (root on Linux, as in CI and most containers): a private
   mount namespace where the whole file system is read-only except the submission's scratch
   folder, and an empty network namespace (no network at all);
3. when a sandbox user is given (Gradescope's ``student``): the child runs as that user, which
   cannot read the hidden tests or write the results;
4. in the grading process: the child's process group is killed after grading, and the grader is a
   "subreaper", so even a double-forked daemon is re-parented to it and killed.

Nothing here depends on recognising what student code does; it only bounds what it can reach.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
from pathlib import Path

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
PR_SET_CHILD_SUBREAPER = 36
MIB = 1024 * 1024


def apply_limits(memory_mb: int, cpu_seconds: int, file_size_mb: int, max_processes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * MIB,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_mb * MIB,) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def isolate(writable: Path) -> None:
    """Read-only file system except ``writable``, and no network. Raises OSError if not permitted."""
    libc = ctypes.CDLL(None, use_errno=True)

    def call(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    target = str(writable).encode()
    call(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    call(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    call(libc.mount(target, target, None, MS_BIND, None), "keep the scratch folder writable")
    call(libc.mount(b"/", b"/", None, MS_BIND | MS_REC, None), "bind the root")
    call(libc.mount(None, b"/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None), "make the root read-only")


def drop_privileges(user: str) -> None:
    import pwd

    record = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(record.pw_gid)
    os.setuid(record.pw_uid)


def check_sandbox_user(user: str) -> None:
    """Fail with one line, before grading, when ``user`` does not exist or cannot reach the Python
    installation (a Python under /root, say): its code could not import the standard library."""
    import pwd
    import sysconfig

    from autograder.errors import UserError

    try:
        record = pwd.getpwnam(user)
    except KeyError:
        raise UserError(f"no user {user!r} on this machine: create it (Gradescope's setup.sh does) or "
                        "grade without --sandbox-user") from None
    for what in ("stdlib", "purelib"):
        target = Path(sysconfig.get_paths()[what])
        blocked = first_closed_folder(target, record.pw_uid, record.pw_gid)
        if blocked:
            raise UserError(f"the sandbox user {user!r} cannot enter {blocked}, on the way to Python's {what} "
                            f"({target}): install Python where every user can read it, "
                            "or grade without --sandbox-user")


def first_closed_folder(path: Path, uid: int, gid: int) -> Path | None:
    """The first folder from / down to ``path`` that the user (uid, gid) may not enter, if any."""
    import stat

    for folder in [*reversed(path.parents), path]:
        info = folder.stat()
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return folder
    return None


def become_subreaper() -> None:
    """Orphaned descendants of this process are re-parented to it (Linux), so they can be reaped."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def kill_strays() -> None:
    """Kill and reap every child of this process: after grading, any left is a submission's."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me:
            pid = int(stat.parent.name)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass
