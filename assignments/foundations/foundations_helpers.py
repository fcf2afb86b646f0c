"""Helpers for the foundations assignment, shared by your notebook and the autograder.

The numbers of the "Transformer as a GNN" question and the step-activation LSTM live here, so
that the question you read and the check that grades it can never disagree.
"""
import torch

# "Transformer as a GNN": three tokens are the nodes of a complete graph (self-loops included).
# Row i is h_i^t; the layer uses these query, key and value matrices (acting on column vectors).
GNN_FEATURES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
GNN_W_Q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
GNN_W_K = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
GNN_W_V = torch.tensor([[2.0, 0.0], [1.0, 1.0]])


def step(a: torch.Tensor) -> torch.Tensor:
    """The step "sigmoid": 1 where a > 0, else 0."""
    return (a > 0).to(a.dtype)


def run_step_lstm(params: dict, bits: torch.Tensor) -> torch.Tensor:
    """Run an LSTM with step activations over bit strings; return C_t[0] after every step.

    bits: (N, T) of 0/1. params: W_f, b_f, W_i, b_i, W_C, b_C, W_o, b_o with W_* of shape
    (H, H + 1) acting on [h_{t-1}, x_t] and b_* of shape (H,). Starts from h_0 = C_0 = 0 and uses
        f_t = step(W_f [h, x] + b_f)      i_t = step(W_i [h, x] + b_i)
        C~_t = sign(W_C [h, x] + b_C)     C_t = f_t * C_{t-1} + i_t * C~_t
        o_t = step(W_o [h, x] + b_o)      h_t = o_t * sign(C_t)
    Returns a float tensor (N, T) whose [n, t] entry is C_{t+1}[0] for string n.
    """
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in params.items()}
    hidden = p["b_f"].shape[0]
    n, length = bits.shape
    h = torch.zeros(n, hidden, dtype=torch.float64)
    c = torch.zeros(n, hidden, dtype=torch.float64)
    cells = []
    for t in range(length):
        hx = torch.cat([h, bits[:, t:t + 1].to(torch.float64)], dim=1)
        f = step(hx @ p["W_f"].T + p["b_f"])
        i = step(hx @ p["W_i"].T + p["b_i"])
        candidate = torch.sign(hx @ p["W_C"].T + p["b_C"])
        c = f * c + i * candidate
        o = step(hx @ p["W_o"].T + p["b_o"])
        h = o * torch.sign(c)
        cells.append(c[:, 0])
    return torch.stack(cells, dim=1)


def all_bit_strings(length: int) -> torch.Tensor:
    """Every bit string of ``length`` bits, one per row: shape (2**length, length)."""
    codes = torch.arange(2**length).unsqueeze(1)
    return (codes >> torch.arange(length - 1, -1, -1)) & 1
