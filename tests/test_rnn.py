"""The rnn tests catch realistic mistakes and accept other correct answers.

The variants are scored in-process (tests/variants.py) against the same public and hidden tests the
grader runs. The 85% test's isolation (labels never reach the sandbox) is checked through the real
`grade` command in tests/test_rnn_examples.py.
"""
import importlib.util

import pytest
from variants import coverage_gaps, master_namespace, messages, points, scores, suite_tests

from autograder.suite import load_suite
from coursekit.testing import LocalSubmission, run_test

SLUG = "rnn"


def lstm_cell(forward_body: str, extra_init: str = "") -> str:
    """A complete LSTMCell whose forward is ``forward_body`` (x, h, c batched; returns h, c)."""
    return f'''
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size, self.bias = hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.zeros(4 * hidden_size))
            self.bias_hh = nn.Parameter(torch.zeros(4 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None){extra_init}

    def forward(self, input, hx=None):
        single = input.dim() == 1
        x = input.unsqueeze(0) if single else input
        if hx is None:
            h = c = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            h, c = (t.unsqueeze(0) for t in hx) if single else hx
{forward_body}
        return (h.squeeze(0), c.squeeze(0)) if single else (h, c)
'''


FUSED_OK = '''
        gates = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias:
            gates = gates + self.bias_ih + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)'''

# The alternative the issue names: four matrix products, one per gate, instead of one fused product.
FOUR_MATMULS = '''
import torch.nn.functional as F


class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        bound = hidden_size ** -0.5
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.zeros(4 * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.zeros(4 * hidden_size)) if bias else None

    def gate(self, k, x, h):
        rows = slice(k * self.hidden_size, (k + 1) * self.hidden_size)
        bias = lambda b: None if b is None else b[rows]
        return F.linear(x, self.weight_ih[rows], bias(self.bias_ih)) + F.linear(h, self.weight_hh[rows], bias(self.bias_hh))

    def forward(self, input, hx=None):
        if hx is None:
            shape = input.shape[:-1] + (self.hidden_size,)
            hx = (torch.zeros(shape, dtype=input.dtype), torch.zeros(shape, dtype=input.dtype))
        h, c = hx
        i = torch.sigmoid(self.gate(0, input, h))
        f = torch.sigmoid(self.gate(1, input, h))
        g = torch.tanh(self.gate(2, input, h))
        o = torch.sigmoid(self.gate(3, input, h))
        c_next = f * c + i * g
        return o * torch.tanh(c_next), c_next
'''

RUN_LSTM_PREALLOCATED = '''
def run_lstm(cell, inputs, hx=None):
    L, N = inputs.shape[:2]
    h, c = hx if hx is not None else (inputs.new_zeros(N, cell.hidden_size),) * 2
    hs = []
    for t in range(L):
        h, c = cell(inputs[t], (h, c))
        hs.append(h.unsqueeze(0))
    return torch.cat(hs, dim=0), (h, c)
'''

CLEAN_BY_TOKENS = '''
import html as html_module


def clean_tweet(text):
    kept = [t for t in text.split() if not t.startswith(("@", "http://", "https://", "www."))]
    text = html_module.unescape(" ".join(kept)).lower()
    return " ".join(re.sub(r"[^\\w\\s]", " ", text).split())
'''

LOAD_WITH_PANDAS = '''
import pandas as pd


def load_sentiment140(path):
    frame = pd.read_csv(path, header=None, encoding="latin-1", names=["target", "ids", "date", "flag", "user", "text"],
                        keep_default_na=False, dtype={"text": str})
    frame = frame[frame.target.isin([0, 4])]
    return frame.text.tolist(), (frame.target // 4).tolist()
'''

SPLIT_WITH_NUMPY = '''
import numpy as np


def split_indices(n, seed=0):
    order = np.random.RandomState(seed).permutation(n)
    return np.split(order, [int(0.6 * n), int(0.8 * n)])
'''

# A differently built but still trained predictor: the master's model, batched one tweet at a time.
PREDICT_ONE_BY_ONE = '''
def predict_sentiment(texts):
    checkpoint = torch.load("rnn_checkpoint.pt", map_location="cpu", weights_only=True)
    model = SentimentRNN(len(checkpoint["vocab"]), **checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    index = {w: i for i, w in enumerate(checkpoint["vocab"])}
    with torch.no_grad():
        return [int(model(*encode([text], index)).argmax()) for text in texts]
'''

UNTRAINED_MODEL = '''
def predict_sentiment(texts):
    torch.manual_seed(1)
    checkpoint = torch.load("rnn_checkpoint.pt", map_location="cpu", weights_only=True)
    model = SentimentRNN(len(checkpoint["vocab"]), **checkpoint["config"]).eval()  # weights never loaded
    index = {w: i for i, w in enumerate(checkpoint["vocab"])}
    with torch.no_grad():
        return model(*encode(texts, index)).argmax(1).tolist()
'''

# The gates by einsum instead of a matrix product, with the biases added one by one.
FUSED_EINSUM = '''
        gates = torch.einsum("ni,gi->ng", x, self.weight_ih) + torch.einsum("nj,gj->ng", h, self.weight_hh)
        if self.bias:
            gates = gates + self.bias_ih
            gates = gates + self.bias_hh
        H = self.hidden_size
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()'''

RUN_LSTM_INTO_A_TENSOR = '''
def run_lstm(cell, inputs, hx=None):
    outputs = inputs.new_zeros(inputs.shape[0], inputs.shape[1], cell.hidden_size)
    for t in range(inputs.shape[0]):
        hx = cell(inputs[t], hx)
        outputs[t] = hx[0]
    return outputs, hx
'''

CLEAN_IN_ONE_PASS = '''
def clean_tweet(text):
    text = re.sub(r"@\\w+|(?:https?://|www\\.)\\S+", " ", html.unescape(text), flags=re.IGNORECASE)
    return " ".join(text.lower().split())
'''

LOAD_WITH_DICT_READER = '''
def load_sentiment140(path):
    with open(path, encoding="latin-1", newline="") as f:
        rows = [r for r in csv.DictReader(f, fieldnames=["target", "ids", "date", "flag", "user", "text"])
                if r["target"] in {"0", "4"}]
    return [r["text"] for r in rows], [1 if r["target"] == "4" else 0 for r in rows]
'''

SPLIT_WITH_RANDOM = '''
import random


def split_indices(n, seed=0):
    order = list(range(n))
    random.Random(seed).shuffle(order)
    a, b = int(0.6 * n), int(0.8 * n)
    return order[:a], order[a:b], order[b:]
'''

# Top-level state a graded function reads: the model and vocabulary loaded once, in an earlier cell.
PREDICT_WITH_A_TOP_LEVEL_MODEL = '''
saved = torch.load("rnn_checkpoint.pt", map_location="cpu", weights_only=True)
model = SentimentRNN(len(saved["vocab"]), **saved["config"])
model.load_state_dict(saved["state_dict"])
model.eval()
vocab_index = {w: i for i, w in enumerate(saved["vocab"])}


def predict_sentiment(texts):
    predictions = []
    with torch.no_grad():
        for start in range(0, len(texts), 256):
            predictions.extend(model(*encode(texts[start:start + 256], vocab_index)).argmax(1).tolist())
    return predictions
'''


BUGS = {
    "LSTMCell": {
        "wrong gate order (i, f, o, g)": lstm_cell(FUSED_OK.replace("i, f, g, o = gates", "i, f, o, g = gates")),
        "bias_hh left out": lstm_cell(FUSED_OK.replace(" + self.bias_ih + self.bias_hh", " + self.bias_ih")),
        "sigmoid on the candidate g": lstm_cell(FUSED_OK.replace("torch.tanh(g)", "torch.sigmoid(g)")),
        "h' from the old c": lstm_cell(FUSED_OK.replace(
            "c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)\n        h = torch.sigmoid(o) * torch.tanh(c)",
            "h = torch.sigmoid(o) * torch.tanh(c)\n        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)")),
        "wraps torch.nn.LSTMCell": "class LSTMCell(nn.LSTMCell):\n    pass",
        "calls torch's lstm_cell kernel": lstm_cell(
            "        h, c = torch.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)"),
        "no unbatched input": FOUR_MATMULS.replace("c_next = f * c + i * g", "c_next = f * c.reshape(-1, self.hidden_size) + i * g"),
    },
    "run_lstm": {
        "state not carried between steps": '''
def run_lstm(cell, inputs, hx=None):
    outputs = [cell(x, hx) for x in inputs]
    return torch.stack([h for h, _ in outputs]), outputs[-1]''',
        "returns the first state": '''
def run_lstm(cell, inputs, hx=None):
    states = []
    for x in inputs:
        hx = cell(x, hx)
        states.append(hx)
    return torch.stack([h for h, _ in states]), states[0]''',
        "detaches the state (no gradient through time)": '''
def run_lstm(cell, inputs, hx=None):
    outputs = []
    for x in inputs:
        h, c = cell(x, hx)
        outputs.append(h)
        hx = (h.detach(), c.detach())
    return torch.stack(outputs), (h, c)''',
    },
    "clean_tweet": {
        "mentions left in": '''
def clean_tweet(text):
    text = re.sub(r"(?:https?://|www\\.)\\S+", " ", html.unescape(text))
    return " ".join(text.lower().split())''',
        "only http:// URLs removed": '''
def clean_tweet(text):
    text = re.sub(r"http://\\S+", " ", re.sub(r"@\\w+", " ", html.unescape(text)))
    return " ".join(text.lower().split())''',
        "HTML entities not decoded": '''
def clean_tweet(text):
    text = re.sub(r"@\\w+|(?:https?://|www\\.)\\S+", " ", text)
    return " ".join(text.lower().split())''',
        "not lower-cased, spaces kept": '''
def clean_tweet(text):
    return re.sub(r"@\\w+|(?:https?://|www\\.)\\S+", "", html.unescape(text))''',
    },
    "load_sentiment140": {
        "label 4 kept as 4": '''
def load_sentiment140(path):
    with open(path, encoding="latin-1", newline="") as f:
        rows = [r for r in csv.reader(f) if r[0] in ("0", "4")]
    return [r[5] for r in rows], [int(r[0]) for r in rows]''',
        "neutral rows kept": '''
def load_sentiment140(path):
    with open(path, encoding="latin-1", newline="") as f:
        rows = list(csv.reader(f))
    return [r[5] for r in rows], [int(r[0] == "4") for r in rows]''',
        "read as UTF-8": '''
def load_sentiment140(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f) if r[0] in ("0", "4")]
    return [r[5] for r in rows], [int(r[0] == "4") for r in rows]''',
        "first row taken for a header": '''
def load_sentiment140(path):
    with open(path, encoding="latin-1", newline="") as f:
        rows = [r for r in list(csv.reader(f))[1:] if r[0] in ("0", "4")]
    return [r[5] for r in rows], [int(r[0] == "4") for r in rows]''',
        "lines split on commas": '''
def load_sentiment140(path):
    texts, labels = [], []
    for line in open(path, encoding="latin-1"):
        fields = [f.strip('"') for f in line.rstrip("\\r\\n").split(",")]
        if fields[0] in ("0", "4"):
            texts.append(fields[5])
            labels.append(int(fields[0] == "4"))
    return texts, labels''',
    },
    "split_indices": {
        "overlapping splits": '''
def split_indices(n, seed=0):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[:round(0.6 * n)], order[round(0.6 * n):round(0.8 * n)], order[round(0.7 * n):]''',
        "not shuffled": '''
def split_indices(n, seed=0):
    order = list(range(n))
    return order[:round(0.6 * n)], order[round(0.6 * n):round(0.8 * n)], order[round(0.8 * n):]''',
        "seed ignored": '''
def split_indices(n, seed=0):
    order = torch.randperm(n).tolist()
    return order[:round(0.6 * n)], order[round(0.6 * n):round(0.8 * n)], order[round(0.8 * n):]''',
        "sampled with replacement": '''
def split_indices(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    pick = lambda k: torch.randint(n, (k,), generator=g).tolist()
    return pick(round(0.6 * n)), pick(round(0.2 * n)), pick(n - round(0.6 * n) - round(0.2 * n))''',
    },
    "predict_sentiment": {
        "constant prediction": "def predict_sentiment(texts):\n    return [1] * len(texts)",
        "untrained model": UNTRAINED_MODEL,
        "labels 0 and 4": PREDICT_ONE_BY_ONE.replace("int(model(*encode([text], index)).argmax())",
                                                     "4 * int(model(*encode([text], index)).argmax())"),
    },
}

ALTERNATIVES = {
    "LSTMCell": {"four matrix products, one per gate": FOUR_MATMULS,
                 "one fused product written from scratch": lstm_cell(FUSED_OK),
                 "gates by einsum, sliced by hand": lstm_cell(FUSED_EINSUM)},
    "run_lstm": {"a list of h's concatenated": RUN_LSTM_PREALLOCATED,
                 "written into a preallocated tensor": RUN_LSTM_INTO_A_TENSOR},
    "clean_tweet": {"token by token": CLEAN_BY_TOKENS, "one regex pass": CLEAN_IN_ONE_PASS},
    "load_sentiment140": {"pandas": LOAD_WITH_PANDAS, "csv.DictReader": LOAD_WITH_DICT_READER},
    "split_indices": {"numpy permutation and split": SPLIT_WITH_NUMPY,
                      "random.shuffle, floor sizes": SPLIT_WITH_RANDOM},
    "predict_sentiment": {"one tweet at a time": PREDICT_ONE_BY_ONE,
                          "model loaded once at top level": PREDICT_WITH_A_TOP_LEVEL_MODEL},
}


def test_the_master_earns_every_point():
    earned = scores(SLUG)
    assert set(earned) == set(load_suite(SLUG).graded_names)
    assert all(got == possible for got, possible in earned.values()), earned


def test_every_graded_name_has_three_bugs_and_two_alternatives():
    assert not coverage_gaps(SLUG, BUGS, ALTERNATIVES), coverage_gaps(SLUG, BUGS, ALTERNATIVES)


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = points(SLUG, BUGS[name][bug], name)
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name,alternative", [(n, a) for n, alts in ALTERNATIVES.items() for a in alts])
def test_an_alternative_correct_answer_keeps_full_marks(name, alternative):
    source = ALTERNATIVES[name][alternative]
    got, possible = points(SLUG, source, name)
    assert got == possible, messages(SLUG, source, name)


@pytest.mark.parametrize("bug,expected", [
    ("wrong gate order (i, f, o, g)", "i, f, g, o"),
    ("wraps torch.nn.LSTMCell", "nn.LSTMCell"),
    ("calls torch's lstm_cell kernel", "lstm_cell"),
])
def test_lstm_cell_messages_say_where_to_look(bug, expected):
    found = messages(SLUG, BUGS["LSTMCell"][bug], "LSTMCell")
    assert any(expected in m for m in found), found


def test_other_messages_say_where_to_look():
    assert any("map target 4 to 1" in m for m in messages(SLUG, BUGS["load_sentiment140"]["label 4 kept as 4"],
                                                           "load_sentiment140"))
    assert any("disjoint" in m for m in messages(SLUG, BUGS["split_indices"]["overlapping splits"], "split_indices"))
    assert any("@" in m for m in messages(SLUG, BUGS["clean_tweet"]["mentions left in"], "clean_tweet"))
    found = messages(SLUG, BUGS["predict_sentiment"]["constant prediction"], "predict_sentiment")
    assert any("accuracy on the autograder's held-out data" in m and "0.85" in m for m in found), found


# ---------------------------------------------------------------------------------------------
# The reference module (assignments/transformers/sentiment140_reference.py), which later
# handouts ship: it must earn every point the rnn tests give its three names.


def reference_module():
    spec = importlib.util.spec_from_file_location("sentiment140_reference",
                                                  load_suite("transformers").handout_dir / "sentiment140_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["clean_tweet", "load_sentiment140", "split_indices"])
def test_the_shared_reference_module_passes_the_rnn_tests(name):
    namespace = vars(reference_module())
    found = [run_test(fn, LocalSubmission(namespace)) for fn in suite_tests(SLUG) if fn.kit_test.graded_name == name]
    assert found and all(o.passed for o in found), [o.message for o in found if not o.passed]


def test_the_reference_module_is_not_in_the_rnn_handout():
    assert "sentiment140_reference.py" not in load_suite(SLUG).helper_files()


def test_the_reference_module_agrees_with_the_master_on_generated_tweets(tmp_path):
    master = master_namespace(SLUG)
    reference = reference_module()
    from coursekit.data import write_fake_sentiment140
    path = write_fake_sentiment140(tmp_path / "tweets.csv", n=300, seed=5, neutral_fraction=0.2)
    texts, labels = reference.load_sentiment140(path)
    assert (texts, labels) == master["load_sentiment140"](str(path))
    assert [reference.clean_tweet(t) for t in texts] == [master["clean_tweet"](t) for t in texts]
    assert reference.split_indices(300, seed=4) == master["split_indices"](300, seed=4)


# ---------------------------------------------------------------------------------------------
# The bar of the 85% test, as the homework words it: the accuracy must *exceed* 85%


class _Predicts:
    """A stand-in submission whose predictor returns fixed labels (judge_predictions' side only)."""

    def __init__(self, predictions):
        self.predictions, self.leaderboard = predictions, {}

    def run(self, probe, *args, **kwargs):
        return self.predictions

    def record(self, key, value):
        self.leaderboard[key] = value


def test_exactly_85_percent_does_not_exceed_85_percent():
    from autograder.heldout import judge_predictions
    from coursekit.testing import CheckFailed

    labels = [1] * 20
    exactly = [1] * 17 + [0] * 3  # 17/20 = 0.85
    above = [1] * 18 + [0] * 2
    judge = dict(metric=lambda p, y: sum(a == b for a, b in zip(p, y)) / len(y), bar=0.85,
                 higher_is_better=True, label="accuracy", strict=True)
    with pytest.raises(CheckFailed, match="the bar is above 0.85"):
        judge_predictions(_Predicts(exactly), "predict_sentiment", ["t"] * 20, labels, **judge)
    assert judge_predictions(_Predicts(above), "predict_sentiment", ["t"] * 20, labels, **judge) == 0.9
    judge["strict"] = False  # "at least", for bars the documents word that way
    assert judge_predictions(_Predicts(exactly), "predict_sentiment", ["t"] * 20, labels, **judge) == 0.85
