"""What keeps a submission's process in its box, and the grader out of its reach.

The child that runs student code is made in two steps (``autograder.fork_start``): an outer
process that creates the namespaces, and the box's first process inside them, which builds its
view of the file system and then gives up every privilege before any student code runs.

Layers, each independent of the others, strongest first:

1. where the OS permits namespaces (root, or a user namespace for anyone else): its own PID
   namespace (it cannot see or signal the grader; when its first process dies, the kernel kills
   every process it made), mount, network, IPC and UTS namespaces. Its root is a fresh tmpfs that
   shows, read-only, only Python, its packages, the system libraries, ``/etc`` and the kit's
   engine code without ``autograder/suites`` (hidden tests, held-out data); the submission's
   scratch folder is the only writable place besides a private ``/tmp`` and ``/dev/shm``;
   ``/proc`` shows only the box's processes; there is no network;
2. always: an unprivileged uid (the one ``--sandbox-user`` names, else one picked per grading
   process, never root), no capabilities, ``no_new_privs``, and a seccomp filter (libseccomp)
   that refuses ptrace, ``process_vm_*``, mount, ``setns``, ``unshare``, new namespaces, bpf,
   keyrings, module loading and the like;
3. resource limits: address space, CPU seconds, file size, processes (root is no longer exempt,
   since the child is not root), no core dumps;
4. in the grader: it is made non-dumpable, so its memory and files under ``/proc`` are closed to
   other processes of any uid; without a PID namespace, every process of the box's uid is killed
   after grading (``kill_uid``), and the grader (a subreaper) kills its remaining descendants.

Nothing here depends on recognising what student code does; it only bounds what it can reach.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno as errnos
import os
import platform
import resource
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP = 0x10000000, 0x20000000, 0x40000000, 0x02000000
NEW_NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_NOATIME, MS_NODIRATIME, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 36, 47, 4
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
MIB = 1024 * 1024
SANDBOX_UID_BASE = 1_900_000_000  # + the grader's pid: a uid no account and no other grading uses
DEVICES = ("null", "zero", "full", "random", "urandom")

# Refused with EPERM (clone3 with ENOSYS, so that libc falls back to clone, whose flags are checked).
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "setns", "unshare",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot", "syslog", "acct",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "quotactl", "iopl", "ioperm",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "uselib", "vhangup",
)
NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                   CLONE_NEWCGROUP)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


@dataclass(frozen=True)
class Box:
    """How a submission's child is confined: decided once by the grader, applied in the child."""

    uid: int  # the uid student code runs as (in a user namespace: as the kernel sees it outside)
    gid: int
    namespaces: bool  # pid, mount, network, IPC and UTS namespaces, and the narrowed file system
    user_namespace: bool  # the grader is not root: privileges come from a user namespace
    seccomp: bool
    visible: tuple[str, ...] = ()  # read-only in the child's file system (with namespaces)
    hidden: tuple[str, ...] = ()  # folders inside ``visible`` shown empty
    drop_uid: bool = True  # root grader: setuid to ``uid``
    why_root: str = ""  # why student code stays root, when it does

    def describe(self) -> str:
        """The one line ``grade`` prints: which protections are active."""
        parts = []
        if self.namespaces:
            parts.append("own PID, mount, network and IPC namespaces"
                         + (" (user namespace)" if self.user_namespace else ""))
            parts.append("file system: scratch folder, private /tmp and /dev/shm, Python read-only; "
                         "hidden tests and held-out data not in view")
        else:
            parts.append("NO namespaces (not permitted here): student code sees the file system "
                         "as its uid does, and the network")
        parts.append(f"uid {self.uid}" if self.uid != 0 else f"STILL ROOT ({self.why_root})")
        parts.append("no capabilities, no_new_privs")
        parts.append("seccomp filter (libseccomp)" if self.seccomp else "NO seccomp filter (libseccomp missing)")
        parts.append("resource limits, grader not dumpable")
        return "sandbox: " + "; ".join(parts)


_probed: dict[tuple, "bool | Callable[[], bool]"] = {}  # per kind of box: buildable here, or a probe running
_candidates_cache: dict[tuple, list[Box]] = {}


def plan_box(kit_root: Path, user: str | None = None) -> Box:
    """The strongest box this machine allows, tried once per grading process."""
    candidates = candidate_boxes(kit_root, user)
    for box in candidates[:-1]:
        if _can_build(box):
            return box
    return candidates[-1]  # limits, a change of uid where root, no_new_privs: what any Linux allows


def probe_ahead(kit_root: Path, user: str | None = None) -> None:
    """Start trying the strongest box now, in the background, so that ``plan_box`` later finds the
    answer ready: the probe builds a whole box (about 0.05 s), which overlaps with the grader's
    own imports when ``grade`` calls this before importing torch."""
    _start_probe(candidate_boxes(kit_root, user)[0])


def _start_probe(box: Box) -> tuple:
    """Start trying ``box`` unless a box of its kind was tried already; returns its kind."""
    key = (os.geteuid() == 0, box.namespaces, box.seccomp)
    if key not in _probed:
        from autograder import fork_start

        _probed[key] = fork_start.start_probe(box)
    return key


def _can_build(box: Box) -> bool:
    key = _start_probe(box)
    if callable(_probed[key]):  # still running: wait for its answer
        _probed[key] = _probed[key]()
    return _probed[key]


def candidate_boxes(kit_root: Path, user: str | None = None) -> list[Box]:
    """The boxes to try, strongest first; the last is what any Linux allows."""
    cache_key = (str(kit_root), user, os.geteuid(), os.getpid())
    if cache_key in _candidates_cache:
        return _candidates_cache[cache_key]
    if user:
        import pwd

        record = pwd.getpwnam(user)
        uid, gid = record.pw_uid, record.pw_gid
    elif os.geteuid() == 0:
        uid = gid = SANDBOX_UID_BASE + os.getpid()
    else:
        uid, gid = os.geteuid(), os.getegid()
    root = os.geteuid() == 0
    visible, hidden = file_system_view(kit_root)
    seccomp = seccomp_available()
    blocked = _closed_on_the_way(kit_root, uid, gid) if root else None
    if blocked:  # without a fresh root, that uid could not even import the standard library
        fallback = dict(uid=0, gid=0, drop_uid=False, why_root=f"other users cannot enter {blocked}: install Python "
                        "where every user can read it, or grade with namespaces")
    else:
        fallback = dict(uid=uid, gid=gid, drop_uid=root)
    candidates = [Box(uid, gid, True, not root, seccomp, visible, hidden, drop_uid=root),
                  Box(namespaces=False, user_namespace=False, seccomp=seccomp, **fallback),
                  Box(namespaces=False, user_namespace=False, seccomp=False, **fallback)]
    _candidates_cache[cache_key] = candidates
    return candidates


def _closed_on_the_way(kit_root: Path, uid: int, gid: int) -> Path | None:
    """The first folder that ``uid`` cannot enter on the way to Python or the kit, if any."""
    import sysconfig

    for target in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], os.path.dirname(sys.executable),
                   kit_root):
        blocked = first_closed_folder(Path(os.path.realpath(target)), uid, gid)
        if blocked:
            return blocked
    return None


def file_system_view(kit_root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the child may read: Python, its packages, system libraries, /etc, the kit's engine and
    student runtime (coursekit);
    and, inside those, what it may not: every suite folder (hidden tests, held-out data)."""
    import sysconfig

    kit_root = Path(os.path.realpath(kit_root))
    candidates = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/sys", sys.prefix, sys.base_prefix,
                  sys.exec_prefix, sys.base_exec_prefix, *sysconfig.get_paths().values(),
                  os.path.dirname(sys.executable), str(kit_root / "autograder"), str(kit_root / "coursekit")]
    for entry in sys.path:  # packages installed outside the prefixes (user site, PYTHONPATH)
        if not entry or not os.path.isdir(entry):
            continue
        real = Path(os.path.realpath(entry))
        if real == kit_root or real in kit_root.parents or kit_root in real.parents or str(real) == "/":
            continue  # the kit's own tree is shown only as its engine folder
        candidates.append(entry)
    visible = tuple(dict.fromkeys(c for c in candidates if os.path.lexists(c)))
    return visible, (str(kit_root / "autograder" / "suites"),)


# -- in the grader ------------------------------------------------------------------------------


def harden_grader() -> None:
    """No process may read the grader's memory or open its files through /proc (not even root
    without CAP_SYS_PTRACE)."""
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def become_subreaper() -> None:
    """Orphaned descendants of this process are re-parented to it (Linux), so they can be reaped."""
    try:
        _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def hand_over(folder: Path, box: Box) -> None:
    """The sandbox uid owns the scratch folder: the only place it may write."""
    if os.geteuid() != 0:
        return
    for parent, _, files in os.walk(folder):
        os.chown(parent, box.uid, box.gid)
        for name in files:
            os.chown(os.path.join(parent, name), box.uid, box.gid, follow_symlinks=False)


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (the box's own, when it has no PID namespace): a helper that
    becomes ``uid`` and signals -1 until nothing is left. A process of that uid cannot change uid
    (no_new_privs, no capabilities), so, unlike a sweep over /proc, nothing can slip past."""
    if os.geteuid() != 0 or uid == 0:
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            for _ in range(1000):
                os.kill(-1, signal.SIGKILL)  # every process this uid may signal, never itself
        except OSError:
            pass
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def kill_strays() -> None:
    """Kill and reap every child of this process. Needed only without a PID namespace: with one,
    the kernel has already killed every process of the box when its first process died."""
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


# -- in the outer process (a fork of the grader) ----------------------------------------------


def enter_namespaces(box: Box) -> None:
    """New namespaces for the box; with a user namespace, the grader's uid and gid mapped to
    themselves (so the scratch folder stays the child's). Raises OSError if not permitted."""
    flags = NEW_NAMESPACES | (CLONE_NEWUSER if box.user_namespace else 0)
    _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a fork of the non-dumpable grader: to write its own maps
    _check(_libc().unshare(flags), "unshare")
    if box.user_namespace:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{box.uid} {box.uid} 1")
        Path("/proc/self/gid_map").write_text(f"{box.gid} {box.gid} 1")
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# -- in the box's first process, before any student code ---------------------------------------


def enter_box(box: Box, workdir: Path, root: Path, limits: tuple[int, int, int, int]) -> None:
    """Build the file system view (with namespaces), then give up every privilege for good."""
    if box.namespaces:
        build_root(box, workdir, root)
    apply_limits(*limits)
    drop_privileges(box)
    if box.seccomp:
        install_seccomp()
    os.chdir(workdir)  # as its uid: a scratch folder it cannot enter fails here, not in student code


def apply_limits(memory_mb: int, cpu_seconds: int, file_size_mb: int, max_processes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * MIB,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_mb * MIB,) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def build_root(box: Box, workdir: Path, root: Path) -> None:
    """A tmpfs root holding read-only binds of ``box.visible``, the scratch folder writable,
    private /tmp, /dev (a few devices, its own shm) and a /proc of this PID namespace; then
    pivot into it and forget the old root."""
    libc = _libc()
    new = str(root).encode()
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    _check(libc.mount(b"tmpfs", new, b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755,size=16m"), "tmpfs root")
    # The private /tmp and /dev first: a visible path under /tmp (a kit or a venv cloned there) is
    # then shown on top of the private /tmp instead of being hidden by it.
    for name, size in (("tmp", "512m"), ("dev", "1m")):
        (root / name).mkdir(exist_ok=True)
        _check(libc.mount(b"tmpfs", bytes(root / name), b"tmpfs", MS_NOSUID | (MS_NODEV if name == "tmp" else 0),
                          f"mode={'1777' if name == 'tmp' else '0755'},size={size}".encode()), f"/{name}")
    shown: list[str] = []
    for path in sorted(box.visible, key=len):
        if Path(os.path.realpath(workdir)).is_relative_to(os.path.realpath(path)):
            continue  # a folder around the scratch one (the grader's script folder, say): its modes could bar the way
        _bind(libc, path, root, shown, read_only=True)
    for path in box.hidden:
        inside = _inside(root, path)
        if inside.is_dir():
            _check(libc.mount(b"tmpfs", bytes(inside), b"tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, b"size=4k"),
                   f"hide {path}")
    for device in DEVICES:
        (root / "dev" / device).touch()
        _check(libc.mount(f"/dev/{device}".encode(), bytes(root / "dev" / device), None, MS_BIND, None), device)
    (root / "dev" / "shm").mkdir()
    _check(libc.mount(b"tmpfs", bytes(root / "dev" / "shm"), b"tmpfs", MS_NOSUID | MS_NODEV,
                      b"mode=1777,size=512m"), "/dev/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root / "dev" / name)
    _bind(libc, str(workdir), root, [], read_only=False)
    (root / "proc").mkdir(exist_ok=True)
    _check(libc.mount(b"proc", bytes(root / "proc"), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "/proc")
    _pivot(libc, root)
    _check(libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
           "read-only root")


def _inside(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _bind(libc, path: str, root: Path, shown: list[str], read_only: bool) -> None:
    """Show ``path`` at the same place under ``root``, its symlinks recreated on the way."""
    current = "/"
    for part in Path(path).parts[1:]:
        step = os.path.join(current, part)
        if os.path.islink(step):
            link = _inside(root, step)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(link):
                os.symlink(os.readlink(step), link)
            current = os.path.realpath(step)
        else:
            current = step
    real = current
    target = _inside(root, real)
    if os.path.lexists(target) and os.path.ismount(target):
        return  # already shown (a folder inside one is shown with it)
    if any(Path(real).is_relative_to(done) for done in shown):
        return
    if os.path.isdir(real):
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    _check(libc.mount(real.encode(), bytes(target), None, MS_BIND | MS_REC, None), f"show {real}")
    shown.append(real)
    if read_only:
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | _locked_flags(real)
        _check(libc.mount(None, bytes(target), None, flags, None), f"read-only {real}")


def _locked_flags(path: str) -> int:
    """Flags of the mount holding ``path`` that a user namespace may not clear on remount."""
    found = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):
        if found & st:
            flags |= ms
    return flags


def _pivot(libc, root: Path) -> None:
    os.chdir(root)
    if SYS_PIVOT_ROOT is None:
        raise OSError(errnos.ENOSYS, f"pivot_root: unknown system call number on {platform.machine()}")
    _check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")


def drop_privileges(box: Box) -> None:
    """No capabilities (bounding and ambient sets emptied too), the box's uid, no_new_privs."""
    libc = _libc()
    if box.namespaces or os.geteuid() == 0:
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errnos.EINVAL:
                break  # past the last capability this kernel knows
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if box.drop_uid:
        os.setgroups([])
        os.setresgid(box.gid, box.gid, box.gid)
        os.setresuid(box.uid, box.uid, box.uid)
    _drop_capabilities(libc)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc stays usable to it; ptrace is refused anyway


def _drop_capabilities(libc) -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(libc.capset(ctypes.byref(header), data), "drop capabilities")


def seccomp_available() -> bool:
    return _libseccomp() is not None


def _libseccomp():
    """libseccomp, by its soname (``find_library`` would run ldconfig in a subprocess)."""
    for name in ("libseccomp.so.2", ctypes.util.find_library("seccomp")):
        try:
            return ctypes.CDLL(name, use_errno=True) if name else None
        except OSError:
            continue
    return None


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def install_seccomp() -> None:
    """Refuse the system calls that reach other processes, mounts, namespaces and the kernel."""
    lib = _libseccomp()
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    allow, errno = 0x7FFF0000, 0x00050000
    context = lib.seccomp_init(allow)
    if not context:
        raise OSError("seccomp_init failed")

    def refuse(name: str, code: int, *conditions: _ArgCmp) -> None:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a system call on this architecture
        array = (_ArgCmp * max(1, len(conditions)))(*conditions)
        result = lib.seccomp_rule_add_array(context, errno | code, number, len(conditions), array)
        if result != 0:
            raise OSError(-result, f"seccomp rule for {name}")

    for name in DENIED_SYSCALLS:
        refuse(name, errnos.EPERM)
    refuse("clone3", errnos.ENOSYS)
    masked_eq = 7
    for flag in NAMESPACE_FLAGS:  # clone with a new namespace: the same as unshare
        refuse("clone", errnos.EPERM, _ArgCmp(0, masked_eq, flag, flag))
    result = lib.seccomp_load(context)
    if result != 0:
        raise OSError(-result, "seccomp_load")


# -- the --sandbox-user check -------------------------------------------------------------------


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
