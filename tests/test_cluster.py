"""grade-batch --backend dask: the same gradebook, feedback and results from a Dask cluster's
workers, here a LocalCluster that the test starts itself (loopback only)."""
from __future__ import annotations

import csv
import importlib.util
import json

import pytest
from conftest import KIT_ROOT

from autograder import batch, cluster

SLUG = "foundations"
distributed = pytest.importorskip("distributed")


def _benchmark():
    spec = importlib.util.spec_from_file_location("kit_benchmark_batch", KIT_ROOT / "benchmarks" / "batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_class_graded_on_a_local_dask_cluster(tmp_path):
    folder = tmp_path / "class"
    expected = _benchmark().write_mix(folder, 4, kinds=["full_zip", "partial", "stub", "broken_json"])
    gradebook = tmp_path / "out" / "gradebook.csv"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as local:
        rows = batch.grade_batch(SLUG, folder, gradebook, quiet=True, backend="dask",
                                 scheduler=local.scheduler_address)
    with open(gradebook, newline="") as stream:
        got = {row["student"]: float(row["total"]) for row in csv.DictReader(stream)}
    assert got == expected
    assert {r["status"] for r in rows} == {"graded"}
    for sid in expected:  # written by the client, from the documents the workers sent back
        document = json.loads((gradebook.parent / "gradebook-results" / f"{sid}.json").read_text())
        assert document["score"] == expected[sid] and document["tests"]
        assert f"{expected[sid]:g} / " in (gradebook.parent / "gradebook-feedback" / f"{sid}.md").read_text()
    assert "4 submission(s) graded" in (gradebook.parent / "gradebook-summary.md").read_text()


def test_a_folder_submission_travels_whole_and_cannot_escape(tmp_path):
    folder = tmp_path / "s1"
    (folder / "data").mkdir(parents=True)
    (folder / f"{SLUG}.ipynb").write_text("{}")
    (folder / "data" / "weights.pt").write_bytes(b"\x00\x01")
    packed = cluster.pack(folder)
    landed = cluster.unpack(packed, tmp_path / "worker")
    assert landed.name == "s1" and (landed / "data" / "weights.pt").read_bytes() == b"\x00\x01"
    packed["files"]["../../outside.txt"] = b"x"
    with pytest.raises(ValueError, match="outside"):
        cluster.unpack(packed, tmp_path / "again")
    assert not (tmp_path / "outside.txt").exists()


def test_an_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "s1.ipynb").write_text("{}")
    from autograder.errors import UserError

    with pytest.raises(UserError, match="cannot reach the Dask scheduler"):
        batch.grade_batch(SLUG, tmp_path / "class", tmp_path / "gradebook.csv", quiet=True, backend="dask",
                          scheduler="tcp://127.0.0.1:9")
