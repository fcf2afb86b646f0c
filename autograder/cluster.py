"""``grade-batch --backend dask``: a class graded on a Dask cluster's workers.

Why Dask (``dask.distributed``): it is pure pip (no daemon to install, no compiled extension of its
own), well kept (monthly releases, NumFOCUS), its scheduler and workers are two commands
(``dask scheduler``, ``dask worker ADDRESS``) that run the same on a laptop, a lab's machines, SLURM
or Kubernetes (dask-jobqueue, dask-kubernetes), and its futures API is the whole of what a batch of
independent gradings needs. Ray would do as well, but brings a much larger runtime (its own object
store and raylet binaries) for no gain here.

What travels: each task carries the submission's bytes (a zip, a notebook, or a folder's files) and
returns its results.json document, so workers need no shared file system, only the kit installed
at the same version. On a worker, each task is graded by a warm worker of
``autograder.warm_pool`` (one per worker thread, started on first use): the same forked grader,
sandbox, limits and determinism as the local pool and ``grade``. The client writes the results,
feedback, gradebook and summary exactly as the local backends do.
"""
from __future__ import annotations

import json
import tempfile
import threading
import uuid
from pathlib import Path

from autograder.errors import UserError

CONNECT_SECONDS = 30  # how long to look for the scheduler before saying it cannot be reached
_workers: dict[tuple[str, int], object] = {}  # (slug, thread) -> WarmWorker, on a cluster worker
_lock = threading.Lock()


def pack(path: Path) -> dict:
    """A submission as plain data: its name and its files' bytes (a folder's, relative to it)."""
    if path.is_dir():
        files = {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
        return {"name": path.name, "folder": True, "files": files}
    return {"name": path.name, "folder": False, "files": {path.name: path.read_bytes()}}


def unpack(packed: dict, into: Path) -> Path:
    """Write a packed submission under ``into``; return the path to grade."""
    root = into / "submission"
    target = root / packed["name"] if packed["folder"] else root
    for relative, content in packed["files"].items():
        destination = (target / relative).resolve()
        if not destination.is_relative_to(target.resolve()):
            raise ValueError(f"{relative!r} would land outside the submission's folder")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
    return target if packed["folder"] else root / packed["name"]


def grade_packed(slug: str, packed: dict, timeout: float) -> tuple[bool, dict | str]:
    """The task a cluster worker runs: ``(True, results.json document)`` or ``(False, why)``."""
    from autograder.warm_pool import WarmWorker

    with _lock:
        worker = _workers.setdefault((slug, threading.get_ident()), WarmWorker(slug))
    with tempfile.TemporaryDirectory(prefix="kit-cluster-") as scratch:
        path = unpack(packed, Path(scratch))
        out = Path(scratch) / "results.json"
        ok, why = worker.grade(path, out, timeout)
        if not ok:
            return False, why
        try:
            return True, json.loads(out.read_text())
        except (OSError, json.JSONDecodeError) as error:
            return False, f"the grader wrote no readable results.json ({error})"


def grade_on_cluster(slug: str, todo: list, record, timeout: float, workers: int,
                     scheduler: str | None = None, progress=None) -> None:
    """Grade ``todo`` (batch ``Submission``s) on the cluster at ``scheduler``, or on a local cluster
    of ``workers`` single-threaded worker processes; ``record(submission, ok, document_or_why)``
    stores each outcome as it arrives."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UserError("--backend dask needs dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except OSError as error:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler} ({error}): start it with "
                            "`dask scheduler`, or leave out --scheduler for a local cluster") from None
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        batch_id = uuid.uuid4().hex[:8]
        futures = {client.submit(grade_packed, slug, pack(s.path), timeout, pure=False, retries=1,
                                 key=f"grade-{slug}-{batch_id}-{s.key}"): s for s in todo}
        for future in as_completed(futures):
            submission = futures[future]
            try:
                ok, outcome = future.result()
            except Exception as error:  # noqa: BLE001 - a lost worker, say: this row fails, the rest go on
                ok, outcome = False, f"the cluster could not grade it ({type(error).__name__}: {error})"
            record(submission, ok, outcome)
            if progress:
                progress()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
