"""Hidden tests for the gnn assignment (only in the Gradescope autograder.zip).

Every expected value is computed here, in the grading process: from PyG's own GraphConv and
KarateClub, from closed forms (connected components by union-find, the split's invariants), or from
torch.nn.functional.l1_loss. The trained model is judged on held-out data by autograder.heldout.
"""
import ast
from pathlib import Path

import torch
from gnn_data import read_heldout_npz
# PyG takes seconds to import. The grader starts the submission's process before it loads this file,
# so importing PyG here overlaps with that process's own start instead of adding to the grading time.
from torch_geometric.datasets import KarateClub
from torch_geometric.nn import GraphConv

from autograder.heldout import heldout_source, judge_predictions
from coursekit.testing import CheckFailed, StudentCodeError, expect, expect_close, expect_equal, tensor_of, test

SUITE = Path(__file__).resolve().parent
# The instructor's heldout/<this>, else the held-out 20% of the real chameleon graph from the data root,
# else the generated heldout/sample_<this> (autograder.heldout.heldout_source).
HELDOUT_FILE = "wikipedia_heldout.npz"
# predict_node_targets passes when its MAE on the held-out pages is at most this fraction of the MAE of
# the best constant (the median of their targets): a trained model clears it, a constant cannot.
BAR_FRACTION = 0.75


def karate_club():
    """Zachary's karate club as PyG ships it."""
    return KarateClub()[0]


def random_directed_graph(seed, num_nodes=20, num_edges=60, isolated=0):
    """Random directed edges with repeats possible; the last ``isolated`` nodes get no edge at all."""
    generator = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes - isolated, (2, num_edges), generator=generator)
    return edge_index[:, edge_index[0] != edge_index[1]]  # no self-loops: they make "neighbour" ambiguous


# ----------------------------------------------------------------------------------------------
# neighbors


def expected_neighbors(edge_index, node):
    sources, targets = edge_index.tolist()
    return sorted({t for s, t in zip(sources, targets) if s == node} | {s for s, t in zip(sources, targets) if t == node})


def all_neighbors(ns, edge_index, nodes):
    """neighbors(edge_index, node) for several nodes"""
    return [ns["neighbors"](edge_index, node) for node in nodes]


def check_neighbor_lists(got, edge_index, nodes, where, hint):
    expect(isinstance(got, list), "neighbors should return a list")
    for node, answer in zip(nodes, got):
        expect(isinstance(answer, list) and all(type(v) is int for v in answer),
               f"neighbors(edge_index, {node}) on {where} returned {type(answer).__name__} "
               f"{str(answer)[:60]}; return a list of Python ints (tensor.tolist() gives one)")
        expect_equal(answer, expected_neighbors(edge_index, node), f"neighbors(edge_index, {node}) on {where}", hint)


@test("neighbors", "matches the friends of node 10 and of every other member of the karate club", points=2)
def neighbors_karate(sub):
    edge_index = karate_club().edge_index
    nodes = [10] + [n for n in range(34) if n != 10]
    check_neighbor_lists(sub.run(all_neighbors, edge_index, nodes), edge_index, nodes, "the karate club",
                         "every friendship is stored in both directions: each neighbour should appear once, sorted")


@test("neighbors", "follows edges in both directions on a random directed graph with repeated edges", points=2)
def neighbors_directed(sub):
    edge_index = random_directed_graph(seed=11, num_nodes=15, num_edges=40)
    edge_index = torch.cat([edge_index, edge_index[:, :5]], dim=1)  # repeated edges
    nodes = list(range(15))
    check_neighbor_lists(sub.run(all_neighbors, edge_index, nodes), edge_index, nodes,
                         "a random directed graph with repeated edges",
                         "include targets of edges leaving the node and sources of edges entering it, each once")


# ----------------------------------------------------------------------------------------------
# largest_connected_component


def weak_components(num_nodes, edge_index):
    """Component label of every node, edge directions ignored (union-find)."""
    parent = list(range(num_nodes))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for s, t in edge_index.t().tolist():
        parent[root(s)] = root(t)
    return [root(i) for i in range(num_nodes)]


def several_components(seed):
    """A directed graph of components with sizes 14, 9, 5, 1, 1 (nodes shuffled), each connected
    only weakly: tree edges point in random directions; plus repeated edges."""
    generator = torch.Generator().manual_seed(seed)
    sizes, edges, first = [14, 9, 5, 1, 1], [], 0
    for size in sizes:
        for node in range(first + 1, first + size):
            other = first + int(torch.randint(0, node - first, (1,), generator=generator))
            edges.append((node, other) if torch.rand(1, generator=generator) < 0.5 else (other, node))
        first += size
    edge_index = torch.tensor(edges).t()
    edge_index = torch.cat([edge_index, edge_index[:, :3]], dim=1)
    relabel = torch.randperm(first, generator=generator)
    x = torch.cat([torch.arange(first, dtype=torch.float).unsqueeze(1),
                   torch.randn(first, 3, generator=generator)], dim=1)  # column 0 = original node id
    y = torch.randn(first, generator=generator)
    return x, relabel[edge_index], y


def component_probe(ns, x, edge_index, y):
    """largest_connected_component on a Data(x, edge_index, y)"""
    from torch_geometric.data import Data

    part = ns["largest_connected_component"](Data(x=x, edge_index=edge_index, y=y))
    return {"type": type(part).__name__, "x": getattr(part, "x", None), "y": getattr(part, "y", None),
            "edge_index": getattr(part, "edge_index", None), "num_nodes": getattr(part, "num_nodes", None)}


def check_component(got, x, edge_index, y, ids, where):
    """``ids``: the original id of each node, read from the kept x through ``ids(x)``."""
    expect(got["type"] == "Data", f"largest_connected_component should return a PyG Data, got {got['type']}")
    kept_x, kept_edges = tensor_of(got["x"], "x of the returned Data"), tensor_of(got["edge_index"], "its edge_index")
    labels = weak_components(x.shape[0], edge_index)
    largest = max(set(labels), key=labels.count)
    expected_nodes = sorted(i for i, label in enumerate(labels) if label == largest)
    original = ids(kept_x)
    expect_equal(sorted(original), expected_nodes, f"the nodes kept on {where} (as original node numbers)",
                 "ignore edge directions (weakly connected) and keep every node of the largest component")
    expect_equal(got["num_nodes"], len(expected_nodes), "num_nodes of the returned Data")
    expect_close(kept_x, x[original], f"x of the kept nodes on {where}", "each row of x must follow its node")
    if y is not None:
        expect_close(tensor_of(got["y"], "y of the returned Data"), y[original], f"y of the kept nodes on {where}",
                     "node attributes such as y must be subset like x (data.subgraph(mask) does it)")
    expect(kept_edges.dtype == torch.long and kept_edges.dim() == 2 and kept_edges.shape[0] == 2,
           f"edge_index of the result should be a long tensor (2, E'), got shape {tuple(kept_edges.shape)}")
    expect(kept_edges.numel() == 0 or int(kept_edges.max()) < len(original),
           "edge_index refers to nodes that are not in the result: renumber the kept nodes 0..n-1")
    as_original = sorted(zip([original[s] for s in kept_edges[0].tolist()], [original[t] for t in kept_edges[1].tolist()]))
    expected_edges = sorted((s, t) for s, t in edge_index.t().tolist() if labels[s] == largest)
    expect_equal(as_original, expected_edges, f"the edges kept on {where} (as original node numbers)",
                 "keep every edge between kept nodes, repeats included, renumbered like the nodes")


@test("largest_connected_component", "keeps all 34 members and 156 edges of the (connected) karate club")
def component_karate(sub):
    club = karate_club()
    got = sub.run(component_probe, club.x, club.edge_index, club.y)
    check_component(got, club.x, club.edge_index, club.y.float(), lambda x: x.argmax(dim=1).tolist(),
                    "the karate club")


@test("largest_connected_component", "keeps the largest weakly connected component of directed graphs with "
      "several components and isolated nodes", points=3)
def component_several(sub):
    for seed in (21, 22, 23):
        x, edge_index, y = several_components(seed)
        got = sub.run(component_probe, x, edge_index, y)
        check_component(got, x, edge_index, y, lambda kept: kept[:, 0].round().long().tolist(),
                        f"a graph with components of sizes 14, 9, 5, 1, 1 (seed {seed})")


def long_path_and_star(seed, length=100, star=60):
    """A path of ``length`` nodes whose edges point in alternating directions, beside a star of
    ``star`` nodes (nodes shuffled): the path is the largest component but has diameter length - 1."""
    generator = torch.Generator().manual_seed(seed)
    path = [(i, i + 1) if i % 2 else (i + 1, i) for i in range(length - 1)]
    spokes = [(length, length + k) for k in range(1, star)]
    edge_index = torch.tensor(path + spokes).t()
    relabel = torch.randperm(length + star, generator=generator)
    x = torch.cat([torch.arange(length + star, dtype=torch.float).unsqueeze(1),
                   torch.randn(length + star, 2, generator=generator)], dim=1)  # column 0 = node id
    y = torch.randn(length + star, generator=generator)
    return x, relabel[edge_index], y


@test("largest_connected_component", "follows a long path to its far end (a 100-node path beats a 60-node star)")
def component_long_path(sub):
    x, edge_index, y = long_path_and_star(seed=24)
    got = sub.run(component_probe, x, edge_index, y)
    where = "a 100-node path with edges in alternating directions beside a 60-node star"
    try:
        check_component(got, x, edge_index, y, lambda kept: kept[:, 0].round().long().tolist(), where)
    except CheckFailed as failure:
        if not str(failure).startswith(f"the nodes kept on {where}"):
            raise
        raise CheckFailed(f"{failure}. A fixed number of rounds of search or label propagation stops short "
                          "of the far end of a long path: repeat until no new node is reached") from None


# ----------------------------------------------------------------------------------------------
# graph_conv

CONV_HINT = "h_i = x_i + sum of x_j over the edges j -> i: index_add_ the source rows x[edge_index[0]] into edge_index[1]"


def reference_conv(x, edge_index):
    """PyG's GraphConv with both weight matrices set to I and no bias: the layer graph_conv reproduces."""
    layer = GraphConv(x.shape[1], x.shape[1], aggr="add", bias=False)
    with torch.no_grad():
        layer.lin_rel.weight.copy_(torch.eye(x.shape[1]))
        layer.lin_root.weight.copy_(torch.eye(x.shape[1]))
        return layer(x, edge_index)


def conv_outputs(ns, cases):
    """graph_conv on several graphs, watching for PyG layers"""
    import torch

    used = []

    def spy(module, inputs):
        if type(module).__module__.startswith("torch_geometric.nn"):
            used.append(type(module).__name__)

    handle = torch.nn.modules.module.register_module_forward_pre_hook(spy)
    try:
        outputs = [ns["graph_conv"](x, edge_index) for x, edge_index in cases]
    finally:
        handle.remove()
    return {"outputs": outputs, "pyg_modules": sorted(set(used))}


FORBIDDEN = ("MessagePassing", "propagate")


def pyg_layers_named(source):
    """Names in graph_conv's code (comments and strings excluded) that are PyG convolution layers."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {alias.name.split(".")[-1] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
              for alias in node.names}
    modules = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    found = sorted(n for n in names if n.endswith("Conv") or n in FORBIDDEN)
    return found + sorted(m for m in modules if m.startswith("torch_geometric.nn"))


def run_conv(sub, cases, what, hint=CONV_HINT, rtol=1e-5):
    """Run graph_conv on ``cases`` and compare every output with PyG's GraphConv. Every graph_conv
    test first checks that PyG's layers were not used, in the code (statically) and while it runs."""
    named = pyg_layers_named(sub.source_of("graph_conv"))
    expect(not named, f"graph_conv uses {', '.join(named)}: the exercise is to write the convolution yourself "
                      "with torch operations (PyG's layers are welcome in part 3)")
    got = sub.run(conv_outputs, cases)
    expect(not got["pyg_modules"], f"graph_conv called PyG's {', '.join(got['pyg_modules'])}: write the "
                                   "convolution with torch operations (index_add_, scatter_add_, a matrix product)")
    for (x, edge_index), h in zip(cases, got["outputs"]):
        h = tensor_of(h, f"graph_conv on {what}")
        expect_close(h, reference_conv(x, edge_index), f"graph_conv on {what}", hint, rtol=rtol, atol=1e-4)


@test("graph_conv", "matches torch_geometric.nn.GraphConv with identity weights on random directed graphs", points=3)
def conv_random(sub):
    generator = torch.Generator().manual_seed(31)
    cases = [(torch.randn(20, 5, generator=generator), random_directed_graph(seed, 20, 60)) for seed in (1, 2, 3)]
    cases.append((torch.randn(50, 16, generator=generator), random_directed_graph(4, 50, 300)))
    run_conv(sub, cases, "a random directed graph")


@test("graph_conv", "messages flow from source to target")
def conv_direction(sub):
    x = torch.tensor([[1.0, 0.0], [0.0, 10.0], [100.0, 0.0]])
    run_conv(sub, [(x, torch.tensor([[0, 0], [1, 2]]))], "the edges 0 -> 1 and 0 -> 2",
             "node 0 only sends: h_0 = x_0 and h_1 = x_1 + x_0. If h_0 came out as x_0 + x_1 + x_2, the "
             "messages flow target -> source: add x[edge_index[0]] into the rows edge_index[1]")


@test("graph_conv", "keeps the self term x_i, also for isolated nodes after the last edge")
def conv_isolated(sub):
    generator = torch.Generator().manual_seed(32)
    x = torch.randn(12, 4, generator=generator)
    run_conv(sub, [(x, random_directed_graph(5, 12, 20, isolated=4))], "a graph whose nodes 8-11 have no edge",
             "keep the self term: every node keeps its own features (h_i = x_i + ...), and the output has one "
             "row per row of x, even when the last nodes have no edges (size it from x, not edge_index.max())")


@test("graph_conv", "counts an edge listed twice twice, as GraphConv does")
def conv_duplicates(sub):
    x = torch.tensor([[1.0], [2.0], [4.0]])
    run_conv(sub, [(x, torch.tensor([[0, 0, 2], [1, 1, 1]]))], "the edges 0 -> 1 (twice) and 2 -> 1",
             "h_1 = x_1 + x_0 + x_0 + x_2 = 8: every column of edge_index is one message, repeats included")


@test("graph_conv", "sums, not averages, over a node with many incoming edges")
def conv_sum(sub):
    x = torch.arange(1.0, 7.0).unsqueeze(1).repeat(1, 3)
    run_conv(sub, [(x, torch.tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]]))], "a star of 5 edges into node 0",
             "GraphConv's default aggregation is the sum: h_0 = x_0 + x_1 + ... + x_5, not a mean")


@test("graph_conv", "matches GraphConv on the karate club (one-hot features)")
def conv_karate(sub):
    club = karate_club()
    run_conv(sub, [(club.x, club.edge_index)], "the karate club")


@test("graph_conv", "is written without PyG's convolution layers (every graph_conv test checks it)")
def conv_not_pyg(sub):
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(33))
    run_conv(sub, [(x, random_directed_graph(6, 6, 10))], "a small random graph")


# ----------------------------------------------------------------------------------------------
# random_node_split


def splits(ns, calls):
    """random_node_split on several inputs"""
    return [ns["random_node_split"](*args) for args in calls]


def read_masks(pair, num_nodes, what):
    expect(isinstance(pair, (list, tuple)) and len(pair) == 2, f"{what} should return (train_mask, test_mask)")
    train, test_ = (tensor_of(mask, f"{name} of {what}") for mask, name in zip(pair, ("train_mask", "test_mask")))
    for mask, name in ((train, "train_mask"), (test_, "test_mask")):
        expect(mask.dtype == torch.bool and tuple(mask.shape) == (num_nodes,),
               f"{name} of {what} should be a bool tensor of shape ({num_nodes},), got {mask.dtype} {tuple(mask.shape)}")
    return train, test_


CASES = [(100, 0.8, 0), (2277, 0.8, 5), (7, 0.5, 1), (1000, 0.3, 2)]


@test("random_node_split", "has round(train_frac · N) ± 1 train nodes, for the defaults and other fractions")
def split_sizes(sub):
    calls = [(n, frac, seed) for n, frac, seed in CASES] + [(50,)]
    for args, pair in zip(calls, sub.run(splits, calls)):
        n, frac = args[0], args[1] if len(args) > 1 else 0.8
        train, _ = read_masks(pair, n, f"random_node_split{args}")
        expect(abs(int(train.sum()) - frac * n) <= 1,
               f"random_node_split{args} put {int(train.sum())} nodes in train; expected about {frac * n:g} "
               "(train_frac of the nodes; the defaults are train_frac=0.8, seed=0)")


@test("random_node_split", "train and test are disjoint and together cover every node", points=2)
def split_partition(sub):
    for args, pair in zip(CASES, sub.run(splits, CASES)):
        train, test_ = read_masks(pair, args[0], f"random_node_split{args}")
        both, neither = int((train & test_).sum()), int((~train & ~test_).sum())
        expect(both == 0, f"random_node_split{args}: {both} nodes are in both train and test; "
                          "derive test_mask from train_mask (test_mask = ~train_mask)")
        expect(neither == 0, f"random_node_split{args}: {neither} nodes are in neither train nor test")


def split_under_other_random_states(ns):
    """random_node_split twice with the same seed, the global random state changed in between"""
    import torch

    torch.manual_seed(1)
    first = ns["random_node_split"](100, 0.8, 3)
    torch.manual_seed(2)
    torch.rand(17)
    second = ns["random_node_split"](100, 0.8, 3)
    return [first, second]


@test("random_node_split", "the same seed gives the same split, whatever the global random state")
def split_seeded(sub):
    first, second = (read_masks(pair, 100, "random_node_split(100, 0.8, 3)") for pair in
                     sub.run(split_under_other_random_states))
    expect(torch.equal(first[0], second[0]),
           "random_node_split(100, 0.8, 3) changed after torch.manual_seed(2): draw from "
           "torch.Generator().manual_seed(seed) so the split depends on seed only")


@test("random_node_split", "is random: different seeds give different splits, train nodes spread over all nodes")
def split_random(sub):
    (a, _), (b, _) = (read_masks(pair, 1000, f"random_node_split(1000, 0.8, {seed})")
                      for seed, pair in zip((0, 1), sub.run(splits, [(1000, 0.8, 0), (1000, 0.8, 1)])))
    expect(not torch.equal(a, b), "seeds 0 and 1 gave the same split: use the seed argument")
    first_half = float(a[:500].float().mean())
    expect(0.7 <= first_half <= 0.9, f"{first_half:.0%} of nodes 0-499 are in train with seed 0; a random "
                                     "split puts about 80% there: shuffle the nodes (torch.randperm) before cutting")


# ----------------------------------------------------------------------------------------------
# mean_absolute_error


def maes(ns, pairs):
    """mean_absolute_error on several pairs"""
    return [ns["mean_absolute_error"](pred, target) for pred, target in pairs]


@test("mean_absolute_error", "matches torch.nn.functional.l1_loss on random tensors")
def mae_random(sub):
    generator = torch.Generator().manual_seed(41)
    pairs = [(torch.randn(n, generator=generator), torch.randn(n, generator=generator)) for n in (5, 100)]
    pairs.append((torch.randn(3, 4, generator=generator), torch.randn(3, 4, generator=generator)))
    for (pred, target), got in zip(pairs, sub.run(maes, pairs)):
        expect_close(got, torch.nn.functional.l1_loss(pred, target), f"MAE of tensors of shape {tuple(pred.shape)}",
                     "the mean of |pred - target| over all values (not squared, not summed)")


@test("mean_absolute_error", "flattens a (N, 1) prediction against a (N,) target instead of broadcasting")
def mae_shapes(sub):
    generator = torch.Generator().manual_seed(42)
    pred, target = torch.randn(30, 1, generator=generator), torch.randn(30, generator=generator)
    got = sub.run(maes, [(pred, target), (target, pred)])
    expected = torch.nn.functional.l1_loss(pred.flatten(), target)
    for value, order in zip(got, ("pred (30, 1), target (30,)", "pred (30,), target (30, 1)")):
        expect_close(value, expected, f"MAE with {order}",
                     "(30, 1) - (30,) broadcasts to (30, 30): flatten both with .reshape(-1) first")


@test("mean_absolute_error", "returns a Python float, also for tensors that require grad")
def mae_float(sub):
    pred = torch.randn(8, generator=torch.Generator().manual_seed(43)).requires_grad_()
    got = sub.run(maes, [(pred, torch.zeros(8))])[0]
    expect(type(got) is float, f"mean_absolute_error returned {type(got).__name__}; return float(...) (or .item())")
    expect_close(got, pred.detach().abs().mean(), "MAE of a tensor that requires grad")


# ----------------------------------------------------------------------------------------------
# predict_node_targets: the trained model, judged on the held-out pages


def scored_mae(predictions, targets, scored):
    """MAE of ``predictions`` (one per node of the held-out graph) on the nodes of ``scored``."""
    predictions = tensor_of(predictions, "predict_node_targets(graph)")
    expect(predictions.numel() == targets.numel(),
           f"predict_node_targets returned {predictions.numel()} values for a graph of {targets.numel()} nodes; "
           "return one prediction per node, shape (N,)")
    predictions = predictions.reshape(-1).to(torch.float64)
    if not bool(torch.isfinite(predictions[scored]).all()):
        raise CheckFailed("predict_node_targets returned NaN or infinite values")
    return float(torch.nn.functional.l1_loss(predictions[scored], targets.reshape(-1)[scored].to(torch.float64)))


SAMPLE_NOTE = ("judged on heldout/{name}, the kit's generated stand-in for chameleon, on which a model trained on "
               "chameleon cannot be judged: put chameleon.npz in <data root>/wikipedia/chameleon/raw to judge it "
               "on the real held-out pages")


@test("predict_node_targets", f"MAE on the autograder's held-out pages is at most {BAR_FRACTION} of the "
      "best constant guess's", points=5)
def predictor_heldout(sub):
    # The whole graph goes in (x and edge_index of every page); only the held-out pages are scored,
    # and their targets never leave this process.
    source = heldout_source(SUITE, HELDOUT_FILE)
    graph, targets, scored = read_heldout_npz(source.path)
    constant = float((targets[scored] - targets[scored].median()).abs().mean())
    try:
        judge_predictions(sub, "predict_node_targets", graph, targets,
                          metric=lambda predictions, target: scored_mae(predictions, target, scored),
                          bar=BAR_FRACTION * constant, higher_is_better=False, label="held-out MAE")
    except (CheckFailed, StudentCodeError) as failure:
        if source.kind != "sample":
            raise
        said = str(failure) if isinstance(failure, CheckFailed) else f"your code raised {failure}"
        raise CheckFailed(f"{said} ({SAMPLE_NOTE.format(name=source.path.name)})") from None
