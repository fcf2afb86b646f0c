"""The foundations tests catch realistic mistakes and accept other correct answers."""
import pytest
from variants import coverage_gaps, messages, scores

SLUG = "foundations"

# Each bug is what a student plausibly writes; the graded name it breaks must lose points.
BUGS = {
    "W_AND": {
        "OR instead of AND": "W_AND = torch.tensor([1.0, 1.0]); b_AND = -0.5",
        "bias too low: never fires": "W_AND = torch.tensor([1.0, 1.0]); b_AND = -2.5",
        "x1 AND NOT x2 (a sign flipped)": "W_AND = torch.tensor([1.0, -1.0]); b_AND = -0.5",
    },
    "W_OR": {
        "AND instead of OR": "W_OR = torch.tensor([1.0, 1.0]); b_OR = -1.5",
        "fires on (0, 0)": "W_OR = torch.tensor([1.0, 1.0]); b_OR = 0.0",
        "the second input ignored": "W_OR = torch.tensor([1.0, 0.0]); b_OR = -0.5",
    },
    "b_AND": {
        "a bias per input": "b_AND = torch.tensor([-1.5, -1.5])",
        "still the stub": "b_AND = ...",
        "a (1, 2) row of biases": "b_AND = torch.full((1, 2), -1.5)",
    },
    "b_OR": {
        "a bias per input": "b_OR = [-0.5, -0.5]",
        "still the stub": "b_OR = ...",
        "an empty tensor": "b_OR = torch.tensor([])",
    },
    "xor_network": {
        "OR network": "def xor_network(x):\n    return int(x[0] + x[1] >= 1)",
        "returns a bool": "def xor_network(x):\n    return bool(int(x[0]) != int(x[1]))",
        "returns a tensor": "def xor_network(x):\n    x = torch.as_tensor(x)\n    return (x[0] - x[1]).abs()",
    },
    "parity_lstm_params": {
        "never forgets": """
def parity_lstm_params():
    return {"W_f": torch.tensor([[0.0, 0.0]]), "b_f": torch.tensor([1.0]),
            "W_i": torch.tensor([[-1.0, 1.0]]), "b_i": torch.tensor([-0.5]),
            "W_C": torch.tensor([[0.0, 0.0]]), "b_C": torch.tensor([1.0]),
            "W_o": torch.tensor([[0.0, 0.0]]), "b_o": torch.tensor([1.0])}""",
        "W acting on [x, h] instead of [h, x]": """
def parity_lstm_params():
    return {"W_f": torch.tensor([[-1.0, -1.0]]), "b_f": torch.tensor([1.5]),
            "W_i": torch.tensor([[1.0, -1.0]]), "b_i": torch.tensor([-0.5]),
            "W_C": torch.tensor([[0.0, 0.0]]), "b_C": torch.tensor([1.0]),
            "W_o": torch.tensor([[0.0, 0.0]]), "b_o": torch.tensor([1.0])}""",
        "shapes (H, H) without the input column": """
def parity_lstm_params():
    return {k: torch.zeros(1, 1) if k.startswith("W") else torch.zeros(1)
            for k in ["W_f", "b_f", "W_i", "b_i", "W_C", "b_C", "W_o", "b_o"]}""",
    },
    "spectral_radius": {
        "largest real part": "def spectral_radius(W):\n    return float(torch.linalg.eigvals(W).real.max())",
        "largest singular value": "def spectral_radius(W):\n    return float(torch.linalg.matrix_norm(W, ord=2))",
        "eigvalsh (assumes W symmetric)": "def spectral_radius(W):\n    return float(torch.linalg.eigvalsh(W).abs().max())",
        "power iteration, a fixed 10 steps": """
def spectral_radius(W):
    v = torch.ones(W.shape[0], dtype=W.dtype)
    for _ in range(10):
        v = W @ v
        v = v / v.norm()
    return float((W @ v).norm())""",
    },
    "hidden_state": {
        "W instead of W^T": "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W, t) @ h0",
        "one step too many": "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W.T, t + 1) @ h0",
        "loop one step short (range(1, t))": "def hidden_state(W, h0, t):\n    h = h0\n    for _ in range(1, t):\n        h = W.T @ h\n    return h",
    },
    "h1_next": {
        "f forgotten (weights applied to h_j, not 2 h_j)": "h1_next = GNN_W @ GNN_H[0] + torch.clamp(GNN_AGG_WEIGHTS @ GNN_H[1:], min=0)",
        "a plain mean instead of eq. (20)'s weights": "h1_next = GNN_W @ GNN_H[0] + torch.clamp((2 * GNN_H[1:]).mean(0), min=0)",
        "the max dropped": "h1_next = GNN_W @ GNN_H[0] + GNN_AGG_WEIGHTS @ (2 * GNN_H[1:])",
        "W h_1 as an element-wise product": "h1_next = GNN_W * GNN_H[0] + torch.clamp(GNN_AGG_WEIGHTS @ (2 * GNN_H[1:]), min=0)",
    },
    "num_directed_edges": {
        "self-loops counted": "num_directed_edges = 16",
        "undirected edges": "num_directed_edges = 6",
        "a string": "num_directed_edges = '12'",
    },
    "figure_rnn_output": {
        "odd minus even": "def figure_rnn_output(xs):\n    return int(sum(xs[0::2]) - sum(xs[1::2]) > 0)",
        ">= instead of >": "def figure_rnn_output(xs):\n    return int(sum(xs[1::2]) - sum(xs[0::2]) >= 0)",
        "the sum of all inputs": "def figure_rnn_output(xs):\n    return int(sum(xs) > 0)",
        "returns h_T": "def figure_rnn_output(xs):\n    return sum(xs[1::2]) - sum(xs[0::2])",
    },
    "token_norms": {
        "no square root": "def token_norms(beta):\n    return [2 * beta, beta, 2 * beta]",
        "squared norms": "def token_norms(beta):\n    return [2 * beta ** 2, beta ** 2, 2 * beta ** 2]",
        "x_2 taken as b + a": "import math\ndef token_norms(beta):\n    return [math.sqrt(2) * beta] * 3",
    },
    "copy_outputs": {
        "scaled by 1/sqrt(d)": "def copy_outputs(beta):\n    a, b, c, d = base_vectors(beta)\n    X = torch.stack([d + b, a, c + b])\n"
                                "    return torch.softmax(X @ X.T / 2, dim=-1) @ X",
        "tokens in the wrong order": "def copy_outputs(beta):\n    a, b, c, d = base_vectors(beta)\n"
                                      "    return self_attention_plain(torch.stack([a, d + b, c + b]))",
        "the inputs returned (the limit, not the outputs)": "def copy_outputs(beta):\n    a, b, c, d = base_vectors(beta)\n"
                                                             "    return torch.stack([d + b, a, c + b])",
    },
    "self_attention_plain": {
        "softmax over the wrong axis": "def self_attention_plain(X):\n    return torch.softmax(X @ X.T, dim=0) @ X",
        "scaled by 1/sqrt(d)": "def self_attention_plain(X):\n    return torch.softmax(X @ X.T / X.shape[1] ** 0.5, dim=-1) @ X",
        "columns as tokens": "def self_attention_plain(X):\n    return (torch.softmax(X.T @ X, dim=-1) @ X.T).T",
    },
}

# Correct answers that differ from the master's; each keeps every point of its graded name.
ALTERNATIVES = {
    "W_AND": {
        "weights 2, bias a 0-d tensor": "W_AND = torch.tensor([2.0, 2.0]); b_AND = torch.tensor(-3.0)",
        "plain lists, bias on the tie (w·x + b = 0 fires)": "W_AND = [1, 1]; b_AND = -2",
    },
    "b_AND": {
        "a one-element tensor": "b_AND = torch.tensor([-1.5])",
        "a numpy float": "import numpy as np\nb_AND = np.float64(-1.5)",
    },
    "W_OR": {
        "weights 0.5 in a list": "W_OR = [0.5, 0.5]; b_OR = -0.25",
        "bias on the tie (w·(1,0) + b = 0 fires)": "W_OR = torch.ones(2); b_OR = -1.0",
    },
    "b_OR": {
        "a one-element tensor": "b_OR = torch.tensor([-0.5])",
        "an int-valued fraction": "b_OR = -1 / 2",
    },
    "xor_network": {
        "two threshold units by hand": """
def xor_network(x):
    a, b = (int(v) for v in x)
    h_and = int(a + b - 1.5 >= 0)
    h_or = int(a + b - 0.5 >= 0)
    return int(h_or - 2 * h_and - 0.5 >= 0)""",
        "the AND and OR units of the notebook, vectorised": """
def xor_network(x):
    x = torch.as_tensor(x, dtype=torch.float32)
    hidden = torch.stack([torch.as_tensor(W_OR, dtype=torch.float32) @ x + b_OR,
                          torch.as_tensor(W_AND, dtype=torch.float32) @ x + b_AND]) >= 0
    return int(float(hidden[0]) - float(hidden[1]) - 0.5 >= 0)""",
    },
    "parity_lstm_params": {
        "H = 2, erasing by writing -1": """
def parity_lstm_params():
    # H = 2, writes -1 to erase instead of forgetting: C = C + i * (-1)
    W = lambda *rows: torch.tensor(rows)
    return {"W_f": W([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), "b_f": torch.tensor([1.0, 1.0]),
            "W_i": W([0.0, 0.0, 1.0], [0.0, 0.0, 0.0]), "b_i": torch.tensor([-0.5, -1.0]),
            "W_C": W([-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]), "b_C": torch.tensor([1.0, 0.0]),
            "W_o": W([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), "b_o": torch.tensor([1.0, 1.0])}""",
        "H = 1 with every weight scaled by 3 (step and sign ignore the scale)": """
def parity_lstm_params():
    base = {"W_f": [[-1.0, -1.0]], "b_f": [1.5], "W_i": [[-1.0, 1.0]], "b_i": [-0.5],
            "W_C": [[0.0, 0.0]], "b_C": [1.0], "W_o": [[0.0, 0.0]], "b_o": [1.0]}
    return {k: 3 * torch.tensor(v, dtype=torch.float64) for k, v in base.items()}""",
    },
    "spectral_radius": {
        "numpy's eigvals": "import numpy as np\ndef spectral_radius(W):\n    return max(abs(np.linalg.eigvals(W.numpy())))",
        "a loop over complex eigenvalues": """
def spectral_radius(W):
    return max(abs(complex(lam)) for lam in torch.linalg.eigvals(W).tolist())""",
    },
    "hidden_state": {
        "matrix_power, h0 itself at t = 0": "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W.T, t) @ h0 if t else h0.clone()",
        "a loop of t steps": "def hidden_state(W, h0, t):\n    h = h0\n    for _ in range(t):\n        h = W.T @ h\n    return h",
        "recursion, row-vector convention h W": """
def hidden_state(W, h0, t):
    return h0 if t == 0 else hidden_state(W, h0, t - 1) @ W""",
    },
    "h1_next": {
        "the document's numbers as a list": "h1_next = [0, 0.8]",
        "computed, as a column": "h1_next = (GNN_W @ GNN_H[0] + torch.relu(GNN_AGG_WEIGHTS @ (2 * GNN_H[1:]))).reshape(2, 1)",
    },
    "num_directed_edges": {
        "4 × 3 as an expression": "num_directed_edges = 4 * 3",
        "counted by a comprehension": "num_directed_edges = len([(i, j) for i in range(4) for j in range(4) if i != j])",
    },
    "figure_rnn_output": {
        "the recurrence in a loop": """
def figure_rnn_output(xs):
    h = 0
    for x in xs:  # running the recurrence instead of the closed form is also correct
        h = x - h
    return 1 if h > 0 else 0""",
        "the recurrence by recursion": """
def figure_rnn_output(xs):
    def h(t):
        return 0 if t == 0 else xs[t - 1] - h(t - 1)
    return int(h(len(xs)) > 0)""",
    },
    "token_norms": {
        "a tensor of square roots": "def token_norms(beta):\n    return torch.tensor([2.0, 1.0, 2.0]).sqrt() * beta",
        "norms of the notebook's tokens": """
def token_norms(beta):
    a, b, c, d = base_vectors(beta)
    return [float(torch.linalg.norm(v)) for v in (d + b, a, c + b)]""",
    },
    "copy_outputs": {
        "softmax over dim=1": """
def copy_outputs(beta):
    a, b, c, d = base_vectors(beta)
    X = torch.stack([d + b, a, c + b]).float()
    return torch.softmax(X @ X.T, dim=1) @ X""",
        "a loop over the queries": """
def copy_outputs(beta):
    a, b, c, d = base_vectors(beta)
    X = torch.stack([d + b, a, c + b])
    return torch.stack([torch.softmax(X @ q, dim=0) @ X for q in X])""",
    },
    "self_attention_plain": {
        "einsum": "def self_attention_plain(X):\n    w = torch.einsum('id,jd->ij', X, X).softmax(-1)\n    return torch.einsum('ij,jd->id', w, X)",
        "a stable softmax by hand": """
def self_attention_plain(X):
    scores = X @ X.T
    weights = (scores - scores.max(dim=1, keepdim=True).values).exp()
    return weights / weights.sum(dim=1, keepdim=True) @ X""",
    },
}


def test_the_master_earns_every_point():
    assert all(got == possible for got, possible in scores(SLUG).values())


def test_every_graded_name_has_three_bugs_and_two_alternatives():
    assert not coverage_gaps(SLUG, BUGS, ALTERNATIVES), coverage_gaps(SLUG, BUGS, ALTERNATIVES)


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = scores(SLUG, BUGS[name][bug], only=name)[name]
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name,alternative", [(n, a) for n, alts in ALTERNATIVES.items() for a in alts])
def test_an_alternative_correct_answer_keeps_full_marks(name, alternative):
    source = ALTERNATIVES[name][alternative]
    got, possible = scores(SLUG, source, only=name)[name]
    assert got == possible, messages(SLUG, source, name)


def test_the_homeworks_own_answers_keep_full_marks():
    """CS7643-HW3 Q6(b) and (c) as the document determines them: h_1^{t+1} = [0, 0.8], 12 edges."""
    assert scores(SLUG, "h1_next = torch.tensor([0.0, 0.8])", only="h1_next")["h1_next"] == (1.0, 1.0)
    assert scores(SLUG, "num_directed_edges = 12", only="num_directed_edges")["num_directed_edges"] == (1.0, 1.0)


def test_a_constant_spectral_radius_earns_nothing():
    """The rotation case once expected 1.0, which a function returning 1.0 for every matrix passed."""
    got, _ = scores(SLUG, "def spectral_radius(W):\n    return 1.0", only="spectral_radius")["spectral_radius"]
    assert got == 0


def test_failure_messages_say_where_to_look():
    found = messages(SLUG, BUGS["hidden_state"]["W instead of W^T"], "hidden_state")
    assert any("transpose W" in m or "W^T" in m for m in found), found
    found = messages(SLUG, BUGS["spectral_radius"]["largest real part"], "spectral_radius")
    assert any("modulus" in m for m in found), found
