"""WikipediaNetwork for the gnn assignment: PyG's own loader, a checksummed download, a generated stand-in.

``load_wikipedia`` returns the graph exactly as ``torch_geometric.datasets.WikipediaNetwork(root, name,
geom_gcn_preprocess=False)`` builds it: node features ``x``, directed hyperlinks ``edge_index`` and a
continuous target ``y`` (the page's traffic). It fetches the raw file ``<root>/<name>/raw/<name>.npz``
itself first, so that a failed download is a one-line message and a corrupt file is caught.

``write_fake_wikipedia`` writes a small generated graph in exactly that raw format (keys ``features``,
``edges``, ``target``), so PyG's loader runs offline in smoke mode and in the kit's tests.

PyG is imported inside the functions that need it: importing it takes several seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from coursekit.data import DataUnavailable, data_root, download, file_digest  # noqa: F401 (DataUnavailable: what fetch_raw raises)

RAW_URL = "https://graphmining.ai/datasets/ptg/wiki/{name}.npz"  # WikipediaNetwork.raw_url
# SHA-256 of the raw files. None means "not pinned yet": the first download prints the digest to
# paste here, and every later load is checked against it.
SHA256: dict[str, str | None] = {"chameleon": None, "crocodile": None, "squirrel": None}




def raw_path(root: Path | str, name: str = "chameleon") -> Path:
    """The raw file PyG's WikipediaNetwork(root, name, geom_gcn_preprocess=False) reads."""
    return Path(root) / name / "raw" / f"{name}.npz"


def fetch_raw(root: Path | str, name: str = "chameleon") -> Path:
    """The raw npz, downloaded first if missing, checked against its pinned SHA-256."""
    return download(RAW_URL.format(name=name), raw_path(root, name), SHA256.get(name), "sha256")


def load_wikipedia(root: Path | str | None = None, name: str = "chameleon", force_reload: bool = False):
    """The WikipediaNetwork graph ``name`` (regression version) as PyG loads it: a ``Data`` with
    ``x`` (N, F), ``edge_index`` (2, E) and float targets ``y`` (N,)."""
    from torch_geometric.datasets import WikipediaNetwork

    root = Path(root) if root is not None else data_root()
    fetch_raw(root, name)
    return WikipediaNetwork(str(root), name=name, geom_gcn_preprocess=False, force_reload=force_reload)[0]


# ---------------------------------------------------------------------------------------------
# A generated stand-in, in the raw format


def fake_wikipedia_arrays(num_nodes: int = 600, num_features: int = 64, seed: int = 0) -> dict:
    """A Wikipedia-like graph: sparse binary page features, directed links that favour popular
    pages, and a traffic target that depends on the page, on the pages linking to it and on how
    many do. Graphs with different ``seed`` share the same feature-to-target rule, so a model
    trained on one generalises to another."""
    rule = np.random.default_rng(1234)  # the same "world" for every seed
    u = rule.normal(0.0, 1.0, num_features) / np.sqrt(num_features * 0.1)
    v = rule.normal(0.0, 1.0, num_features) / np.sqrt(num_features * 0.1)
    rng = np.random.default_rng(seed)
    features = (rng.random((num_nodes, num_features)) < 0.1).astype(np.float32)
    popularity = rng.lognormal(0.0, 1.0, num_nodes)
    out_degree = 1 + rng.poisson(5, num_nodes)
    sources, targets = [], []
    for node in range(num_nodes):
        weights = popularity.copy()
        weights[node] = 0.0
        chosen = rng.choice(num_nodes, size=min(out_degree[node], num_nodes - 1), replace=False,
                            p=weights / weights.sum())
        sources += [node] * len(chosen)
        targets += chosen.tolist()
    edges = np.stack([np.array(sources), np.array(targets)], axis=1).astype(np.int64)
    in_degree = np.bincount(edges[:, 1], minlength=num_nodes)
    incoming = np.zeros(num_nodes)
    np.add.at(incoming, edges[:, 1], features[edges[:, 0]] @ v)
    neighbour_mean = incoming / np.maximum(in_degree, 1)
    target = (3.0 + features @ u + 0.8 * neighbour_mean + 0.6 * np.log1p(in_degree)
              + rng.normal(0.0, 0.2, num_nodes)).astype(np.float32)
    return {"features": features, "edges": edges, "target": target}


def write_fake_wikipedia(root: Path | str, name: str = "chameleon", num_nodes: int = 600,
                         num_features: int = 64, seed: int = 0) -> Path:
    """Write a generated graph where PyG's WikipediaNetwork(root, name, geom_gcn_preprocess=False)
    looks for the raw file, and pin its checksum so that :func:`fetch_raw` accepts it."""
    path = raw_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **fake_wikipedia_arrays(num_nodes, num_features, seed))
    SHA256[name] = file_digest(path, "sha256")
    return path


def read_graph_npz(path: Path | str) -> tuple[dict, torch.Tensor]:  # noqa: F821 (torch is imported inside)
    """A raw-format npz as ``({"x": (N, F) float, "edge_index": (2, E) long}, target (N,) float)``,
    with duplicate edges removed and edges sorted as PyG's loader does (without importing PyG)."""
    import torch

    with np.load(path, allow_pickle=True) as raw:  # as PyG reads it; held-out files are the instructor's own
        x = torch.from_numpy(np.array(raw["features"])).to(torch.float)
        edges = torch.from_numpy(np.array(raw["edges"])).to(torch.long).t()
        target = torch.from_numpy(np.array(raw["target"])).to(torch.float)
    edge_index = torch.unique(edges, dim=1) if edges.numel() else edges.reshape(2, 0)
    return {"x": x, "edge_index": edge_index}, target
