"""Helpers for the foundations assignment, shared by your notebook and the autograder.

The homework's numbers (CS7643-HW3 Q6(b)), the base vectors of HW3-2023 Q3, the network of
Section 5 and the step-activation LSTM live here, so that the question you read and the check that
grades it can never disagree.
"""
import torch

# CS7643-HW3 Q6(b), eqs. (19)-(22): row i is h_{i+1}^t; vertex 1's neighbours are vertices 2, 3, 4.
GNN_H = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [0.0, -1.0], [1.0, 0.0]])
GNN_AGG_WEIGHTS = torch.tensor([0.6, 0.2, 0.2])  # eq. (20): weights of f(h_2), f(h_3), f(h_4)
GNN_W = torch.tensor([1.0, 1.0])  # eq. (22)

# Section 5: the weights on the edges of Figure 1 (the kit's own network; see the notebook).
FIGURE_RNN_WEIGHTS = {"w_xh": 1.0, "w_hh": -1.0, "w_hy": 1.0}


def base_vectors(beta: float) -> tuple[torch.Tensor, ...]:
    """HW3-2023 Q3: four orthogonal base vectors a, b, c, d of norm beta (beta times e_1..e_4)."""
    return tuple(beta * torch.eye(4, dtype=torch.float64)[k] for k in range(4))


def draw_figure_rnn():
    """Figure 1 of Section 5: input x_t -> hidden h_t (with its recurrent edge) -> output y_t,
    each edge labelled with its weight."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch

    w = FIGURE_RNN_WEIGHTS
    figure, axes = plt.subplots(figsize=(3.2, 4.2))
    nodes = {"x_t": (0.5, 0.12), "h_t": (0.5, 0.5), "y_t": (0.5, 0.88)}
    for name, (x, y) in nodes.items():
        axes.add_patch(Circle((x, y), 0.08, fill=False, linewidth=1.5))
        axes.text(x, y, f"${name}$", ha="center", va="center", fontsize=13)
    for start, end, weight in (("x_t", "h_t", w["w_xh"]), ("h_t", "y_t", w["w_hy"])):
        (x0, y0), (x1, y1) = nodes[start], nodes[end]
        axes.add_patch(FancyArrowPatch((x0, y0 + 0.08), (x1, y1 - 0.08), arrowstyle="-|>", mutation_scale=15))
        axes.text(x0 + 0.04, (y0 + y1) / 2, f"{weight:g}", fontsize=12)
    axes.add_patch(FancyArrowPatch((0.56, 0.555), (0.56, 0.445), connectionstyle="arc3,rad=-1.8",
                                   arrowstyle="-|>", mutation_scale=15))
    axes.text(0.74, 0.5, f"{w['w_hh']:g}", fontsize=12, va="center")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title("Figure 1: biases are 0; y_t = 1 if w_hy h_t > 0", fontsize=9)
    plt.show()


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
