"""Self-checks for the gnn assignment: run them from the notebook with check("name").

These are the visible tests; the autograder also runs hidden ones on more cases (directed graphs,
duplicate edges, the karate club, PyG's own GraphConv as the reference, your trained model).
"""
import torch

from coursekit.testing import call, expect, expect_close, expect_equal, tensor_of, test

# A small directed graph: 0 -> 1, 2 -> 1, 1 -> 3; node 4 has no edge at all.
EDGES = torch.tensor([[0, 2, 1], [1, 1, 3]])


@test("neighbors", "of a node on a small directed graph include both directions")
def neighbors_small(sub):
    expect_equal(sub.run(call, "neighbors", EDGES, 1), [0, 2, 3], "neighbors(edge_index, 1)",
                 "node 1 receives edges from 0 and 2 and sends one to 3: look at both rows of edge_index")
    expect_equal(sub.run(call, "neighbors", EDGES, 4), [], "neighbors of the isolated node 4",
                 "a node without edges has no neighbours: return an empty list")


def component_of_toy(ns):
    """largest_connected_component on a graph with three components"""
    from torch_geometric.data import Data

    x = torch.arange(6.0).unsqueeze(1)  # x[i] = i, so the kept nodes can be read back
    graph = Data(x=x, edge_index=torch.tensor([[0, 2, 5], [1, 4, 4]]))
    part = ns["largest_connected_component"](graph)
    return {"x": part.x, "edge_index": part.edge_index, "num_nodes": part.num_nodes}


@test("largest_connected_component", "keeps nodes 2, 4 and 5 of a small graph, with their 2 edges")
def component_small(sub):
    got = sub.run(component_of_toy)
    expect(isinstance(got["x"], torch.Tensor), "return a Data whose x holds the kept nodes' features")
    kept = sorted(int(v) for v in got["x"].flatten().tolist())
    expect_equal(kept, [2, 4, 5], "the nodes kept (read from their features x[i] = i)",
                 "the components are {0, 1}, {2, 4, 5} (2 -> 4 <- 5: ignore directions) and {3}")
    expect_equal(tuple(got["edge_index"].shape), (2, 2), "shape of the kept edge_index",
                 "keep exactly the edges whose two ends are both kept, renumbered 0..n-1")


@test("graph_conv", "adds the features of the sources of incoming edges to each node")
def graph_conv_small(sub):
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [0.0, 3.0], [5.0, 5.0]])
    expected = x.clone()
    expected[1] += x[0] + x[2]
    expected[3] += x[1]
    got = tensor_of(sub.run(call, "graph_conv", x, EDGES), "graph_conv(x, edge_index)")
    expect_close(got, expected, "graph_conv(x, edge_index)",
                 "h_i = x_i + the sum of x_j over edges j -> i (edge_index[0] are sources, edge_index[1] targets)")


@test("random_node_split", "splits 10 nodes into 8 train and 2 test, disjoint and covering")
def split_small(sub):
    train, test_ = sub.run(call, "random_node_split", 10, 0.8, 0)
    train, test_ = tensor_of(train, "train_mask"), tensor_of(test_, "test_mask")
    expect(train.dtype == torch.bool and test_.dtype == torch.bool,
           f"the masks should be bool tensors, got {train.dtype} and {test_.dtype}")
    sizes = (int(train.sum()), int(test_.sum()))
    expect(sizes == (8, 2), f"random_node_split(10, 0.8, 0) put {sizes[0]} nodes in train and {sizes[1]} in test; "
                            "expected 8 and 2: round(0.8 * 10) in train, all the others in test")
    expect(not bool((train & test_).any()), "a node is in both train and test: make test_mask = ~train_mask")
    expect(bool((train | test_).all()), "some node is in neither train nor test")


@test("mean_absolute_error", "is 1.0 for predictions off by one and returns a float")
def mae_small(sub):
    got = sub.run(call, "mean_absolute_error", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 1.0, 4.0]))
    expect(type(got) is float, f"mean_absolute_error should return a Python float, got {type(got).__name__}; "
                               "use float(...)")
    expect_close(got, 1.0, "mean_absolute_error([1, 2, 3], [2, 1, 4])", "the mean of |pred - target|")
