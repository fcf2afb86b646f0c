"""The foundations tests catch realistic mistakes and accept other correct answers."""
import pytest
from variants import messages, scores

SLUG = "foundations"

# Each bug is what a student plausibly writes; the graded name it breaks must lose points.
BUGS = {
    "W_AND": {
        "OR instead of AND": "W_AND = torch.tensor([1.0, 1.0]); b_AND = -0.5",
        "bias too low: never fires": "W_AND = torch.tensor([1.0, 1.0]); b_AND = -2.5",
    },
    "W_OR": {
        "AND instead of OR": "W_OR = torch.tensor([1.0, 1.0]); b_OR = -1.5",
        "fires on (0, 0)": "W_OR = torch.tensor([1.0, 1.0]); b_OR = 0.0",
    },
    "b_AND": {
        "a bias per input": "b_AND = torch.tensor([-1.5, -1.5])",
        "still the stub": "b_AND = ...",
    },
    "b_OR": {
        "a bias per input": "b_OR = [-0.5, -0.5]",
        "still the stub": "b_OR = ...",
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
    },
    "hidden_state": {
        "W instead of W^T": "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W, t) @ h0",
        "one step too many": "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W.T, t + 1) @ h0",
    },
    "h1_next": {
        "no softmax": "h1_next = ((GNN_W_Q @ GNN_FEATURES[0]) @ (GNN_FEATURES @ GNN_W_K.T).T / 2**0.5) @ (GNN_FEATURES @ GNN_W_V.T)",
        "no 1/sqrt(d)": "h1_next = torch.softmax((GNN_W_Q @ GNN_FEATURES[0]) @ (GNN_FEATURES @ GNN_W_K.T).T, dim=0) @ (GNN_FEATURES @ GNN_W_V.T)",
    },
    "self_attention_plain": {
        "softmax over the wrong axis": "def self_attention_plain(X):\n    return torch.softmax(X @ X.T, dim=0) @ X",
        "scaled by 1/sqrt(d)": "def self_attention_plain(X):\n    return torch.softmax(X @ X.T / X.shape[1] ** 0.5, dim=-1) @ X",
        "columns as tokens": "def self_attention_plain(X):\n    return (torch.softmax(X.T @ X, dim=-1) @ X.T).T",
    },
}

# Correct answers that differ from the master's; each keeps every point of its graded name.
ALTERNATIVES = {
    "W_AND": "W_AND = torch.tensor([2.0, 2.0]); b_AND = torch.tensor(-3.0)",
    "W_OR": "W_OR = [0.5, 0.5]; b_OR = -0.25",
    "xor_network": """
def xor_network(x):
    a, b = (int(v) for v in x)
    h_and = int(a + b - 1.5 >= 0)
    h_or = int(a + b - 0.5 >= 0)
    return int(h_or - 2 * h_and - 0.5 >= 0)""",
    "parity_lstm_params": """
def parity_lstm_params():
    # H = 2, writes -1 to erase instead of forgetting: C = C + i * (-1)
    W = lambda *rows: torch.tensor(rows)
    return {"W_f": W([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), "b_f": torch.tensor([1.0, 1.0]),
            "W_i": W([0.0, 0.0, 1.0], [0.0, 0.0, 0.0]), "b_i": torch.tensor([-0.5, -1.0]),
            "W_C": W([-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]), "b_C": torch.tensor([1.0, 0.0]),
            "W_o": W([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), "b_o": torch.tensor([1.0, 1.0])}""",
    "spectral_radius": "import numpy as np\ndef spectral_radius(W):\n    return max(abs(np.linalg.eigvals(W.numpy())))",
    "hidden_state": "def hidden_state(W, h0, t):\n    return torch.linalg.matrix_power(W.T, t) @ h0 if t else h0.clone()",
    "h1_next": "h1_next = [1.1978, 1.4011]",
    "self_attention_plain": "def self_attention_plain(X):\n    w = torch.einsum('id,jd->ij', X, X).softmax(-1)\n    return torch.einsum('ij,jd->id', w, X)",
}


def test_the_master_earns_every_point():
    assert all(got == possible for got, possible in scores(SLUG).values())


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = scores(SLUG, BUGS[name][bug], only=name)[name]
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_an_alternative_correct_answer_keeps_full_marks(name):
    got, possible = scores(SLUG, ALTERNATIVES[name], only=name)[name]
    assert got == possible, messages(SLUG, ALTERNATIVES[name], name)


def test_failure_messages_say_where_to_look():
    found = messages(SLUG, BUGS["hidden_state"]["W instead of W^T"], "hidden_state")
    assert any("transpose W" in m or "W^T" in m for m in found), found
    found = messages(SLUG, BUGS["spectral_radius"]["largest real part"], "spectral_radius")
    assert any("modulus" in m for m in found), found
