"""The gnn data path (PyG's own loaders, offline on generated files), its held-out sample, and the
sample submissions graded through the real command line."""
import sys
import urllib.error

import numpy as np
import pytest
import torch
from conftest import KIT_ROOT, grade, handout_on_path

SUITE = KIT_ROOT / "autograder" / "suites" / "gnn"
handout_on_path("gnn")
import gnn_data  # noqa: E402


def test_pyg_loads_the_generated_raw_file_offline(tmp_path):
    path = gnn_data.write_fake_wikipedia(tmp_path, "chameleon", num_nodes=120, num_features=16, seed=3)
    assert path == tmp_path / "chameleon" / "raw" / "chameleon.npz"
    data = gnn_data.load_wikipedia(tmp_path, "chameleon")  # PyG's WikipediaNetwork(geom_gcn_preprocess=False)
    assert (data.num_nodes, data.num_features) == (120, 16)
    assert data.y.dtype == torch.float and data.y.shape == (120,)
    assert data.edge_index.dtype == torch.long and not data.has_self_loops()
    graph, target = gnn_data.read_graph_npz(path)  # the grader's reader, without PyG
    assert torch.equal(graph["edge_index"], data.edge_index) and torch.equal(target, data.y)
    assert torch.equal(graph["x"], data.x)


def test_the_raw_file_has_the_keys_and_dtypes_pyg_expects(tmp_path):
    with np.load(gnn_data.write_fake_wikipedia(tmp_path, num_nodes=50, num_features=8)) as raw:
        assert set(raw.files) == {"features", "edges", "target"}
        assert raw["features"].shape == (50, 8) and raw["edges"].shape[1] == 2
        assert raw["edges"].dtype == np.int64 and raw["target"].shape == (50,)


def test_a_failed_download_is_one_line_that_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("urllib.request.urlretrieve", offline)
    with pytest.raises(gnn_data.DataUnavailable) as failure:
        gnn_data.load_wikipedia(tmp_path, "squirrel")
    message = str(failure.value)
    assert "\n" not in message and "squirrel.npz" in message and "by hand" in message
    assert not list(tmp_path.rglob("*.part"))


def test_a_file_that_fails_its_checksum_is_refused(tmp_path, monkeypatch):
    gnn_data.write_fake_wikipedia(tmp_path, "crocodile", num_nodes=30, num_features=4)
    monkeypatch.setitem(gnn_data.SHA256, "crocodile", "0" * 64)
    with pytest.raises(gnn_data.DataUnavailable, match="SHA-256 mismatch"):
        gnn_data.fetch_raw(tmp_path, "crocodile")


def test_the_karate_club_loads_offline():
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]
    assert (data.num_nodes, data.num_edges) == (34, 156)


def test_the_heldout_sample_is_generated_data_of_the_same_kind():
    sample = SUITE / "heldout" / "sample_wikipedia_heldout.npz"
    with np.load(sample) as raw:
        regenerated = gnn_data.fake_wikipedia_arrays(num_nodes=400, seed=1)
        for key in ("features", "edges", "target"):
            assert np.array_equal(raw[key], regenerated[key]), key
    assert not (SUITE / "heldout" / "wikipedia_heldout.npz").exists(), "the instructor's real file is never committed"


def test_the_masters_model_is_small_and_declared():
    assert (KIT_ROOT / "solutions" / "gnn_model.pt").stat().st_size < 5 * 1024 * 1024
    assert "gnn_model.pt" in (SUITE / "suite.toml").read_text()


def test_the_sample_submissions_score_as_expected(tmp_path):
    full = grade("gnn", KIT_ROOT / "examples" / "gnn" / "full_credit" / "gnn.ipynb", tmp_path / "full.json")
    assert full["score"] == pytest.approx(sum(t["max_score"] for t in full["tests"])) and full["score"] > 0

    partial = grade("gnn", KIT_ROOT / "examples" / "gnn" / "partial" / "gnn.ipynb", tmp_path / "partial.json")
    by_name = {t["name"]: t for t in partial["tests"]}
    lost = {name for name, t in by_name.items() if t["score"] < t["max_score"]}
    assert 0 < partial["score"] < full["score"]
    # neighbors is right; the other names each carry a realistic bug
    assert not any(name.startswith("neighbors") for name in lost)
    assert "graph_conv: messages flow from source to target" in lost
    assert "graph_conv: matches GraphConv on the karate club (one-hot features)" not in lost  # symmetric graph
    assert "random_node_split: train and test are disjoint and together cover every node" in lost
    assert "largest_connected_component: keeps the largest weakly connected component of directed graphs with " \
           "several components and isolated nodes" in lost
    assert "mean_absolute_error: flattens a (N, 1) prediction against a (N,) target instead of broadcasting" in lost
    heldout = [t for name, t in by_name.items() if name.startswith("predict_node_targets")]
    assert heldout[0]["score"] == 0 and "gnn_model.pt" in heldout[0]["output"]  # the checkpoint was not handed in
