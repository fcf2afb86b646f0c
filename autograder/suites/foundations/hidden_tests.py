"""Hidden tests for the foundations assignment (only in the Gradescope autograder.zip).

Every expected value is computed here, in the grading process, from torch or a closed form.
"""
import torch
from foundations_helpers import GNN_FEATURES, GNN_W_K, GNN_W_Q, GNN_W_V, all_bit_strings, run_step_lstm

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


@test("spectral_radius", "is 1 for a rotation matrix (eigenvalues ±i)")
def spectral_radius_rotation(sub):
    rotation = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    expect_close(sub.run(call, "spectral_radius", rotation), 1.0, "spectral_radius of a 90° rotation",
                 "the eigenvalues are i and -i; their real parts are 0 but their modulus is 1")


@test("hidden_state", "matches (Wᵀ)^t h_0 for random non-symmetric W and t up to 20", points=2)
def hidden_state_random(sub):
    generator = torch.Generator().manual_seed(2)
    for t in (2, 5, 20):
        W = 0.4 * torch.randn(4, 4, generator=generator, dtype=torch.float64)
        h0 = torch.randn(4, generator=generator, dtype=torch.float64)
        expected = torch.linalg.matrix_power(W.T, t) @ h0
        expect_close(sub.run(call, "hidden_state", W, h0, t), expected, f"hidden_state(W, h0, {t})",
                     "apply h_t = W^T h_{t-1} exactly t times, starting from h0", rtol=1e-4, atol=1e-6)


def attention_update(features, W_Q, W_K, W_V):
    """h_i^{t+1} = sum_j softmax_j(q_i·k_j / sqrt(d)) v_j, with q_i = W_Q h_i and so on."""
    q, k, v = features @ W_Q.T, features @ W_K.T, features @ W_V.T
    weights = torch.softmax(q @ k.T / features.shape[1] ** 0.5, dim=-1)
    return weights @ v


@test("h1_next", "equals node 1's attention update in the question's graph", points=2)
def h1_next_value(sub):
    expected = attention_update(GNN_FEATURES, GNN_W_Q, GNN_W_K, GNN_W_V)[0]
    got = as_tensor(sub.run(value_of, "h1_next"), "h1_next").reshape(-1)
    expect_close(got, expected, "h1_next",
                 "q_1 = W_Q h_1, scores q_1·k_j / sqrt(2) for j = 1, 2, 3, softmax, then the weighted sum of v_j",
                 atol=1e-3, rtol=1e-3)


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
