"""The gnn data path (PyG's own loaders, offline on generated files), the held-out pages (the real
split, with the real data, and the generated sample), and the sample submissions graded through the
real command line."""
import shutil
import urllib.error

import numpy as np
import pytest
import torch
from conftest import KIT_ROOT, grade, handout_on_path, sample_stand_in

SUITE = KIT_ROOT / "autograder" / "suites" / "gnn"
handout_on_path("gnn")
import gnn_data  # noqa: E402


def test_pyg_loads_the_generated_raw_file_offline(tmp_path):
    from torch_geometric.datasets import WikipediaNetwork

    path = gnn_data.write_fake_wikipedia(tmp_path, "chameleon", num_nodes=120, num_features=16, seed=3)
    assert path == tmp_path / "chameleon" / "raw" / "chameleon.npz"
    data = gnn_data.load_wikipedia(tmp_path, "chameleon")  # PyG's WikipediaNetwork, held-out pages left out
    assert (data.num_nodes, data.num_features) == (96, 16)
    assert data.y.dtype == torch.float and data.y.shape == (96,)
    assert data.edge_index.dtype == torch.long and not data.has_self_loops()
    full = WikipediaNetwork(str(tmp_path), "chameleon", geom_gcn_preprocess=False)[0]
    graph, target = gnn_data.read_graph_npz(path)  # the grader's reader, without PyG
    assert torch.equal(graph["edge_index"], full.edge_index) and torch.equal(target, full.y)
    assert torch.equal(graph["x"], full.x)


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


def test_a_file_that_is_not_the_pinned_one_is_refused_and_a_generated_one_never_unpins_it(tmp_path, monkeypatch):
    real = gnn_data.SHA256["chameleon"]
    path = gnn_data.raw_path(tmp_path, "chameleon")
    path.parent.mkdir(parents=True)
    np.savez_compressed(path, **gnn_data.fake_wikipedia_arrays(30, 4))  # not written by write_fake_wikipedia
    with pytest.raises(gnn_data.DataUnavailable, match="SHA-256 mismatch"):
        gnn_data.fetch_raw(tmp_path, "chameleon")
    monkeypatch.setenv("KIT_DATA_UNCHECKED", "1")  # the user's explicit choice: used, with a warning
    assert gnn_data.fetch_raw(tmp_path, "chameleon") == path
    gnn_data.write_fake_wikipedia(tmp_path / "other", "chameleon", num_nodes=30, num_features=4)
    assert gnn_data.SHA256["chameleon"] == real == "e5ffd7ab31933c42d094f599aff53fd02e534ace78da2a8120e30500dfb05a26"


def test_the_heldout_file_is_never_downloaded(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("the held-out file must not download anything")

    monkeypatch.setattr("urllib.request.urlretrieve", no_download)
    with pytest.raises(gnn_data.DataUnavailable, match="chameleon.npz"):
        gnn_data.heldout_file(tmp_path / "wikipedia")
    from autograder.heldout import heldout_source

    monkeypatch.setenv("KIT_DATA", str(tmp_path))
    monkeypatch.delenv("KIT_HELDOUT")
    assert heldout_source(SUITE, "wikipedia_heldout.npz").kind == "sample"


def test_the_loader_leaves_out_exactly_the_heldout_pages(tmp_path):
    raw = gnn_data.write_fake_wikipedia(tmp_path, "chameleon", num_nodes=150, num_features=8, seed=4)
    graph, target, scored = gnn_data.read_heldout_npz(gnn_data.write_heldout(raw, tmp_path / "heldout.npz"))
    assert int(scored.sum()) == 30 and torch.equal(scored, torch.from_numpy(gnn_data.heldout_mask(150)))
    data = gnn_data.load_wikipedia(tmp_path, "chameleon", force_reload=True)
    assert_student_graph_is_the_rest(data, graph, target, scored)


def assert_student_graph_is_the_rest(data, graph, target, scored):
    """The student's graph is the subgraph induced by the unscored nodes of the held-out file."""
    kept = (~scored).nonzero().flatten()
    assert data.num_nodes == len(kept)
    assert torch.equal(data.x, graph["x"][kept]) and torch.equal(data.y, target[kept])
    renumber = torch.full((len(scored),), -1)
    renumber[kept] = torch.arange(len(kept))
    s, t = graph["edge_index"]
    inside = ~scored[s] & ~scored[t]
    expected = torch.stack([renumber[s[inside]], renumber[t[inside]]])
    assert torch.equal(torch.unique(data.edge_index, dim=1), torch.unique(expected, dim=1))


def test_a_read_only_data_root_is_never_written_into(tmp_path, monkeypatch):
    root = tmp_path / "data" / "wikipedia"
    gnn_data.write_fake_wikipedia(root, "chameleon", num_nodes=40, num_features=4)
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    for folder in [root, *root.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o555)
    try:
        before = sorted(root.rglob("*"))
        assert gnn_data.load_wikipedia(root, "chameleon").num_nodes == 32
        assert sorted(root.rglob("*")) == before
    finally:
        for folder in [root, *root.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)


def test_the_karate_club_loads_offline():
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]
    assert (data.num_nodes, data.num_edges) == (34, 156)


def test_the_heldout_sample_is_the_generated_smoke_graph_and_its_heldout_pages():
    sample = SUITE / "heldout" / "sample_wikipedia_heldout.npz"
    with np.load(sample) as raw:
        regenerated = gnn_data.heldout_arrays(gnn_data.fake_wikipedia_arrays())  # the master's smoke graph
        assert set(raw.files) == set(regenerated)
        for key in regenerated:
            assert np.array_equal(raw[key], regenerated[key]), key
    assert not (SUITE / "heldout" / "wikipedia_heldout.npz").exists(), "the instructor's real file is never committed"


def test_the_real_heldout_file_holds_the_pages_the_handouts_loader_leaves_out(real_data):
    from autograder.heldout import heldout_source
    from autograder.release import gradescope_files
    from autograder.suite import load_suite

    source = heldout_source(SUITE, "wikipedia_heldout.npz")
    assert source.kind == "real" and "chameleon" in source.what
    assert source.path == gnn_data.heldout_file(real_data / "wikipedia")
    graph, target, scored = gnn_data.read_heldout_npz(source.path)
    raw, raw_target = gnn_data.read_graph_npz(gnn_data.fetch_raw(real_data / "wikipedia", download_missing=False))
    assert torch.equal(graph["x"], raw["x"]) and torch.equal(graph["edge_index"], raw["edge_index"])
    assert torch.equal(target, raw_target)
    assert (len(target), int(scored.sum())) == (2277, 455)
    assert_student_graph_is_the_rest(gnn_data.load_wikipedia(real_data / "wikipedia"), graph, target, scored)
    shipped = gradescope_files(load_suite("gnn"))["autograder/suites/gnn/heldout/wikipedia_heldout.npz"]
    assert shipped == source.path  # build puts the real file in autograder.zip


def test_the_shipped_models_get_full_marks_on_the_real_heldout_pages(real_data, tmp_path):
    for notebook in (KIT_ROOT / "solutions" / "gnn.ipynb", KIT_ROOT / "examples" / "gnn" / "full_credit" / "gnn.ipynb"):
        results = grade("gnn", notebook, tmp_path / "results.json")
        heldout = [t for t in results["tests"] if t["name"].startswith("predict_node_targets: MAE")]
        assert heldout and heldout[0]["score"] == heldout[0]["max_score"], (notebook, heldout)
        assert "generated sample" not in results["output"]


def test_the_masters_model_is_small_and_declared():
    assert (KIT_ROOT / "solutions" / "gnn_model.pt").stat().st_size < 5 * 1024 * 1024
    assert "gnn_model.pt" in (SUITE / "suite.toml").read_text()


def test_the_sample_submissions_score_as_expected(tmp_path):
    # judged on the generated sample: the full-credit example hands in the smoke-trained stand-in of its model
    example, folder = KIT_ROOT / "examples" / "gnn" / "full_credit", tmp_path / "full_credit"
    folder.mkdir()
    shutil.copy(example / "gnn.ipynb", folder / "gnn.ipynb")
    shutil.copy(sample_stand_in(example / "gnn_model.pt"), folder / "gnn_model.pt")
    full = grade("gnn", folder / "gnn.ipynb", tmp_path / "full.json")
    assert full["score"] == pytest.approx(sum(t["max_score"] for t in full["tests"])) and full["score"] > 0
    assert "generated sample" in full["output"]

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
