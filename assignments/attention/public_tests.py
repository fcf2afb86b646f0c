"""Self-checks for the attention assignment: run them from the notebook with check("name").

These are the visible tests; the autograder also runs hidden ones on more cases.
"""
import torch

from coursekit.testing import CheckFailed, expect, expect_close, expect_equal, expect_shape, test


def attention_of(ns, q, k, v, mask):
    """scaled_dot_product_attention"""
    return list(ns["scaled_dot_product_attention"](q, k, v, mask))


@test("scaled_dot_product_attention", "matches torch's on a batch of 2 without a mask")
def sdpa_small(sub):
    generator = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(2, 3, 4, generator=generator), torch.randn(2, 5, 4, generator=generator), torch.randn(2, 5, 2, generator=generator)
    got = sub.run(attention_of, q, k, v, None)
    expect(isinstance(got, list) and len(got) == 2, "return a pair (output, weights)")
    expect_close(got[0], torch.nn.functional.scaled_dot_product_attention(q, k, v), "output",
                 "softmax(Q K^T / sqrt(d)) V, with d the last dimension of the query")
    expect_close(got[1].sum(-1), torch.ones(2, 3), "sums of the rows of the weights", "softmax over the keys (dim=-1)")


def cross_attention_of(ns, targets, sources):
    """cross_attention_images"""
    return list(ns["cross_attention_images"](targets, sources))


@test("cross_attention_images", "returns outputs (10, 784) and weights (10, 10) whose rows sum to 1")
def cross_attention_shapes(sub):
    generator = torch.Generator().manual_seed(1)
    got = sub.run(cross_attention_of, torch.rand(10, 784, generator=generator), torch.rand(10, 784, generator=generator))
    expect(isinstance(got, list) and len(got) == 2, "return a pair (outputs, weights)")
    expect_shape(got[0], (10, 784), "outputs")
    expect_shape(got[1], (10, 10), "weights")
    expect_close(got[1].sum(1), torch.ones(10), "sums of the rows of the weights", "softmax over the sources (dim=1)")


@test("cross_attention_images", "takes a single target: outputs (1, 784) and weights (1, 10) for one image of class 5")
def cross_attention_single_target(sub):
    generator = torch.Generator().manual_seed(2)
    got = sub.run(cross_attention_of, torch.rand(1, 784, generator=generator), torch.rand(10, 784, generator=generator))
    expect(isinstance(got, list) and len(got) == 2, "return a pair (outputs, weights)")
    expect_shape(got[0], (1, 784), "outputs for one target (keep the target dimension: do not squeeze it)")
    expect_shape(got[1], (1, 10), "weights for one target (keep the target dimension: do not squeeze it)")


def self_attention_of(ns, X, W_Q, W_K, W_V):
    """self_attention"""
    return ns["self_attention"](X, W_Q, W_K, W_V)


@test("self_attention", "matches equation (1) on a 3×2 example")
def self_attention_small(sub):
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    W_Q, W_K, W_V = torch.tensor([[1.0], [2.0]]), torch.tensor([[0.5], [-1.0]]), torch.tensor([[1.0, 0.0], [1.0, 3.0]])
    expected = torch.softmax(X @ W_Q @ W_K.T @ X.T, dim=-1) @ X @ W_V
    expect_close(sub.run(self_attention_of, X, W_Q, W_K, W_V), expected, "self_attention(X, W_Q, W_K, W_V)",
                 "softmax(X W_Q W_K^T X^T) X W_V, softmax over each row, no 1/sqrt(d) here")


def encoder_keys(ns):
    """TransformerEncoderLayer(16, 4, 32)"""
    layer = ns["TransformerEncoderLayer"](16, 4, 32)
    return {name: list(p.shape) for name, p in layer.state_dict().items()}


@test("TransformerEncoderLayer", "has the parameter names and shapes of torch.nn.TransformerEncoderLayer")
def encoder_state_dict_keys(sub):
    expected = {name: list(p.shape) for name, p in torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True).state_dict().items()}
    got = sub.run(encoder_keys)
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    expect(not missing and not extra, f"state_dict keys differ from torch's: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        expect_equal(got[name], shape, f"shape of {name}")


def embeddings_from_text(ns, text, vocab):
    """load_pretrained_embeddings on a small GloVe file"""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "vectors.txt")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return ns["load_pretrained_embeddings"](path, vocab)


@test("load_pretrained_embeddings", "reads a three-word GloVe file into the vocabulary's rows")
def embeddings_small(sub):
    text = "the 0.1 0.2 0.3\ncat -1.0 0.5 2.0\nsat 3.0 -2.0 1.5\n"
    got = sub.run(embeddings_from_text, text, ["sat", "the", "cat"])
    expect_shape(got, (3, 3), "load_pretrained_embeddings(path, ['sat', 'the', 'cat'])")
    expected = torch.tensor([[3.0, -2.0, 1.5], [0.1, 0.2, 0.3], [-1.0, 0.5, 2.0]])
    expect_close(got, expected, "the rows", "row i holds the vector of vocab[i], whatever the file's order")


def seq2seq_shape(ns):
    """Seq2SeqTransformer on a batch of 2"""
    import torch

    model = ns["Seq2SeqTransformer"](src_vocab_size=11, tgt_vocab_size=13, d_model=16, nhead=2,
                                     num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32).eval()
    src = torch.tensor([[1, 5, 6, 2, 0], [1, 7, 8, 9, 2]])
    tgt = torch.tensor([[1, 4, 5], [1, 6, 7]])
    return model(src, tgt)


@test("Seq2SeqTransformer", "forward(src (2, 5), tgt (2, 3)) returns logits of shape (2, 3, 13)")
def seq2seq_logits_shape(sub):
    expect_shape(sub.run(seq2seq_shape), (2, 3, 13), "logits")


def beam_on_table(ns, table, bos, eos, beam_size, max_len):
    """beam_search on a table language model"""
    import torch

    def step_fn(prefix):
        return torch.tensor(table.get(",".join(str(int(t)) for t in prefix), table["default"]))

    tokens, score = ns["beam_search"](step_fn, bos, eos, beam_size, max_len)
    return {"tokens": [int(t) for t in tokens], "score": float(score)}


@test("beam_search", "returns <bos> a <eos> (0.63), not the first completed <bos> <eos> (0.3)")
def beam_first_completed_is_not_best(sub):
    import math

    log = lambda ps: [math.log(p) for p in ps]
    table = {"0": log([1e-9, 0.7, 0.3]), "0,1": log([1e-9, 0.1, 0.9]), "0,1,1": log([1e-9, 0.1, 0.9]),
             "default": log([1e-9, 0.1, 0.9])}
    got = sub.run(beam_on_table, table, 0, 2, 2, 4)
    expect_equal(got["tokens"], [0, 1, 2], "tokens",
                 "keep searching after the first completed hypothesis until it beats the best open one")
    expect_close(got["score"], math.log(0.63), "score", "the score is the sum of the log-probabilities", atol=1e-4)
