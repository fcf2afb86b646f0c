"""The gnn tests catch realistic mistakes and accept other correct answers."""
import pytest
from conftest import KIT_ROOT, handout_on_path, sample_stand_in
from variants import coverage_gaps, messages, scores

SLUG = "gnn"
# These tests judge predict_node_targets on the generated held-out sample (conftest: KIT_HELDOUT=sample),
# on which the master's gnn_model.pt, trained on chameleon, cannot be judged: every variant loads the
# smoke-trained stand-in instead (tests/sample_models/). The real-data tests at the end do not.
ON_SAMPLE = f"MODEL_PATH = {str(sample_stand_in(KIT_ROOT / 'solutions' / 'gnn_model.pt'))!r}\n"

# Each bug is what a student plausibly writes; the graded name it breaks must lose points.
BUGS = {
    "neighbors": {
        "outgoing edges only": """
def neighbors(edge_index, node):
    return sorted(set(edge_index[1][edge_index[0] == node].tolist()))""",
        "keeps repeats": """
def neighbors(edge_index, node):
    s, t = edge_index
    return sorted(torch.cat([t[s == node], s[t == node]]).tolist())""",
        "returns a tensor": """
def neighbors(edge_index, node):
    s, t = edge_index
    return torch.unique(torch.cat([t[s == node], s[t == node]]))""",
    },
    "largest_connected_component": {
        "follows edge directions": """
def largest_connected_component(data):
    best = set()
    for start in range(data.num_nodes):
        seen, frontier = {start}, [start]
        while frontier:
            node = frontier.pop()
            for other in data.edge_index[1][data.edge_index[0] == node].tolist():
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        if len(seen) > len(best):
            best = seen
    mask = torch.zeros(data.num_nodes, dtype=torch.bool)
    mask[list(best)] = True
    return data.subgraph(mask)""",
        "edges not renumbered": """
def largest_connected_component(data):
    s, t = data.edge_index
    label = torch.arange(data.num_nodes)
    for _ in range(data.num_nodes):
        label = label.scatter_reduce(0, t, label[s], reduce="amin").scatter_reduce(0, s, label[t], reduce="amin")
    keep = label == torch.bincount(label).argmax()
    return Data(x=data.x[keep], y=data.y[keep], edge_index=data.edge_index[:, keep[s] & keep[t]])""",
        "drops the node targets y": """
def largest_connected_component(data):
    from torch_geometric.utils import subgraph
    s, t = data.edge_index
    label = torch.arange(data.num_nodes)
    for _ in range(data.num_nodes):
        label = label.scatter_reduce(0, t, label[s], reduce="amin").scatter_reduce(0, s, label[t], reduce="amin")
    keep = label == torch.bincount(label).argmax()
    edge_index, _ = subgraph(keep, data.edge_index, relabel_nodes=True)
    return Data(x=data.x[keep], edge_index=edge_index)""",
        "label propagation for a fixed 10 rounds, not until nothing changes (a long path)": """
def largest_connected_component(data):
    s, t = data.edge_index
    label = torch.arange(data.num_nodes)
    for _ in range(10):
        label = label.scatter_reduce(0, t, label[s], reduce="amin").scatter_reduce(0, s, label[t], reduce="amin")
    return data.subgraph(label == torch.bincount(label).argmax())""",
        "label propagation for a fixed 3 rounds, not until nothing changes": """
def largest_connected_component(data):
    s, t = data.edge_index
    label = torch.arange(data.num_nodes)
    for _ in range(3):
        label = label.scatter_reduce(0, t, label[s], reduce="amin").scatter_reduce(0, s, label[t], reduce="amin")
    return data.subgraph(label == torch.bincount(label).argmax())""",
    },
    "graph_conv": {
        "messages flow target -> source": """
def graph_conv(x, edge_index):
    s, t = edge_index
    return x.clone().index_add_(0, s, x[t])""",
        "missing self term": """
def graph_conv(x, edge_index):
    s, t = edge_index
    return torch.zeros_like(x).index_add_(0, t, x[s])""",
        "mean instead of sum": """
def graph_conv(x, edge_index):
    s, t = edge_index
    total = torch.zeros_like(x).index_add_(0, t, x[s])
    count = torch.bincount(t, minlength=x.shape[0]).clamp(min=1).unsqueeze(1)
    return x + total / count""",
        "output sized by the largest node in edge_index": """
def graph_conv(x, edge_index):
    s, t = edge_index
    n = int(edge_index.max()) + 1
    return x[:n].clone().index_add_(0, t, x[s])""",
        "repeated edges counted once": """
def graph_conv(x, edge_index):
    s, t = torch.unique(edge_index, dim=1)
    return x.clone().index_add_(0, t, x[s])""",
        "calls PyG's GraphConv": """
def graph_conv(x, edge_index):
    layer = GraphConv(x.shape[1], x.shape[1], bias=False)
    with torch.no_grad():
        layer.lin_rel.weight.copy_(torch.eye(x.shape[1]))
        layer.lin_root.weight.copy_(torch.eye(x.shape[1]))
        return layer(x, edge_index)""",
        "hides PyG's GraphConv in a helper": """
def _layer(x, edge_index):
    layer = GraphConv(x.shape[1], x.shape[1], bias=False)
    with torch.no_grad():
        layer.lin_rel.weight.copy_(torch.eye(x.shape[1]))
        layer.lin_root.weight.copy_(torch.eye(x.shape[1]))
        return layer(x, edge_index)

def graph_conv(x, edge_index):
    return _layer(x, edge_index)""",
    },
    "random_node_split": {
        "overlapping train and test": """
def random_node_split(num_nodes, train_frac=0.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(num_nodes, generator=g) < train_frac, torch.rand(num_nodes, generator=g) < 1 - train_frac""",
        "ignores the seed": """
def random_node_split(num_nodes, train_frac=0.8, seed=0):
    train = torch.zeros(num_nodes, dtype=torch.bool)
    train[torch.randperm(num_nodes)[:round(train_frac * num_nodes)]] = True
    return train, ~train""",
        "the first 80% of the nodes": """
def random_node_split(num_nodes, train_frac=0.8, seed=0):
    train = torch.arange(num_nodes) < round(train_frac * num_nodes)
    return train, ~train""",
        "index tensors instead of masks": """
def random_node_split(num_nodes, train_frac=0.8, seed=0):
    order = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed))
    k = round(train_frac * num_nodes)
    return order[:k], order[k:]""",
    },
    "mean_absolute_error": {
        "squared error": "def mean_absolute_error(pred, target):\n    return float(((pred - target) ** 2).mean())",
        "broadcasts (N, 1) against (N,)": "def mean_absolute_error(pred, target):\n    return float((pred - target).abs().mean())",
        "returns a tensor": "def mean_absolute_error(pred, target):\n    return (pred.reshape(-1) - target.reshape(-1)).abs().mean()",
    },
    "predict_node_targets": {
        "a constant": "def predict_node_targets(graph):\n    return torch.full((graph['x'].shape[0],), 4.3)",
        "an untrained model": """
def predict_node_targets(graph):
    checkpoint = torch.load(MODEL_PATH, weights_only=True)
    torch.manual_seed(0)
    model = GNNRegressor(**checkpoint["config"]).eval()
    with torch.no_grad():
        return model(graph["x"], graph["edge_index"]) * checkpoint["y_std"] + checkpoint["y_mean"]""",
        "standardization not undone": """
def predict_node_targets(graph):
    checkpoint = torch.load(MODEL_PATH, weights_only=True)
    model = GNNRegressor(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    with torch.no_grad():
        return model.eval()(graph["x"], graph["edge_index"])""",
        "the checkpoint is not handed in": """
def predict_node_targets(graph):
    checkpoint = torch.load("my_model.pt", weights_only=True)
    return checkpoint""",
    },
}

# Correct answers that differ from the master's; each keeps every point of its graded name.
ALTERNATIVES = {
    "neighbors": {
        "a Python loop": """
def neighbors(edge_index, node):
    found = set()
    for s, t in edge_index.t().tolist():
        if s == node:
            found.add(t)
        if t == node:
            found.add(s)
    return sorted(found)""",
        "torch.unique": """
def neighbors(edge_index, node):
    mask = (edge_index == node).any(dim=0)
    ends = edge_index[:, mask]
    return torch.unique(torch.where(ends[0] == node, ends[1], ends[0])).tolist()""",
    },
    "largest_connected_component": {
        "breadth-first search in its own order": """
def largest_connected_component(data):
    adjacency = [[] for _ in range(data.num_nodes)]
    for s, t in data.edge_index.t().tolist():
        adjacency[s].append(t)
        adjacency[t].append(s)
    seen, best = set(), []
    for start in range(data.num_nodes):
        if start in seen:
            continue
        order, queue = [start], [start]
        seen.add(start)
        while queue:
            for other in adjacency[queue.pop(0)]:
                if other not in seen:
                    seen.add(other)
                    order.append(other)
                    queue.append(other)
        if len(order) > len(best):
            best = order
    index = torch.tensor(best)  # nodes in BFS order, not the original order
    new_id = torch.full((data.num_nodes,), -1)
    new_id[index] = torch.arange(len(best))
    s, t = data.edge_index
    keep = (new_id[s] >= 0) & (new_id[t] >= 0)
    part = Data(x=data.x[index], edge_index=torch.stack([new_id[s[keep]], new_id[t[keep]]]))
    if data.y is not None:
        part.y = data.y[index]
    return part""",
        "scipy's weak components and data.subgraph": """
def largest_connected_component(data):
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    s, t = data.edge_index.numpy()
    A = coo_matrix((np.ones(len(s)), (s, t)), shape=(data.num_nodes, data.num_nodes))
    _, labels = connected_components(A, directed=True, connection="weak")
    mask = torch.from_numpy(labels == np.bincount(labels).argmax())
    return data.subgraph(mask)""",
    },
    "graph_conv": {
        "index_add without in-place": """
def graph_conv(x, edge_index):
    return x + torch.zeros_like(x).index_add(0, edge_index[1], x.index_select(0, edge_index[0]))""",
        "dense adjacency": """
def graph_conv(x, edge_index):
    n = x.shape[0]
    A = torch.zeros(n, n, dtype=x.dtype)
    A.index_put_((edge_index[1], edge_index[0]), torch.ones(edge_index.shape[1], dtype=x.dtype), accumulate=True)
    return (A + torch.eye(n, dtype=x.dtype)) @ x""",
        "torch.sparse": """
def graph_conv(x, edge_index):
    n = x.shape[0]
    A = torch.sparse_coo_tensor(edge_index.flip(0), torch.ones(edge_index.shape[1], dtype=x.dtype), (n, n))
    return x + torch.sparse.mm(A, x)""",
        "scatter_add_": """
def graph_conv(x, edge_index):
    s, t = edge_index
    return x.scatter_add(0, t.unsqueeze(1).expand(-1, x.shape[1]), x[s])""",
        "PyG's scatter utility": """
def graph_conv(x, edge_index):
    from torch_geometric.utils import scatter
    return x + scatter(x[edge_index[0]], edge_index[1], dim=0, dim_size=x.shape[0], reduce="sum")""",
    },
    "random_node_split": {
        "numpy": """
import numpy as np
def random_node_split(num_nodes, train_frac=0.8, seed=0):
    order = np.random.default_rng(seed).permutation(num_nodes)
    train = torch.zeros(num_nodes, dtype=torch.bool)
    train[torch.from_numpy(order[:int(train_frac * num_nodes)])] = True
    return train, ~train""",
        "reseeding the global generator": """
def random_node_split(num_nodes, train_frac=0.8, seed=0):
    torch.manual_seed(seed)
    train = torch.zeros(num_nodes, dtype=torch.bool)
    train[torch.randperm(num_nodes)[:int(train_frac * num_nodes)]] = True
    return train, ~train""",
    },
    "mean_absolute_error": {
        "l1_loss": """
import torch.nn.functional as F
def mean_absolute_error(pred, target):
    return F.l1_loss(pred.flatten().detach(), target.flatten().detach()).item()""",
        "numpy on flattened arrays": """
import numpy as np
def mean_absolute_error(pred, target):
    p = pred.detach().cpu().numpy().ravel()
    t = target.detach().cpu().numpy().ravel()
    return float(np.abs(p - t).mean())""",
    },
    "predict_node_targets": {
        "through a PyG Data": """
def predict_node_targets(graph):
    data = Data(**graph)
    checkpoint = torch.load(MODEL_PATH, map_location="cpu", weights_only=True)
    model = GNNRegressor(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    with torch.inference_mode():
        z = model(data.x, data.edge_index)
    return (z * checkpoint["y_std"] + checkpoint["y_mean"]).unsqueeze(1)""",
        "model loaded once at top level": """
saved = torch.load(MODEL_PATH, map_location="cpu", weights_only=True)
regressor = GNNRegressor(**saved["config"])
regressor.load_state_dict(saved["state_dict"])
regressor.eval()


def predict_node_targets(graph):
    with torch.no_grad():
        return regressor(graph["x"], graph["edge_index"]) * saved["y_std"] + saved["y_mean"]""",
    },
}


def test_the_master_earns_every_point():
    assert all(got == possible for got, possible in scores(SLUG, ON_SAMPLE).values())


def test_every_graded_name_has_three_bugs_and_two_alternatives():
    assert not coverage_gaps(SLUG, BUGS, ALTERNATIVES), coverage_gaps(SLUG, BUGS, ALTERNATIVES)


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = scores(SLUG, ON_SAMPLE + BUGS[name][bug], only=name)[name]
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name,alternative", [(n, a) for n, alts in ALTERNATIVES.items() for a in alts])
def test_an_alternative_correct_answer_keeps_full_marks(name, alternative):
    source = ALTERNATIVES[name][alternative]
    got, possible = scores(SLUG, ON_SAMPLE + source, only=name)[name]
    assert got == possible, messages(SLUG, ON_SAMPLE + source, name)


@pytest.mark.parametrize("bug,expected", [
    ("messages flow target -> source", "target -> source"),
    ("missing self term", "self term"),
    ("mean instead of sum", "not a mean"),
    ("repeated edges counted once", "repeats included"),
    ("calls PyG's GraphConv", "GraphConv"),
    ("hides PyG's GraphConv in a helper", "GraphConv"),
])
def test_graph_conv_messages_name_the_cause(bug, expected):
    found = messages(SLUG, BUGS["graph_conv"][bug], "graph_conv")
    assert any(expected in m for m in found), found


def test_a_fixed_number_of_rounds_is_told_to_repeat_until_nothing_changes():
    bug = BUGS["largest_connected_component"]["label propagation for a fixed 10 rounds, not until nothing changes (a long path)"]
    found = messages(SLUG, bug, "largest_connected_component")
    assert any("repeat until no new node is reached" in m for m in found), found


def test_split_and_component_messages_say_where_to_look():
    found = messages(SLUG, BUGS["random_node_split"]["overlapping train and test"], "random_node_split")
    assert any("in both train and test" in m for m in found), found
    found = messages(SLUG, BUGS["largest_connected_component"]["follows edge directions"], "largest_connected_component")
    assert any("weakly" in m for m in found), found


def test_a_constant_predictor_misses_the_bar():
    found = messages(SLUG, ON_SAMPLE + BUGS["predict_node_targets"]["a constant"], "predict_node_targets")
    assert any("held-out" in m and "the bar is at most" in m for m in found), found


def test_on_the_sample_a_failure_says_it_was_judged_on_generated_data():
    found = messages(SLUG, ON_SAMPLE + BUGS["predict_node_targets"]["an untrained model"], "predict_node_targets")
    assert any("the kit's generated stand-in for chameleon" in m for m in found), found


def test_on_real_data_the_shipped_model_passes_the_heldout_bar(real_data):
    got, possible = scores(SLUG, only="predict_node_targets")["predict_node_targets"]  # solutions/gnn_model.pt
    assert got == possible, messages(SLUG, "", "predict_node_targets")


def test_on_real_data_the_best_constant_fails_the_heldout_bar(real_data):
    from autograder.heldout import heldout_source

    handout_on_path(SLUG)
    from gnn_data import read_heldout_npz

    source = heldout_source(KIT_ROOT / "autograder" / "suites" / SLUG, "wikipedia_heldout.npz")
    assert source.kind == "real", source
    _, targets, scored = read_heldout_npz(source.path)
    median = float(targets[scored].median())  # the constant the bar is measured against
    constant = f"def predict_node_targets(graph):\n    return torch.full((graph['x'].shape[0],), {median!r})"
    found = messages(SLUG, constant, "predict_node_targets")
    assert any("held-out" in m and "the bar is at most" in m for m in found), found
    assert not any("generated" in m for m in found), found
