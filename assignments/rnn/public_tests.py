"""Self-checks for the rnn assignment: run them from the notebook with check("name").

These are the visible tests; the autograder also runs hidden ones on more cases.
"""
import csv
import io

import torch

from coursekit.testing import call, describe, expect, expect_close, expect_equal, expect_shape, test

GATE_HINT = ("the rows of weight_ih/weight_hh are the gates in the order i, f, g, o; add both biases; "
             "g uses tanh, the others sigmoid")


def lstm_cell_step(ns, input_size, hidden_size, state_dict, x, hx):
    """your LSTMCell's forward"""
    cell = ns["LSTMCell"](input_size, hidden_size)
    cell.load_state_dict(state_dict)
    h, c = cell(x, hx)
    return {"h": h, "c": c}


def lstm_cell_parameters(ns, input_size, hidden_size):
    """creating your LSTMCell"""
    cell = ns["LSTMCell"](input_size, hidden_size)
    return {name: list(p.shape) for name, p in cell.named_parameters()}


@test("LSTMCell", "has torch's parameter names and shapes")
def lstm_cell_parameter_shapes(sub):
    got = sub.run(lstm_cell_parameters, 3, 5)
    expected = {name: list(p.shape) for name, p in torch.nn.LSTMCell(3, 5).named_parameters()}
    expect(isinstance(got, dict), f"expected the parameters as a dict, got {describe(got)}")
    expect_equal(sorted(got), sorted(expected), "parameter names of LSTMCell(3, 5)",
                 "use nn.Parameter attributes named weight_ih, weight_hh, bias_ih, bias_hh")
    for name, shape in expected.items():
        expect_equal(got[name], shape, f"shape of {name} for LSTMCell(3, 5)", "4H rows: one block per gate")


@test("LSTMCell", "matches torch.nn.LSTMCell on a batch of 3")
def lstm_cell_matches_batch(sub):
    torch.manual_seed(0)
    reference = torch.nn.LSTMCell(4, 6)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, generator=generator)
    hx = (torch.randn(3, 6, generator=generator), torch.randn(3, 6, generator=generator))
    got = sub.run(lstm_cell_step, 4, 6, reference.state_dict(), x, hx)
    h, c = reference(x, hx)
    expect_close(got["c"], c.detach(), "c'", GATE_HINT)
    expect_close(got["h"], h.detach(), "h'", "h' = o * tanh(c')")


def lstm_unroll(ns, state_dict, inputs):
    """your run_lstm"""
    import torch

    cell = torch.nn.LSTMCell(inputs.shape[-1], state_dict["weight_hh"].shape[1])
    cell.load_state_dict(state_dict)
    outputs, (h_n, c_n) = ns["run_lstm"](cell, inputs)
    return {"outputs": outputs, "h_n": h_n, "c_n": c_n}


@test("run_lstm", "matches a one-layer torch.nn.LSTM over 4 steps")
def run_lstm_matches(sub):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(3, 5)
    inputs = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(1))
    weights = {key.removesuffix("_l0"): value for key, value in reference.state_dict().items()}
    got = sub.run(lstm_unroll, weights, inputs)
    outputs, (h_n, c_n) = reference(inputs)
    expect_shape(got["outputs"], (4, 2, 5), "outputs")
    expect_close(got["outputs"], outputs.detach(), "outputs",
                 "outputs[t] is h after step t; feed each step's (h, c) into the next")


@test("clean_tweet", "cleans the notebook's example")
def clean_tweet_example(sub):
    got = sub.run(call, "clean_tweet", "@bob I LOVE it &amp; you   http://t.co/x")
    expect(isinstance(got, str), f"clean_tweet should return a str, got {describe(got)}")
    expect(got.replace("&", "").split() == ["i", "love", "it", "you"],
           f"clean_tweet returned {got!r}, expected 'i love it & you': remove the @mention and the URL, "
           "decode &amp;, lower-case, collapse spaces")


def load_rows(ns, content):
    """your load_sentiment140 on a small file in sentiment140's format"""
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "tweets.csv"
    path.write_bytes(content.encode("latin-1"))
    texts, labels = ns["load_sentiment140"](str(path))
    return {"texts": list(texts), "labels": list(labels)}


def sentiment140_text(rows) -> str:
    """Rows as sentiment140 writes them: every field quoted, no header."""
    stream = io.StringIO()
    writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for index, (target, text) in enumerate(rows):
        writer.writerow([target, 1467810369 + index, "Mon Apr 06 22:19:45 PDT 2009", "NO_QUERY", "someone", text])
    return stream.getvalue()


@test("load_sentiment140", "reads a three-row file: texts, and labels 0 and 1")
def load_small_file(sub):
    rows = [(4, "I love it"), (0, "so sad, really"), (4, "caf\xe9 time")]
    got = sub.run(load_rows, sentiment140_text(rows))
    expect_equal(got["labels"], [1, 0, 1], "labels", "target 0 is label 0 and target 4 is label 1; no header row")
    expect_equal(got["texts"], [text for _, text in rows], "texts",
                 "the sixth column, read with the csv module and encoding='latin-1'")


def split_of(ns, n, seed):
    """your split_indices"""
    return [list(part) if not hasattr(part, "tolist") else part.tolist() for part in ns["split_indices"](n, seed)]


@test("split_indices", "is a 60/20/20 partition of range(10)")
def split_small(sub):
    got = sub.run(split_of, 10, 0)
    expect(isinstance(got, list) and len(got) == 3, f"expected (train, val, test), got {describe(got)}")
    expect_equal(sorted(int(i) for part in got for i in part), list(range(10)), "all indices, sorted",
                 "every index appears in exactly one part")
    expect_equal([len(part) for part in got], [6, 2, 2], "sizes of (train, val, test)")


def predict(ns, texts):
    """your predict_sentiment"""
    return ns["predict_sentiment"](texts)


@test("predict_sentiment", "loads your saved model and returns one label 0 or 1 per tweet")
def predict_shape(sub):
    texts = ["I love this, best day ever", "@bob ugh so sad and tired", "&quot;meh&quot; http://t.co/x"]
    got = sub.run(predict, texts)
    if isinstance(got, torch.Tensor):
        got = got.tolist()
    expect(isinstance(got, list) and len(got) == 3, f"expected a list of 3 labels, got {describe(got)}")
    expect(all(label in (0, 1) for label in got), f"labels must be 0 or 1, got {got}")
