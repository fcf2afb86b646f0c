"""The third setting of README's Security model, rehearsed: root in a container without
CAP_SYS_ADMIN, as Docker's default runs one (Gradescope's is likely this; its image is not run here).

Docker's default gives a container's root 14 capabilities and a seccomp profile that refuses new
namespaces, so the grader gets no PID, mount or network namespace of its own. This machine lets
root have them, so each case runs in a rehearsal of that setting (``LAUNCHER``): root, in a
private mount namespace, under a seccomp filter that refuses ``unshare``, ``setns``, ``mount`` and
``clone`` with namespace flags (the kit's own ``containment.install_seccomp``, loaded as Docker
loads its profile, without ``no_new_privs``), with every capability outside Docker's default set
dropped before it execs the command. ``test_the_rehearsal_is_dockers_default`` checks that from
inside, so the rehearsal cannot quietly be a weaker setting than Docker's.

In it, the autograder.zip's own ``run_autograder`` grades, as Gradescope runs it, in the layout of
``tests/test_gradescope.py`` with what ``setup.sh`` does for security (a ``student`` user; its
``chmod`` lines: ``autograder/suites`` closed to others). Each attack reports what it reached
(``REPORT ... END``), so a case fails when the protection it tests is removed.

What the third column says may happen is reported, not refused: student code reads world-readable
files (the kit's engine) and writes the shared /tmp ("may ..." in the reports).
"""
from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import KIT_ROOT
from test_gradescope import SLUG, autograder_zip, gradescope_root, schema_problems, submission_zip  # noqa: F401
from test_grading import check_gradescope_schema
from test_hostile import FIND_GRADERS, MASTER, STUB, _expose_to, report_of, with_cells

from autograder.suite import load_suite

STUDENT = "student"
ACCOUNT_FILES = ("passwd", "group", "shadow", "gshadow")
# CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW,
# SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP: Docker's default capabilities (CapEff 00000000a80425fb)
DOCKER_CAPABILITIES = (0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31)
CAP_SYS_ADMIN = 21
FULL_MARKS = round(sum(fn.kit_test.points for fn, _ in load_suite(SLUG).tests()), 4)  # as results.json rounds

LAUNCHER = f'''
"""python launcher.py KIT_ROOT -- COMMAND...: exec COMMAND as root the way Docker's default runs a
container's processes."""
import ctypes, os, sys

sys.path.insert(0, sys.argv[1])
from autograder import containment

DOCKER_CAPABILITIES = {DOCKER_CAPABILITIES!r}
SCMP_FLTATR_CTL_NNP = 3


class Function:  # a callable whose argtypes install_seccomp may set
    def __init__(self, call):
        self.call = call

    def __call__(self, *args):
        return self.call(*args)


class WithoutNoNewPrivs:
    """libseccomp sets no_new_privs before it loads a filter unless told not to; Docker does not."""

    def __init__(self, lib):
        self.lib = lib
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.seccomp_load = Function(self.load)

    def __getattr__(self, name):
        return getattr(self.lib, name)

    def load(self, context):
        if self.lib.seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0) != 0:
            raise OSError("seccomp_attr_set")
        return self.lib.seccomp_load(context)


def drop_capabilities_but_dockers():
    """From the bounding set: after exec, root's capabilities are Docker's default set."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        if cap not in DOCKER_CAPABILITIES and libc.prctl(containment.PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the last capability this kernel knows
                break
            raise OSError(ctypes.get_errno(), f"drop capability {{cap}}")


lib = WithoutNoNewPrivs(containment._libseccomp())
containment._libseccomp = lambda: lib
containment.install_seccomp()  # allowed without no_new_privs while CAP_SYS_ADMIN is still held
drop_capabilities_but_dockers()
command = sys.argv[sys.argv.index("--") + 1:]
os.execvp(command[0], command)
'''

PROBE = '''
import ctypes, json, subprocess
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
libc = ctypes.CDLL(None, use_errno=True)
print(json.dumps({"uid": int(status["Uid"].split()[0]), "cap_eff": int(status["CapEff"], 16),
                  "no_new_privs": int(status["NoNewPrivs"]), "seccomp": int(status["Seccomp"]),
                  "unshare_pid": libc.unshare(0x20000000), "unshare_U": subprocess.run(["unshare", "-U", "true"]).returncode,
                  "unshare_mount": subprocess.run(["unshare", "--mount", "true"]).returncode}))
'''


@dataclass(frozen=True)
class Setting:
    """The rehearsal: the launcher, and the ``student`` user that setup.sh makes."""

    launcher: Path
    uid: int
    gid: int
    account_binds: tuple[str, ...]  # shell lines that show the private account files, if any

    def command(self, *command: str) -> list[str]:
        """``command`` as root in the rehearsal of Docker's default."""
        script = "\n".join(["set -e", *self.account_binds, _expose_to(self.uid, self.gid),
                            f"exec {shlex.join([sys.executable, str(self.launcher), str(KIT_ROOT), '--', *command])}"])
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def student_account(folder: Path) -> tuple[int, int, tuple[str, ...]]:
    """The machine's ``student`` if it has one; else one made by useradd as setup.sh makes it, in
    copies of the account files shown only inside the rehearsal. A machine-wide ``student`` would
    switch every other run_autograder here to ``--sandbox-user student`` (tests/test_gradescope.py's
    too, whose Python may sit under /root, which that user cannot enter)."""
    try:
        record = pwd.getpwnam(STUDENT)
        return record.pw_uid, record.pw_gid, ()
    except KeyError:
        pass
    (folder / "etc").mkdir(parents=True)
    for name in (*ACCOUNT_FILES, "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), folder / "etc" / name)
    made = subprocess.run(["useradd", "--prefix", str(folder), "--system", "--no-create-home", "--shell",
                           "/usr/sbin/nologin", STUDENT], capture_output=True, text=True)
    assert made.returncode == 0, f"useradd --prefix (shadow 4.6+): {made.stderr}"
    entry = next(line.split(":") for line in (folder / "etc" / "passwd").read_text().splitlines()
                 if line.startswith(f"{STUDENT}:"))
    binds = tuple(f"mount --bind {folder / 'etc' / name} /etc/{name}" for name in ACCOUNT_FILES
                  if (folder / "etc" / name).exists())
    return int(entry[2]), int(entry[3]), binds


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """The rehearsal, held by one test run at a time on this machine: another run's ``student``
    has the same uid, and grading kills every process of that uid."""
    from filelock import FileLock

    from autograder import containment

    if os.geteuid() != 0:
        pytest.skip("the rehearsal of a container's root needs root")
    missing = [tool for tool in ("unshare", "useradd") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} missing (util-linux, passwd)")
    if not containment.seccomp_available():
        pytest.skip("libseccomp missing: the rehearsal's seccomp filter is the kit's own")
    folder = tmp_path_factory.mktemp("container")
    launcher = folder / "launcher.py"
    launcher.write_text(LAUNCHER)
    with FileLock(str(Path(tempfile.gettempdir()) / "kit-container-setting.lock")):
        yield Setting(launcher, *student_account(folder / "accounts"))


def test_the_rehearsal_is_dockers_default(setting):
    result = subprocess.run(setting.command(sys.executable, "-c", PROBE), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    inside = json.loads(result.stdout.strip().splitlines()[-1])
    assert inside["uid"] == 0
    assert inside["cap_eff"] == sum(1 << cap for cap in DOCKER_CAPABILITIES)
    assert not inside["cap_eff"] & (1 << CAP_SYS_ADMIN)
    assert inside["seccomp"] == 2 and inside["no_new_privs"] == 0  # a filter, loaded as Docker loads it
    assert inside["unshare_pid"] == -1 and inside["unshare_U"] != 0 and inside["unshare_mount"] != 0


# ---------------------------------------------------------------------------------------------
# Gradescope's layout, graded by its run_autograder in the rehearsal


def prepared_root(folder: Path, autograder_zip: Path, notebook) -> Path:
    """/autograder as Gradescope unpacks it, a held-out file in the suite (as a trained-model
    suite ships one), then setup.sh's own chmod lines."""
    root = gradescope_root(folder, autograder_zip, submission_zip(folder, notebook))
    heldout = root / "source" / "autograder" / "suites" / SLUG / "heldout" / "labels.csv"
    heldout.parent.mkdir()
    heldout.write_text("label,text\n1,answers\n")
    (root / "venv").mkdir()  # setup.sh's venv; here the interpreter is this test's own
    chmods = [line for line in (root / "source" / "setup.sh").read_text().splitlines() if line.startswith("chmod ")]
    assert any("go-rwx" in line and "suites" in line for line in chmods), "setup.sh must close the suites"
    for line in chmods:
        subprocess.run(["bash", "-c", re.sub(r"(^|\s)/autograder/", rf"\g<1>{root}/", line)], check=True)
    return root


@dataclass
class Grading:
    results: dict
    stderr: str
    source_before: dict[str, str]
    source_after: dict[str, str]
    left_running: list[int]  # processes of the student uid once run_autograder has returned


def source_hashes(root: Path) -> dict[str, str]:
    """Every file the kit shipped in source/ (the grader's own bytecode caches aside)."""
    source = root / "source"
    return {str(path.relative_to(source)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(source.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def processes_of(uid: int) -> list[int]:
    """The live processes with ``uid`` among their uids (a zombie is dead: whoever adopted it reaps it)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if str(uid) in fields.get("Uid", "").split() and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(status.parent.name))
    return found


def graded_in_container(setting: Setting, folder: Path, autograder_zip: Path, notebook) -> Grading:
    """run_autograder in the rehearsal, with AUTOGRADER_ROOT and AUTOGRADER_PYTHON as
    tests/test_gradescope.py runs it; then what it left behind."""
    root = prepared_root(folder, autograder_zip, notebook)
    before = source_hashes(root)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)  # the engine comes from the unpacked zip
    finished = subprocess.run(setting.command(str(root / "source" / "run_autograder")), cwd=root, env=env,
                              capture_output=True, text=True, timeout=180)
    left = processes_of(setting.uid)
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    return Grading(results, finished.stderr, before, source_hashes(root), left)


def open_folder(prefix: str) -> Path:
    """A folder every user may enter, as /autograder is (pytest's own are closed to others)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def clean_up(folder: Path, uid: int) -> None:
    """What a grading left: processes of the student uid (a failed case's), the /tmp mark, the folder."""
    from autograder import containment

    containment.kill_uid(uid)
    for leftover in Path("/tmp").glob(f"kit-container-mark-{folder.name}"):
        leftover.unlink()
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# A stub-based submission that attacks from every graded function

ATTACK = '''
import ctypes, os, signal, time
ROOT = {root!r}
SUITES = ROOT + "/source/autograder/suites"
SECRETS = [SUITES + "/{slug}/hidden_tests.py", SUITES + "/{slug}/heldout/labels.csv", SUITES + "/{slug}/suite.toml"]
{find_graders}

def _report(reached):
    raise ValueError("REPORT " + ",".join(reached) + " END")

def _ancestors():
    found, pid = [], os.getpid()
    while pid > 1:
        with open(f"/proc/{{pid}}/stat") as stream:
            pid = int(stream.read().rsplit(")", 1)[1].split()[1])
        found.append(pid)
    return found

def spectral_radius(W):  # who it is, what it may do, and the secrets
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    reached = [f"uid {{os.getuid()}}", "caps " + status["CapEff"].strip(), "no_new_privs " + status["NoNewPrivs"].strip(),
               "filters " + status.get("Seccomp_filters", "?").strip()]
    for path in SECRETS:
        try:
            open(path, "rb").read()
            reached.append("read " + os.path.basename(path))
        except OSError:
            pass
    try:
        os.listdir(SUITES)
        reached.append("listed suites")
    except OSError:
        pass
    try:  # the third column: world-readable files can be read, the shared /tmp written
        open(ROOT + "/source/autograder/results.py").read()
        reached.append("may read the engine")
    except OSError:
        pass
    try:
        with open("/tmp/{mark}", "w") as stream:
            stream.write("left behind")
        reached.append("may write /tmp")
    except OSError:
        pass
    _report(reached)

def hidden_state(W, h0, t):  # the kit's files and results.json
    reached, tried = [], 0
    for folder, _, names in os.walk(ROOT + "/source"):
        for name in names:
            tried += 1
            path = os.path.join(folder, name)
            try:
                with open(path, "a") as stream:
                    stream.write("\\n# pwned\\n")
                reached.append("wrote " + name)
            except OSError:
                pass
            try:
                os.remove(path)
                reached.append("deleted " + name)
            except OSError:
                pass
    for path in [ROOT + "/source/autograder/evil.py", ROOT + "/results/results.json"]:
        try:
            with open(path, "w") as stream:
                stream.write('{{"score": 1000, "tests": []}}')
            reached.append("created " + os.path.basename(path))
        except OSError:
            pass
    _report([f"tried {{tried}}"] + reached)

def self_attention_plain(X):  # the grader: its memory, a signal, a namespace of its own
    ancestors = _ancestors()
    targets = [pid for pid in _graders() if pid in ancestors]  # this grading's only, not the machine's
    reached = [f"aimed at {{len(targets)}}"]
    for pid in targets:
        try:
            open(f"/proc/{{pid}}/mem", "rb").close()
            reached.append(f"mem {{pid}}")
        except OSError:
            pass
        for number, what in ((signal.SIGSTOP, "stopped"), (signal.SIGKILL, "killed")):
            try:
                os.kill(pid, number)
                reached.append(f"{{what}} {{pid}}")
            except OSError:
                pass
    if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0:  # CLONE_NEWUSER
        reached.append("unshare")
    _report(reached)

def _daemon():  # double fork, setsid, sleep
    read, write = os.pipe()
    if os.fork() == 0:
        try:
            os.setsid()
            pid = os.fork()
            if pid == 0:
                time.sleep(600)
            else:
                os.write(write, str(pid).encode())
        finally:
            os._exit(0)
    os.close(write)
    return "daemon " + os.read(read, 32).decode()

def _chain(seconds):  # each process forks the next and exits: a single sweep over /proc misses some
    if os.fork() == 0:
        try:
            os.setsid()
            deadline = time.time() + seconds
            while time.time() < deadline:
                if os.fork():
                    break
                time.sleep(0.01)
        finally:
            os._exit(0)

_SPAWNED = []

def xor_network(x):  # processes meant to outlive grading
    if not _SPAWNED:
        _SPAWNED.append(_daemon())
        _chain(30)
    _report(_SPAWNED)
'''


@pytest.fixture(scope="module")
def hostile(setting, autograder_zip):
    """The attack, graded once; each test below reads one part of what it reached."""
    folder = open_folder("kit-container-hostile-")
    attack = ATTACK.format(root=str(folder / "autograder"), slug=SLUG, mark=f"kit-container-mark-{folder.name}",
                           find_graders=FIND_GRADERS)
    try:
        yield graded_in_container(setting, folder, autograder_zip, with_cells(STUB, attack))
    finally:
        clean_up(folder, setting.uid)


def reports(grading: Grading, name: str) -> list[str]:
    return report_of(grading.results, name)


def test_the_grader_says_it_has_no_namespaces(hostile, setting):
    described = [line for line in hostile.stderr.splitlines() if line.startswith("sandbox: ")]
    assert len(described) == 1, hostile.stderr[-2000:]
    assert "NO namespaces" in described[0] and f"uid {setting.uid}" in described[0]
    assert "STILL ROOT" not in described[0] and "seccomp filter (libseccomp)" in described[0]


def test_a_stub_based_attack_scores_zero_in_a_valid_results_json(hostile):
    check_gradescope_schema(hostile.results)
    assert schema_problems(hostile.results) == []
    assert hostile.results["tests"] and hostile.results["score"] == 0


def test_student_code_runs_as_student_without_capabilities_under_its_own_seccomp_filter(hostile, setting):
    who = reports(hostile, "spectral_radius")[:4]
    assert who[:3] == [f"uid {setting.uid}", "caps 0000000000000000", "no_new_privs 1"] and setting.uid != 0
    if who[3] != "filters ?":  # the container's filter, and the box's own on top (Seccomp_filters: Linux 5.9+)
        assert int(who[3].split()[1]) >= 2


def test_student_code_cannot_read_the_hidden_tests_or_held_out_files(hostile):
    reached = reports(hostile, "spectral_radius")[4:]
    # what the third column allows: reading world-readable files, writing the shared /tmp
    assert [r for r in reached if not r.startswith("may ")] == []


def test_the_kits_files_cannot_be_written_or_deleted(hostile):
    outside_suites = [name for name in hostile.source_before if not name.startswith("autograder/suites/")]
    assert reports(hostile, "hidden_state") == [f"tried {len(outside_suites)}"]  # every one it could see
    assert hostile.source_after == hostile.source_before


def test_the_grader_cannot_be_read_stopped_or_killed(hostile):
    reached = reports(hostile, "self_attention_plain")
    assert int(reached[0].removeprefix("aimed at ")) >= 2  # the grader, its fork, run_autograder's shell
    assert reached[1:] == []
    assert "The autograder itself failed" not in hostile.results["output"]


def test_a_daemon_and_a_chain_of_forks_do_not_outlive_grading(hostile):
    daemon = reports(hostile, "xor_network")
    assert daemon and daemon[0].startswith("daemon ") and int(daemon[0].split()[1]) > 0  # it was started
    assert hostile.left_running == []


def test_the_master_still_gets_full_marks(setting, autograder_zip):
    folder = open_folder("kit-container-master-")
    try:
        grading = graded_in_container(setting, folder, autograder_zip, nbformat.read(str(MASTER), as_version=4))
    finally:
        clean_up(folder, setting.uid)
    check_gradescope_schema(grading.results)
    assert schema_problems(grading.results) == []
    assert grading.results["score"] == pytest.approx(FULL_MARKS) and FULL_MARKS > 0
    assert "NO namespaces" in grading.stderr
