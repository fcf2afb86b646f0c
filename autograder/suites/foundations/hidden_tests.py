"""Hidden tests for the foundations assignment (only in the Gradescope autograder.zip).

Every expected value is computed here, in the grading process, from torch or a closed form.
"""
import math

import torch
from foundations_helpers import (FIGURE_RNN_WEIGHTS, GNN_AGG_WEIGHTS, GNN_H, GNN_W, all_bit_strings, base_vectors,
                                 run_step_lstm)

from coursekit.testing import as_tensor, call, expect, expect_close, expect_equal, test, value_of


def read_scalar_bias(value, name):
    bias = as_tensor(value, name)
    expect(bias.numel() == 1, f"{name} should be one number, got {bias.numel()} numbers")


@test("b_AND", "is a single number, so w·x + b is a scalar")
def and_bias_is_scalar(sub):
    read_scalar_bias(sub.run(value_of, "b_AND"), "b_AND")


@test("b_OR", "is a single number, so w·x + b is a scalar")
def or_bias_is_scalar(sub):
    read_scalar_bias(sub.run(value_of, "b_OR"), "b_OR")


@test("xor_network", "accepts tensors and lists and returns an int 0 or 1", points=1)
def xor_input_types(sub):
    for x, expected in [([0, 1], 1), ([1, 1], 0)]:
        for given in (x, torch.tensor(x), torch.tensor(x, dtype=torch.float32)):
            got = sub.run(call, "xor_network", given)
            expect(type(got) is int, f"xor_network({given!r}) returned {type(got).__name__}; return int(...)")
            expect_equal(got, expected, f"xor_network({given!r})")


@test("parity_lstm_params", "C_t[0] is the parity of x_1..x_t for every bit string up to length 12", points=3)
def parity_all_strings(sub):
    params = sub.run(call, "parity_lstm_params")
    expect(isinstance(params, dict), "parity_lstm_params() should return a dict")
    for length in range(1, 13):
        bits = all_bit_strings(length)
        got = run_step_lstm(params, bits)
        parity = (bits.cumsum(dim=1) % 2).to(torch.float64)
        wrong = (got != parity).any(dim=1).nonzero().flatten()
        if len(wrong):
            string = "".join(str(int(b)) for b in bits[wrong[0]])
            step = int((got[wrong[0]] != parity[wrong[0]]).nonzero()[0]) + 1
            expect(False, f"wrong on {len(wrong)} of {len(bits)} strings of length {length}, first on "
                          f"{string} at step {step} (C_t[0] = {float(got[wrong[0], step - 1]):g}, parity "
                          f"{int(parity[wrong[0], step - 1])}); trace it by hand with run_step_lstm")


def random_matrices(seed):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, n, generator=generator, dtype=torch.float64) for n in (2, 3, 5, 6, 8)]


@test("spectral_radius", "matches max |eigenvalue| on random matrices (complex eigenvalues included)", points=2)
def spectral_radius_random(sub):
    for W in random_matrices(seed=1):
        expected = torch.linalg.eigvals(W).abs().max()
        expect_close(sub.run(call, "spectral_radius", W), expected, f"spectral_radius of a random {len(W)}×{len(W)} W",
                     "random matrices have complex eigenvalues: use their modulus (torch.linalg.eigvals(W).abs())",
                     rtol=1e-4)


@test("spectral_radius", "is 2 for twice a rotation matrix (eigenvalues ±2i)")
def spectral_radius_rotation(sub):
    rotation = torch.tensor([[0.0, -2.0], [2.0, 0.0]])  # radius 2, not 1: a constant 1.0 must not pass
    expect_close(sub.run(call, "spectral_radius", rotation), 2.0, "spectral_radius of twice a 90° rotation",
                 "the eigenvalues are 2i and -2i; their real parts are 0 but their modulus is 2")


@test("hidden_state", "matches t steps of the recurrence for random non-symmetric W and t up to 20", points=2)
def hidden_state_random(sub):
    generator = torch.Generator().manual_seed(2)
    for t in (2, 5, 20):
        W = 0.4 * torch.randn(4, 4, generator=generator, dtype=torch.float64)
        h0 = torch.randn(4, generator=generator, dtype=torch.float64)
        expected = torch.linalg.matrix_power(W.T, t) @ h0
        expect_close(sub.run(call, "hidden_state", W, h0, t), expected, f"hidden_state(W, h0, {t})",
                     "apply h_t = W^T h_{t-1} exactly t times, starting from h0", rtol=1e-4, atol=1e-6)


def vertex_1_update(h, agg_weights, W):
    """Eqs. (20)-(22): W (h_1)ᵀ + max{[0.6, 0.2, 0.2] [f(h_2); f(h_3); f(h_4)], 0} with f(x) = 2x."""
    aggregated = agg_weights @ (2 * h[1:])
    return W @ h[0] + torch.clamp(aggregated, min=0)


@test("h1_next", "equals h_1^{t+1} of eqs. (19)-(22) (the document's numbers)", points=2)
def h1_next_value(sub):
    expected = vertex_1_update(GNN_H, GNN_AGG_WEIGHTS, GNN_W)
    got = as_tensor(sub.run(value_of, "h1_next"), "h1_next").reshape(-1)
    expect_close(got, expected, "h1_next",
                 "Agg = 0.6·f(h_2) + 0.2·f(h_3) + 0.2·f(h_4) with f(x) = 2x; take max(Agg, 0) element by element, "
                 "then add the scalar W·h_1 = [1, 1]·[1, -1] to both entries", atol=1e-4, rtol=1e-4)


@test("num_directed_edges", "counts the directed edges of the fully connected graph of 'I eat red apples'")
def directed_edges(sub):
    tokens = len("I eat red apples".split())
    got = sub.run(value_of, "num_directed_edges")
    expect(isinstance(got, (int, float)) and not isinstance(got, bool), f"expected a number, got {type(got).__name__}")
    expect_equal(got, tokens * (tokens - 1), "num_directed_edges",
                 "each ordered pair of distinct tokens (i, j) is one edge; a token's edge to itself does not count")


def figure_rnn_reference(xs):
    """The network of Section 5, step by step: h_t = w_xh x_t + w_hh h_{t-1}, y = [w_hy h_T > 0]."""
    w, h = FIGURE_RNN_WEIGHTS, 0.0
    for x in xs:
        h = w["w_xh"] * x + w["w_hh"] * h
    return int(w["w_hy"] * h > 0)


def figure_outputs(ns, sequences):
    """figure_rnn_output on each sequence"""
    return [ns["figure_rnn_output"](list(xs)) for xs in sequences]


@test("figure_rnn_output", "matches the network of Figure 1 on 200 even-length integer sequences", points=2)
def figure_rnn_sequences(sub):
    generator = torch.Generator().manual_seed(5)
    sequences = [torch.randint(-5, 6, (2 * int(torch.randint(1, 8, (1,), generator=generator)),),
                               generator=generator).tolist() for _ in range(200)]
    sequences += [[0, 0], [3, 3], [1, 2, 3, 4, 5, 6]]  # ties give 0: the output needs w_hy h_T > 0
    got = sub.run(figure_outputs, sequences)
    for xs, value in zip(sequences, got):
        expect_equal(value, figure_rnn_reference(xs), f"figure_rnn_output({xs})",
                     "unroll h_t = x_t - h_{t-1}: for even T, h_T = (x_2 + x_4 + ...) - (x_1 + x_3 + ...)")


@test("token_norms", "are the norms of x_1 = d + b, x_2 = a, x_3 = c + b for several beta")
def token_norms_values(sub):
    for beta in (1.0, 3.0, 1e4):
        a, b, c, d = base_vectors(beta)
        expected = torch.stack([(d + b).norm(), a.norm(), (c + b).norm()])
        got = as_tensor(sub.run(call, "token_norms", beta), f"token_norms({beta:g})").reshape(-1)
        expect_close(got.to(torch.float64), expected, f"token_norms({beta:g})",
                     "the base vectors are orthogonal, so ||d + b||² = ||d||² + ||b||² = 2 beta²", rtol=1e-5)


@test("copy_outputs", "equals softmax(X Xᵀ) X for the tokens x_1 = d + b, x_2 = a, x_3 = c + b", points=2)
def copy_outputs_values(sub):
    for beta in (0.5, 1.0, 2.0):
        a, b, c, d = base_vectors(beta)
        X = torch.stack([d + b, a, c + b])
        expected = torch.softmax(X @ X.T, dim=-1) @ X
        got = as_tensor(sub.run(call, "copy_outputs", beta), f"copy_outputs({beta:g})").to(torch.float64)
        expect_close(got, expected, f"copy_outputs({beta:g})",
                     "rows are y_1, y_2, y_3; scores x_i · x_j with no scaling, softmax over each row", rtol=1e-4, atol=1e-5)


@test("copy_outputs", "for a large beta, y_1, y_2, y_3 approximate x_1, x_2, x_3 (the copy)")
def copy_outputs_copy(sub):
    beta = 6.0
    a, b, c, d = base_vectors(beta)
    X = torch.stack([d + b, a, c + b])
    got = as_tensor(sub.run(call, "copy_outputs", beta), "copy_outputs(6)").to(torch.float64)
    expect_close(got, X, "copy_outputs(6)", "with norms this large each row's softmax selects its own token",
                 rtol=1e-3, atol=1e-3 * beta)


@test("self_attention_plain", "matches softmax(X Xᵀ) X on random non-square X", points=2)
def self_attention_random(sub):
    generator = torch.Generator().manual_seed(3)
    for tokens, dim in ((5, 3), (2, 7), (8, 4)):
        X = torch.randn(tokens, dim, generator=generator)
        expected = torch.softmax(X @ X.T, dim=-1) @ X
        expect_close(sub.run(call, "self_attention_plain", X), expected, f"self_attention_plain on X of shape {(tokens, dim)}",
                     "rows are tokens: scores are X Xᵀ (tokens × tokens), softmax over each row, no 1/sqrt(d)")


@test("self_attention_plain", "copies a token when the base vectors are orthogonal with a large norm")
def self_attention_copies(sub):
    X = 10.0 * torch.eye(3)
    expect_close(sub.run(call, "self_attention_plain", X), X, "self_attention_plain(10·I)",
                 "with orthogonal rows of norm 10 each token attends (almost) only to itself", atol=1e-3)
