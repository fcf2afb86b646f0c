"""Self-checks for the transformers assignment: run them from the notebook with check("name").

These are the visible tests; the autograder also runs hidden ones on more cases.
"""
import torch
import torch.nn.functional as F

from coursekit.testing import expect, expect_close, expect_equal, expect_shape, test


def mask_of(ns, T):
    """causal_mask(T)"""
    mask = ns["causal_mask"](T)
    return {"mask": mask, "dtype": str(mask.dtype) if hasattr(mask, "dtype") else type(mask).__name__}


@test("causal_mask", "is a (4, 4) bool tensor, True where j <= i")
def causal_mask_small(sub):
    got = sub.run(mask_of, 4)
    expect_shape(got["mask"], (4, 4), "causal_mask(4)")
    expect_equal(got["dtype"], "torch.bool", "dtype of causal_mask(4)", "return a bool tensor (e.g. .bool())")
    expected = torch.tensor([[j <= i for j in range(4)] for i in range(4)])
    expect(torch.equal(got["mask"], expected),
           f"causal_mask(4) is\n{got['mask'].int().tolist()}\nbut row i should be True for columns j <= i: "
           f"{expected.int().tolist()} (lower triangle, diagonal included)")


def encoding_of_zeros(ns, d_model, T):
    """PositionalEncoding on zeros"""
    import torch
    module = ns["PositionalEncoding"](d_model, max_len=64)
    return module(torch.zeros(1, T, d_model))


@test("PositionalEncoding", "on zeros gives sin on even and cos on odd dimensions (d_model = 8, T = 5)")
def positional_encoding_small(sub):
    got = sub.run(encoding_of_zeros, 8, 5)
    position = torch.arange(5.0).unsqueeze(1)
    rates = torch.pow(10000.0, -torch.arange(0, 8, 2) / 8.0)
    expected = torch.zeros(1, 5, 8)
    expected[0, :, 0::2] = torch.sin(position * rates)
    expected[0, :, 1::2] = torch.cos(position * rates)
    expect_close(got, expected, "PositionalEncoding(8)(zeros(1, 5, 8))",
                 "PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))",
                 atol=1e-5)


def loss_of(ns, logits, tokens, pad_id):
    """lm_loss(logits, tokens, pad_id)"""
    return ns["lm_loss"](logits, tokens, pad_id)


@test("lm_loss", "matches the next-token cross-entropy on a batch without padding")
def lm_loss_small(sub):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=generator)
    tokens = torch.randint(1, 7, (2, 5), generator=generator)
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 7), tokens[:, 1:].reshape(-1))
    got = sub.run(loss_of, logits, tokens, 0)
    expect_close(got, expected, "lm_loss on logits (2, 5, 7)",
                 "the logits at position t predict tokens[:, t + 1]: drop the last logits and the first tokens",
                 atol=1e-5)


def lm_logits(ns, tokens):
    """DecoderOnlyLM(11, 16, 2, 2, 32) on a batch"""
    import torch
    torch.manual_seed(0)
    model = ns["DecoderOnlyLM"](11, 16, 2, 2, 32).eval()
    with torch.no_grad():
        return model(tokens)


@test("DecoderOnlyLM", "returns logits of shape (N, T, vocab_size)")
def decoder_shape(sub):
    tokens = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(0))
    got = sub.run(lm_logits, tokens)
    expect_shape(got, (3, 9, 11), "DecoderOnlyLM(11, ...)(tokens of shape (3, 9))")
    expect(bool(torch.isfinite(got).all()), "the logits contain NaN or inf: check the attention mask "
           "(torch's attn_mask uses True = NOT allowed, the opposite of causal_mask)")


def classifier_logits(ns, tokens):
    """EncoderClassifier(13, 16, 2, 2, 3) on a batch"""
    import torch
    torch.manual_seed(0)
    model = ns["EncoderClassifier"](13, 16, 2, 2, 3).eval()
    with torch.no_grad():
        return model(tokens)


@test("EncoderClassifier", "returns logits of shape (N, num_classes)")
def classifier_shape(sub):
    tokens = torch.randint(1, 13, (4, 6), generator=torch.Generator().manual_seed(0))
    got = sub.run(classifier_logits, tokens)
    expect_shape(got, (4, 3), "EncoderClassifier(13, 16, 2, 2, num_classes=3)(tokens of shape (4, 6))")
    expect(bool(torch.isfinite(got).all()), "the logits contain NaN or inf")


def predict(ns, texts):
    """predict_sentiment_transformer(texts)"""
    return ns["predict_sentiment_transformer"](texts)


@test("predict_sentiment_transformer", "returns one int, 0 or 1, per tweet")
def predictor_form(sub):
    texts = ["I love this, best day ever!", "@friend ugh, so sad and tired today http://t.co/x", ""]
    got = sub.run(predict, texts)
    expect(isinstance(got, list), f"expected a list, got {type(got).__name__}: return a list of ints")
    expect_equal(len(got), 3, "number of predictions for 3 tweets")
    expect(all(type(p) is int and p in (0, 1) for p in got),
           f"expected ints 0 or 1, got {got!r}: convert with .tolist() or int(...)")
