"""Self-checks for the foundations assignment: run them from the notebook with check("name").

These are the visible tests; the autograder also runs hidden ones on more cases.
"""
import torch

from coursekit.testing import as_tensor, call, expect, expect_close, expect_equal, test, value_of

INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]


def unit_outputs(w, b):
    """Threshold unit f(x) = 1 if w·x + b >= 0 else 0 on the four inputs of {0,1}²."""
    w, b = as_tensor(w, "the weights").reshape(-1), as_tensor(b, "the bias").reshape(-1)
    expect(w.numel() == 2 and b.numel() == 1, f"need 2 weights and 1 bias, got {w.numel()} and {b.numel()}")
    return [int(float(w @ torch.tensor(x, dtype=torch.float64) + b[0]) >= 0) for x in INPUTS]


@test("W_AND", "with b_AND, the threshold unit computes AND on {0,1}²")
def and_truth_table(sub):
    outputs = unit_outputs(sub.run(value_of, "W_AND"), sub.run(value_of, "b_AND"))
    expect_equal(outputs, [0, 0, 0, 1], "outputs on (0,0), (0,1), (1,0), (1,1)",
                 "AND fires only when both inputs are 1: w·(1,1) + b >= 0 but w·(0,1) + b < 0")


@test("W_OR", "with b_OR, the threshold unit computes OR on {0,1}²")
def or_truth_table(sub):
    outputs = unit_outputs(sub.run(value_of, "W_OR"), sub.run(value_of, "b_OR"))
    expect_equal(outputs, [0, 1, 1, 1], "outputs on (0,0), (0,1), (1,0), (1,1)",
                 "OR fires when either input is 1: only w·(0,0) + b = b must be negative")


@test("xor_network", "computes XOR on the four inputs given as tuples")
def xor_truth_table(sub):
    outputs = [sub.run(call, "xor_network", x) for x in INPUTS]
    expect_equal(outputs, [0, 1, 1, 0], "xor_network on (0,0), (0,1), (1,0), (1,1)",
                 "XOR = AND(OR(x), NAND(x)): combine two threshold units in a hidden layer")


@test("parity_lstm_params", "has the eight keys, W_* of shape (H, H+1) and b_* of shape (H,)")
def parity_shapes(sub):
    params = sub.run(call, "parity_lstm_params")
    expect(isinstance(params, dict), "parity_lstm_params() should return a dict")
    keys = ["W_f", "b_f", "W_i", "b_i", "W_C", "b_C", "W_o", "b_o"]
    missing = [k for k in keys if k not in params]
    expect(not missing, f"missing keys: {', '.join(missing)}")
    hidden = as_tensor(params["b_f"], "b_f").reshape(-1).numel()
    for gate in "fiCo":
        w, b = as_tensor(params[f"W_{gate}"], f"W_{gate}"), as_tensor(params[f"b_{gate}"], f"b_{gate}")
        expect_equal(tuple(w.shape), (hidden, hidden + 1), f"shape of W_{gate}",
                     "each W acts on the concatenation [h_{t-1}, x_t] of length H + 1")
        expect_equal(tuple(b.shape), (hidden,), f"shape of b_{gate}")


@test("spectral_radius", "of a diagonal matrix is its largest |entry|")
def spectral_radius_diagonal(sub):
    W = torch.diag(torch.tensor([0.5, -3.0, 2.0]))
    expect_close(sub.run(call, "spectral_radius", W), 3.0, "spectral_radius(diag(0.5, -3, 2))",
                 "take the largest absolute value of the eigenvalues, not the largest eigenvalue")


@test("hidden_state", "h_0 for t = 0 and W^T h_0 for t = 1")
def hidden_state_first_steps(sub):
    W = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    h0 = torch.tensor([1.0, 1.0])
    expect_close(sub.run(call, "hidden_state", W, h0, 0), h0, "hidden_state(W, h0, 0)",
                 "after zero steps the state is h0 itself")
    expect_close(sub.run(call, "hidden_state", W, h0, 1), W.T @ h0, "hidden_state(W, h0, 1)",
                 "the recurrence is h_t = W^T h_{t-1}: transpose W")


@test("h1_next", "is a vector of 2 numbers")
def h1_next_shape(sub):
    value = as_tensor(sub.run(value_of, "h1_next"), "h1_next")
    expect_equal(tuple(value.reshape(-1).shape), (2,), "number of entries in h1_next",
                 "h_1^{t+1} has the dimension of the value vectors")


@test("self_attention_plain", "matches softmax(X Xᵀ) X on a 2×2 example")
def self_attention_small(sub):
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    expected = torch.softmax(X @ X.T, dim=-1) @ X
    expect_close(sub.run(call, "self_attention_plain", X), expected, "self_attention_plain(X)",
                 "softmax over each row of X Xᵀ (dim=-1), no scaling")


@test("num_directed_edges", "is a whole number")
def directed_edges_is_a_count(sub):
    got = sub.run(value_of, "num_directed_edges")
    expect(isinstance(got, int) or (isinstance(got, float) and got.is_integer()),
           f"expected a whole number of edges, got {got!r}")


@test("figure_rnn_output", "returns an int 0 or 1 for the inputs [1, 2] and [2, 1]")
def figure_rnn_small(sub):
    for xs in ([1, 2], [2, 1]):
        got = sub.run(call, "figure_rnn_output", xs)
        expect(got in (0, 1) and not isinstance(got, bool), f"figure_rnn_output({xs}) should be the int 0 or 1, got {got!r}")
    expect(sub.run(call, "figure_rnn_output", [1, 2]) != sub.run(call, "figure_rnn_output", [2, 1]),
           "[1, 2] and [2, 1] give the same output: the order of the inputs matters to this network")


@test("token_norms", "returns three numbers, the norm of x_2 = a being beta")
def token_norms_shape(sub):
    got = as_tensor(sub.run(call, "token_norms", 2.0), "token_norms(2)").reshape(-1)
    expect_equal(tuple(got.shape), (3,), "number of norms", "one norm per token x_1, x_2, x_3")
    expect_close(got[1:2], torch.tensor([2.0], dtype=got.dtype), "||x_2|| for beta = 2", "x_2 = a has norm beta")


@test("copy_outputs", "returns a (3, 4) tensor: one output per token, in the space of the base vectors")
def copy_outputs_shape(sub):
    got = as_tensor(sub.run(call, "copy_outputs", 1.0), "copy_outputs(1)")
    expect_equal(tuple(got.shape), (3, 4), "shape of copy_outputs(1.0)", "rows y_1, y_2, y_3, each a 4-vector")
