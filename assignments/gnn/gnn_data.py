"""WikipediaNetwork for the gnn assignment: PyG's own loader, a checksummed download, the autograder's
held-out pages, a generated stand-in.

``load_wikipedia`` returns the graph as ``torch_geometric.datasets.WikipediaNetwork(root, name,
geom_gcn_preprocess=False)`` builds it (node features ``x``, directed hyperlinks ``edge_index`` and a
continuous target ``y``, the page's traffic) **without the autograder's held-out pages**: a fixed,
seeded 20% of the nodes (``heldout_mask``), removed with their links. The autograder judges the
trained model on exactly those pages, with the whole graph as input; the notebook never trains or
tests on them. The raw file is public, so this is a rule of the course, not a lock: training on the
held-out pages is against the honor code.

``fetch_raw`` gets the raw file ``<root>/<name>/raw/<name>.npz`` first (downloaded when missing and
checked against its pinned SHA-256), so that a failed download is a one-line message and a corrupt
file is caught. ``write_heldout`` writes the autograder's held-out file from it.

``write_fake_wikipedia`` writes a small generated graph in exactly the raw format (keys ``features``,
``edges``, ``target``), so PyG's loader runs offline in smoke mode and in the kit's tests.

PyG is imported inside the functions that need it: importing it takes several seconds.
"""
from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

import numpy as np

from coursekit.data import (DataUnavailable, cached_copy, data_root, download, file_digest, shown,
                            writable_folder)

RAW_URL = "https://graphmining.ai/datasets/ptg/wiki/{name}.npz"  # WikipediaNetwork.raw_url
# SHA-256 of the raw files as PyG downloads them. None means "not pinned yet": the first download
# prints the digest to paste here, and every later load is checked against it.
SHA256: dict[str, str | None] = {
    "chameleon": "e5ffd7ab31933c42d094f599aff53fd02e534ace78da2a8120e30500dfb05a26",  # 2,277 pages
    "crocodile": None,
    "squirrel": None,
}
# Digests of the files write_fake_wikipedia wrote in this process: accepted as well, so that smoke
# runs and tests load their generated graphs while the real file stays checked.
GENERATED: dict[str, set[str]] = {}

# The autograder's held-out pages: this fraction of the nodes, drawn with this seed. Fixed, so that
# the handout's loader and the grader's held-out file agree on which pages they are.
HELDOUT_FRACTION = 0.2
HELDOUT_SEED = 5527


def raw_path(root: Path | str, name: str = "chameleon") -> Path:
    """The raw file PyG's WikipediaNetwork(root, name, geom_gcn_preprocess=False) reads."""
    return Path(root) / name / "raw" / f"{name}.npz"


def fetch_raw(root: Path | str, name: str = "chameleon", download_missing: bool = True) -> Path:
    """The raw npz, downloaded first if missing (unless ``download_missing=False``: then a missing
    file is a DataUnavailable), checked against its pinned SHA-256. ``KIT_DATA_UNCHECKED=1`` uses a
    file that fails the check, with a warning."""
    path, url = raw_path(root, name), RAW_URL.format(name=name)
    if path.exists() and GENERATED.get(name) and file_digest(path, "sha256") in GENERATED[name]:
        return path
    if not path.exists() and not download_missing:
        raise DataUnavailable(f"WikipediaNetwork {name} is missing: put {name}.npz in {shown(path.parent)} (from {url})")
    try:
        return download(url, path, SHA256.get(name), "sha256")
    except DataUnavailable:
        if not (path.exists() and os.environ.get("KIT_DATA_UNCHECKED") == "1"):
            raise
    print(f"warning: {shown(path)} is not the {name}.npz the kit knows (SHA-256 mismatch); used as it is")
    return path


def heldout_mask(num_nodes: int, fraction: float = HELDOUT_FRACTION, seed: int = HELDOUT_SEED) -> np.ndarray:
    """The autograder's held-out nodes of a graph of ``num_nodes`` nodes, as a bool mask: a seeded
    ``round(fraction * num_nodes)`` of them, the same on every machine."""
    order = np.random.default_rng(seed).permutation(num_nodes)
    mask = np.zeros(num_nodes, dtype=bool)
    mask[order[:round(fraction * num_nodes)]] = True
    return mask


def load_wikipedia(root: Path | str | None = None, name: str = "chameleon", force_reload: bool = False):
    """The WikipediaNetwork graph ``name`` (regression version) as PyG loads it, without the
    autograder's held-out pages: a ``Data`` with ``x`` (N, F), ``edge_index`` (2, E) and float targets
    ``y`` (N,) of the other pages, numbered 0..N-1, and only the links between them."""
    import torch
    from torch_geometric.datasets import WikipediaNetwork

    root = Path(root) if root is not None else data_root()
    pyg_root, copied = pyg_root_for(fetch_raw(root, name), root, name)
    full = WikipediaNetwork(str(pyg_root), name=name, geom_gcn_preprocess=False,
                            force_reload=force_reload or copied)[0]
    return full.subgraph(torch.from_numpy(~heldout_mask(full.num_nodes)))


def pyg_root_for(raw: Path, root: Path, name: str) -> tuple[Path, bool]:
    """Where PyG may write its processed file: ``root`` itself, or, for a read-only data root, a
    folder under the cache holding a copy of the raw file. Returns it and whether the copy was new."""
    pyg_root = writable_folder(root)
    if pyg_root == root:
        return root, False
    copy = raw_path(pyg_root, name)
    if copy.exists() and filecmp.cmp(raw, copy, shallow=False):
        return pyg_root, False
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, copy)
    return pyg_root, True


# ---------------------------------------------------------------------------------------------
# The autograder's held-out file


def heldout_arrays(raw: dict) -> dict:
    """The held-out file of a graph in the raw format: the whole graph (``features``, ``edges``,
    ``target``) and ``score_mask``, the held-out pages, the only ones scored."""
    target = np.asarray(raw["target"])
    return {"features": np.asarray(raw["features"]), "edges": np.asarray(raw["edges"]), "target": target,
            "score_mask": heldout_mask(len(target))}


def write_heldout(raw_file: Path | str, path: Path | str) -> Path:
    """Write the held-out file of the raw npz ``raw_file`` to ``path`` (through a partial file, so
    that a reader never sees half of it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with np.load(raw_file, allow_pickle=True) as raw:
        arrays = heldout_arrays(raw)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.part.npz")
    np.savez_compressed(partial, **arrays)
    os.replace(partial, path)
    return path


def heldout_file(root: Path | str, name: str = "chameleon") -> Path:
    """The autograder's held-out file of the real graph under the data root ``root`` (its
    ``<name>/raw/<name>.npz``), built once under the cache; never downloads: a DataUnavailable when
    the raw file is missing or is not the one pinned."""
    raw = fetch_raw(root, name, download_missing=False)
    key = f"{file_digest(raw, 'sha256')[:16]}-{HELDOUT_SEED}-{HELDOUT_FRACTION:g}"
    path = cached_copy(raw).parent.parent / "heldout" / f"{name}_heldout-{key}.npz"
    return path if path.exists() else write_heldout(raw, path)


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
    looks for the raw file, and note its checksum so that :func:`fetch_raw` accepts it in this process."""
    path = raw_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **fake_wikipedia_arrays(num_nodes, num_features, seed))
    GENERATED.setdefault(name, set()).add(file_digest(path, "sha256"))
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


def read_heldout_npz(path: Path | str) -> tuple[dict, torch.Tensor, torch.Tensor]:  # noqa: F821
    """A held-out file as ``(graph, target, score_mask)``: ``read_graph_npz``'s graph and targets, and
    the bool mask of the nodes to score (every node when the file has no ``score_mask``: a graph
    held out whole)."""
    import torch

    graph, target = read_graph_npz(path)
    with np.load(path, allow_pickle=True) as raw:
        scored = np.array(raw["score_mask"]) if "score_mask" in raw.files else np.ones(len(target), dtype=bool)
    return graph, target, torch.from_numpy(scored.astype(bool))
