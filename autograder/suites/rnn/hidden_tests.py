"""Hidden tests for the rnn assignment (only in the Gradescope autograder.zip).

Every expected value is computed here, in the grading process: LSTM outputs and gradients by
torch.nn.LSTMCell / torch.nn.LSTM with the same weights, cleaned tweets and loaded files from how
the test built them, and the 85% test from held-out tweets whose labels never leave this process.
"""
import ast
import csv
import html
import io
import random
import re
from pathlib import Path

import torch

from autograder.heldout import heldout_path, judge_predictions
from coursekit.testing import CheckFailed, describe, expect, expect_close, expect_equal, expect_shape, test

SUITE = Path(__file__).resolve().parent


GATE_HINT = ("the rows of weight_ih/weight_hh are the gates in the order i, f, g, o (torch's order), both "
             "bias_ih and bias_hh are added, g uses tanh and i, f, o use sigmoid")


# ---------------------------------------------------------------------------------------------
# LSTMCell


def reference_cell(input_size, hidden_size, bias=True, seed=0):
    torch.manual_seed(seed)
    return torch.nn.LSTMCell(input_size, hidden_size, bias=bias)


def cell_forward(ns, sizes, bias, state_dict, x, hx, weights):
    """your LSTMCell's forward and backward"""
    import torch

    cell = ns["LSTMCell"](sizes[0], sizes[1], bias=bias)
    cell.load_state_dict(state_dict)
    x = x.clone().requires_grad_(True)
    if hx is None:
        h, c = cell(x)
        state = []
    else:
        state = [t.clone().requires_grad_(True) for t in hx]
        h, c = cell(x, tuple(state))
    ((h * weights[0]).sum() + (c * weights[1]).sum()).backward()
    grads = {"input": x.grad, "h": state[0].grad if state else None, "c": state[1].grad if state else None}
    grads.update({name: p.grad for name, p in cell.named_parameters()})
    return {"h": h, "c": c, "grads": grads}


def reference_forward(cell, x, hx, weights):
    x = x.clone().requires_grad_(True)
    state = [t.clone().requires_grad_(True) for t in hx] if hx is not None else []
    batched = x.dim() == 2
    h, c = cell(x, tuple(state)) if state else cell(x)
    ((h * weights[0]).sum() + (c * weights[1]).sum()).backward()
    grads = {"input": x.grad, "h": state[0].grad if state else None, "c": state[1].grad if state else None}
    grads.update({name: p.grad for name, p in cell.named_parameters()})
    assert batched or h.dim() == 1
    return {"h": h.detach(), "c": c.detach(), "grads": grads}


def run_cell_case(sub, input_size, hidden_size, batch, bias=True, with_hx=True, seed=0):
    reference = reference_cell(input_size, hidden_size, bias, seed)
    generator = torch.Generator().manual_seed(seed + 100)
    lead = (batch,) if batch else ()
    x = torch.randn(*lead, input_size, generator=generator)
    hx = (torch.randn(*lead, hidden_size, generator=generator),
          torch.randn(*lead, hidden_size, generator=generator)) if with_hx else None
    weights = (torch.randn(*lead, hidden_size, generator=generator), torch.randn(*lead, hidden_size, generator=generator))
    got = sub.run(cell_forward, (input_size, hidden_size), bias, reference.state_dict(), x, hx, weights)
    return got, reference_forward(reference, x, hx, weights)


def expect_outputs(got, expected, shape, what):
    expect(isinstance(got, dict) and "h" in got, f"{what}: the cell did not return (h, c)")
    for key, hint in (("c", GATE_HINT), ("h", "h' = o * tanh(c'), with o = sigmoid of the 4th block")):
        expect_shape(got[key], shape, f"{what}: {key}'")
        expect_close(got[key], expected[key], f"{what}: {key}'", hint)


@test("LSTMCell", "matches torch.nn.LSTMCell on a batch of 3 (h' and c')", points=2)
def lstm_cell_batch(sub):
    for input_size, hidden_size in ((4, 6), (7, 3)):
        got, expected = run_cell_case(sub, input_size, hidden_size, batch=3, seed=input_size)
        expect_outputs(got, expected, (3, hidden_size), f"LSTMCell({input_size}, {hidden_size}) on a batch of 3")


@test("LSTMCell", "gradients match torch.nn.LSTMCell (input, state and every parameter)", points=2)
def lstm_cell_gradients(sub):
    got, expected = run_cell_case(sub, 5, 4, batch=3, seed=3)
    expect_outputs(got, expected, (3, 4), "LSTMCell(5, 4)")
    grads = got["grads"]
    for name, reference in expected["grads"].items():
        expect(grads.get(name) is not None, f"no gradient reached {name}: build the output from the parameters and "
                                            "inputs with differentiable torch operations (no .detach(), no .data)")
        expect_close(grads[name], reference, f"gradient of {name}", GATE_HINT, atol=1e-5, rtol=1e-4)


@test("LSTMCell", "accepts unbatched input (I,) and returns (H,) states, with or without hx")
def lstm_cell_unbatched(sub):
    got, expected = run_cell_case(sub, 4, 5, batch=None, seed=5)
    expect_outputs(got, expected, (5,), "LSTMCell(4, 5) on an input of shape (4,) with hx of shapes (5,)")
    got, expected = run_cell_case(sub, 4, 5, batch=None, with_hx=False, seed=8)
    expect_outputs(got, expected, (5,), "LSTMCell(4, 5) on an input of shape (4,) without hx")


@test("LSTMCell", "hx defaults to zeros")
def lstm_cell_default_state(sub):
    got, expected = run_cell_case(sub, 3, 4, batch=2, with_hx=False, seed=6)
    expect_outputs(got, expected, (2, 4), "LSTMCell(3, 4) called without hx")


def cell_parameter_names(ns, bias):
    """creating your LSTMCell"""
    cell = ns["LSTMCell"](3, 2, bias=bias)
    return sorted(name for name, _ in cell.named_parameters())


@test("LSTMCell", "bias=False has no bias parameters and matches torch.nn.LSTMCell(bias=False)")
def lstm_cell_no_bias(sub):
    names = sub.run(cell_parameter_names, False)
    expect_equal(names, ["weight_hh", "weight_ih"], "parameters of LSTMCell(3, 2, bias=False)",
                 "with bias=False register bias_ih and bias_hh as None (self.register_parameter(name, None))")
    got, expected = run_cell_case(sub, 3, 2, batch=4, bias=False, seed=7)
    expect_outputs(got, expected, (4, 2), "LSTMCell(3, 2, bias=False)")


FORBIDDEN_ATTRIBUTES = {"LSTMCell", "LSTM", "RNNCellBase", "RNNBase", "lstm_cell", "lstm", "_VF"}
FORBIDDEN_NAMES = {"LSTM", "RNNCellBase", "RNNBase", "lstm_cell", "_VF"}


def builtin_uses_in_source(source: str) -> list[str]:
    """Names of torch's LSTM implementations that the class's code refers to."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(node.id)
    return sorted(set(found))


def builtin_calls(ns):
    """your LSTMCell, watched for calls to torch's LSTM"""
    import torch

    calls = []
    patched = []

    def spy(owner, name, label):
        original = getattr(owner, name)

        def watched(*args, **kwargs):
            calls.append(label)
            return original(*args, **kwargs)

        setattr(owner, name, watched)
        patched.append((owner, name, original))

    try:
        spy(torch.nn.LSTMCell, "forward", "torch.nn.LSTMCell")
        spy(torch.nn.LSTM, "forward", "torch.nn.LSTM")
        for module, label in ((torch._VF, "torch._VF"), (torch, "torch")):
            for function in ("lstm_cell", "lstm"):
                spy(module, function, f"{label}.{function}")
        cell = ns["LSTMCell"](3, 4)
        x = torch.randn(2, 3)
        cell(x, (torch.zeros(2, 4), torch.zeros(2, 4)))
        cell(torch.randn(3))
        inner = sorted({type(m).__name__ for m in cell.modules()
                        if isinstance(m, (torch.nn.RNNCellBase, torch.nn.RNNBase))})
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)
    return {"calls": sorted(set(calls)), "inner": inner}


@test("LSTMCell", "does not call torch.nn.LSTMCell, torch.nn.LSTM or torch's lstm functions", points=2)
def lstm_cell_not_builtin(sub):
    uses = builtin_uses_in_source(sub.source_of("LSTMCell"))
    expect(not uses, f"your LSTMCell refers to {', '.join(uses)}: write the gates with matrix products, "
                     "torch.sigmoid and torch.tanh instead of calling torch's LSTM")
    got = sub.run(builtin_calls)
    expect(isinstance(got, dict), f"could not watch your LSTMCell (got {describe(got)})")
    expect(not got["calls"], f"your LSTMCell called {', '.join(got['calls'])}: compute the gates yourself")
    expect(not got["inner"], f"your LSTMCell contains a {', '.join(got['inner'])} module: compute the gates yourself")


# ---------------------------------------------------------------------------------------------
# run_lstm: unrolls torch's own LSTMCell, so that a bug in LSTMCell does not cost run_lstm's points


def unroll(ns, sizes, state_dict, inputs, hx, weights):
    """your run_lstm (unrolling torch.nn.LSTMCell)"""
    import torch

    cell = torch.nn.LSTMCell(*sizes)
    cell.load_state_dict(state_dict)
    inputs = inputs.clone().requires_grad_(True)
    state = [t.clone().requires_grad_(True) for t in hx] if hx is not None else None
    outputs, (h_n, c_n) = ns["run_lstm"](cell, inputs, tuple(state) if state else None)
    h_n, c_n = h_n.reshape(-1, sizes[1]), c_n.reshape(-1, sizes[1])
    ((outputs * weights[0]).sum() + (c_n * weights[1]).sum()).backward()
    return {"outputs": outputs, "h_n": h_n, "c_n": c_n, "grad_inputs": inputs.grad,
            "grad_h0": state[0].grad if state else None, "grad_c0": state[1].grad if state else None}


def run_lstm_case(sub, length, batch, input_size, hidden_size, with_hx, seed):
    torch.manual_seed(seed)
    reference = torch.nn.LSTM(input_size, hidden_size)
    generator = torch.Generator().manual_seed(seed + 100)
    inputs = torch.randn(length, batch, input_size, generator=generator)
    hx = (torch.randn(batch, hidden_size, generator=generator),
          torch.randn(batch, hidden_size, generator=generator)) if with_hx else None
    weights = (torch.randn(length, batch, hidden_size, generator=generator),
               torch.randn(batch, hidden_size, generator=generator))
    cell_weights = {key.removesuffix("_l0"): value for key, value in reference.state_dict().items()}
    got = sub.run(unroll, (input_size, hidden_size), cell_weights, inputs, hx, weights)

    x = inputs.clone().requires_grad_(True)
    state = [t.unsqueeze(0).clone().requires_grad_(True) for t in hx] if hx else None
    outputs, (h_n, c_n) = reference(x, tuple(state) if state else None)
    ((outputs * weights[0]).sum() + (c_n[0] * weights[1]).sum()).backward()
    expected = {"outputs": outputs.detach(), "h_n": h_n[0].detach(), "c_n": c_n[0].detach(), "grad_inputs": x.grad,
                "grad_h0": state[0].grad[0] if state else None, "grad_c0": state[1].grad[0] if state else None}
    return got, expected


def expect_run(got, expected, what):
    expect(isinstance(got, dict), f"{what}: run_lstm did not return (outputs, (h_n, c_n))")
    expect_shape(got["outputs"], tuple(expected["outputs"].shape), f"{what}: outputs")
    expect_close(got["outputs"], expected["outputs"], f"{what}: outputs",
                 "outputs[t] is the h returned at step t; pass each step's (h, c) to the next step")
    expect_close(got["h_n"], expected["h_n"], f"{what}: h_n", "h_n is the h of the last step")
    expect_close(got["c_n"], expected["c_n"], f"{what}: c_n", "c_n is the c of the last step, not the first")


@test("run_lstm", "matches a one-layer torch.nn.LSTM over 7 steps (outputs, h_n, c_n)", points=2)
def run_lstm_default_state(sub):
    got, expected = run_lstm_case(sub, 7, 4, 3, 5, with_hx=False, seed=11)
    expect_run(got, expected, "7 steps, batch of 4, hx=None")


@test("run_lstm", "starts from a given hx and gradients flow through time like torch.nn.LSTM's", points=2)
def run_lstm_given_state(sub):
    got, expected = run_lstm_case(sub, 5, 2, 4, 3, with_hx=True, seed=12)
    expect_run(got, expected, "5 steps from a given (h_0, c_0)")
    for key in ("grad_inputs", "grad_h0", "grad_c0"):
        expect(got[key] is not None, f"no gradient reached {key.removeprefix('grad_')}: do not detach the state")
        expect_close(got[key], expected[key], f"gradient of {key.removeprefix('grad_')}",
                     "keep the state in the autograd graph from one step to the next", atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# clean_tweet: the expected words follow from how each tweet is built


def words(text: str) -> list[str]:
    """The lower-case letters-and-digits runs of a text: punctuation may stay or go."""
    return re.findall(r"[a-z0-9]+", text)


def clean_all(ns, tweets):
    """your clean_tweet"""
    return [ns["clean_tweet"](tweet) for tweet in tweets]


def expect_cleaned(sub, cases, hint):
    """``cases``: (tweet, a correct cleaning of it); the words must agree, punctuation may differ."""
    tweets = [tweet for tweet, _ in cases]
    got = sub.run(clean_all, tweets)
    for (tweet, expected), cleaned in zip(cases, got):
        expect(isinstance(cleaned, str), f"clean_tweet({tweet!r}) returned {describe(cleaned)}, not a str")
        expect(words(cleaned) == words(expected),
               f"clean_tweet({tweet!r}) returned {cleaned!r}; expected the words of {expected!r}. {hint}")


@test("clean_tweet", "removes @mentions")
def clean_mentions(sub):
    expect_cleaned(sub, [
        ("@bob i love this", "i love this"),
        ("so sad today @mary_jones", "so sad today"),
        ("@a @b_2 great game, @Coach99: thanks", "great game, : thanks"),
    ], "remove every @ followed by its name (letters, digits and _), e.g. re.sub(r'@\\w+', ' ', text)")


@test("clean_tweet", "removes URLs (http, https and www)")
def clean_urls(sub):
    expect_cleaned(sub, [
        ("look http://bit.ly/abc123 now", "look now"),
        ("check https://t.co/XyZ?q=1 and www.example.com/page too", "check and too"),
        ("new post: http://tinyurl.com/dl4x", "new post:"),
    ], "remove each URL up to the next space, whether it starts with http://, https:// or www.")


@test("clean_tweet", "decodes HTML entities (&amp; &lt; &gt; &quot;)")
def clean_entities(sub):
    expect_cleaned(sub, [
        ("ham &amp; eggs", "ham & eggs"),
        ("i &lt;3 you &gt;_&lt;", "i <3 you >_<"),
        ("&quot;best&quot; day", '"best" day'),
    ], "html.unescape turns &amp; into & (so that 'amp' does not become a word)")


@test("clean_tweet", "lower-cases and collapses whitespace")
def clean_case_and_space(sub):
    tweets = ["  Lots   of\tSPACE \n here ", "I LOVE Mondays", "end "]
    got = sub.run(clean_all, tweets)
    for tweet, cleaned in zip(tweets, got):
        expect(isinstance(cleaned, str), f"clean_tweet({tweet!r}) returned {describe(cleaned)}, not a str")
        expect_equal(cleaned, cleaned.lower(), f"clean_tweet({tweet!r})", "lower-case the text")
        expect_equal(cleaned, " ".join(cleaned.split()), f"clean_tweet({tweet!r})",
                     "collapse runs of spaces, tabs and newlines into one space, none at either end")
        expect(words(cleaned) == words(tweet.lower()),
               f"clean_tweet({tweet!r}) returned {cleaned!r}: the words should stay, lower-cased")


def cleaned_generated(tweet: str) -> str:
    """Generated tweets are space-separated tokens: mentions start with @, URLs with http."""
    kept = [token for token in tweet.split() if not token.startswith(("@", "http"))]
    return html.unescape(" ".join(kept)).lower()


@test("clean_tweet", "keeps every word of 200 generated tweets, in order")
def clean_generated(sub):
    from coursekit.data import fake_tweet  # a shared helper: the grader imports it by name, as the handout does
    rng = random.Random(7)
    tweets = [fake_tweet(rng.choice([0, 2, 4]), rng) for _ in range(200)]
    expect_cleaned(sub, [(tweet, cleaned_generated(tweet)) for tweet in tweets],
                   "only mentions, URLs and entity names should disappear")


# ---------------------------------------------------------------------------------------------
# load_sentiment140: files built here, in the real format


def load_file(ns, content):
    """your load_sentiment140 on a file in sentiment140's format"""
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "training.csv"
    path.write_bytes(content.encode("latin-1"))
    texts, labels = ns["load_sentiment140"](str(path))
    return {"texts": list(texts), "labels": [int(label) if hasattr(label, "__int__") else label for label in labels]}


def sentiment140_file(rows) -> str:
    """``rows`` of (target, text) as sentiment140 stores them: six quoted fields, no header."""
    stream = io.StringIO()
    writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for index, (target, text) in enumerate(rows):
        writer.writerow([target, 1467810369 + index, "Mon Apr 06 22:19:45 PDT 2009", "NO_QUERY", f"user{index}", text])
    return stream.getvalue()


def tricky_rows():
    """Generated tweets with neutral ones, then commas, quotes and latin-1 characters; first row positive."""
    from coursekit.data import fake_tweet  # a shared helper: the grader imports it by name, as the handout does
    rng = random.Random(3)
    rows = [(4, "first row: no header here")]
    rows += [(target, fake_tweet(target, rng)) for target in (rng.choice([0, 2, 4]) for _ in range(60))]
    rows += [(0, 'he said "no, never", then left'), (4, "caf\xe9 &amp; cr\xe8me br\xfbl\xe9e, \xa35 only!"),
             (2, "neutral, with a comma"), (0, "semi;colons, tabs\tand 'quotes'")]
    return rows


@test("load_sentiment140", "maps 0 to 0 and 4 to 1, drops neutral (2) rows, keeps the first row", points=2)
def load_labels(sub):
    rows = tricky_rows()
    got = sub.run(load_file, sentiment140_file(rows))
    expected = [int(target == 4) for target, _ in rows if target in (0, 4)]
    labels = got["labels"]
    expect(2 not in labels and len(labels) != len(rows),
           f"the file has {len(rows) - len(expected)} neutral rows (target 2): drop them")
    expect(4 not in labels, "labels must be 0 and 1: map target 4 to 1")
    expect_equal(len(labels), len(expected), "number of tweets",
                 "sentiment140 has no header row: the first line is a tweet")
    expect_equal(labels, expected, "labels", "target 0 is label 0, target 4 is label 1")


@test("load_sentiment140", "reads texts with commas, quotes and latin-1 characters exactly", points=2)
def load_texts(sub):
    rows = tricky_rows()
    got = sub.run(load_file, sentiment140_file(rows))
    expected = [text for target, text in rows if target in (0, 4)]
    expect_equal(len(got["texts"]), len(expected), "number of texts",
                 "one text per row with target 0 or 4, the first row included")
    for got_text, text in zip(got["texts"], expected):
        expect_equal(got_text, text, "a text", "read the sixth column with csv.reader (quoted fields may contain "
                     "commas and quotes) and encoding='latin-1'; return it raw, clean it separately")


# ---------------------------------------------------------------------------------------------
# split_indices


def splits(ns, cases):
    """your split_indices"""
    import random

    import numpy

    results = []
    for n, seed in cases:
        torch.rand(7)  # move the global random states: the split must depend on the seed only
        random.random()
        numpy.random.rand()
        parts = ns["split_indices"](n, seed)
        results.append([part.tolist() if hasattr(part, "tolist") else list(part) for part in parts])
    return results


def as_index_lists(got, what):
    expect(isinstance(got, (list, tuple)) and len(got) == 3, f"{what}: expected (train, val, test), got {describe(got)}")
    try:
        return [[int(i) for i in part] for part in got]
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: the parts should hold integer indices") from None


@test("split_indices", "is a disjoint, covering 60/20/20 partition for n from 1 to 10000", points=2)
def split_partition(sub):
    sizes = [1, 2, 3, 7, 10, 99, 1000, 10001]
    results = sub.run(splits, [(n, 0) for n in sizes])
    for n, got in zip(sizes, results):
        train, val, test = as_index_lists(got, f"split_indices({n})")
        together = train + val + test
        overlap = (set(train) & set(val)) | (set(train) & set(test)) | (set(val) & set(test))
        if overlap:
            expect(False, f"split_indices({n}): {len(overlap)} indices are in two parts (e.g. {min(overlap)}); "
                          "the parts must be disjoint: cut one permutation into three pieces")
        expect(len(together) == len(set(together)), f"split_indices({n}): an index repeats within a part")
        missing = set(range(n)) - set(together)
        if missing:
            expect(False, f"split_indices({n}): {len(missing)} indices are in no part (e.g. {min(missing)})")
        expect(set(together) == set(range(n)), f"split_indices({n}): indices outside range({n})")
        for part, share, name in ((train, 0.6, "train"), (val, 0.2, "val"), (test, 0.2, "test")):
            expect(abs(len(part) - share * n) <= 1, f"split_indices({n}): {name} has {len(part)} indices, "
                                                    f"expected {share * n:g} ± 1")


@test("split_indices", "is random, and the same for the same seed")
def split_seeded(sub):
    first, again, other = sub.run(splits, [(1000, 0), (1000, 0), (1000, 1)])
    first, again, other = (as_index_lists(x, "split_indices(1000)") for x in (first, again, other))
    expect(first == again, "split_indices(1000, seed=0) gave two different splits: draw the permutation from a "
                           "generator seeded with seed, e.g. torch.Generator().manual_seed(seed)")
    expect(first != other, "split_indices(1000, seed=1) equals seed=0's split: use the seed")
    expect(sorted(first[0]) != list(range(600)), "the training part is the first 60% of the tweets: shuffle first")


# ---------------------------------------------------------------------------------------------
# predict_sentiment: the 85% test


def read_heldout(path: Path) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels of a held-out file in sentiment140's format (neutral rows dropped)."""
    with open(path, encoding="latin-1", newline="") as stream:
        rows = [row for row in csv.reader(stream) if len(row) == 6 and row[0] in ("0", "4")]
    return [row[5] for row in rows], [int(row[0] == "4") for row in rows]


def accuracy(predictions, labels) -> float:
    """The share of predictions equal to the labels; predictions must be one 0 or 1 per tweet."""
    if isinstance(predictions, torch.Tensor):
        predictions = predictions.reshape(-1).tolist()
    expect(isinstance(predictions, (list, tuple)),
           f"predict_sentiment should return a list of ints, got {describe(predictions)}")
    expect(len(predictions) == len(labels),
           f"predict_sentiment returned {len(predictions)} labels for {len(labels)} tweets: one per tweet")
    expect(all(type(p) in (int, bool, float) and p in (0, 1) for p in predictions),
           "predict_sentiment must return labels 0 (negative) or 1 (positive), not logits, strings or 4s")
    return sum(int(p) == y for p, y in zip(predictions, labels)) / len(labels)


@test("predict_sentiment", "the 85% test: accuracy above 85% on the autograder's held-out tweets")
def eighty_five_percent(sub):
    """HW4-2026 P1(d) and HW5-2022 P1(c): the point is earned when the accuracy *exceeds* 85%."""
    texts, labels = read_heldout(heldout_path(SUITE, "sentiment140_heldout.csv"))
    judge_predictions(sub, "predict_sentiment", texts, labels, metric=accuracy, bar=0.85, higher_is_better=True,
                      label="accuracy", timeout=120.0, strict=True)
