"""Hidden tests for the transformers assignment (only in the Gradescope autograder.zip).

Every expected value is computed here, in the grading process: the mask from its definition, the
encoding from its closed form, the loss from torch's cross-entropy, and the model properties
(causality, blindness to trailing padding) by comparing the student's model with itself.
"""
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from coursekit.testing import expect, expect_close, expect_equal, expect_shape, tensor_of, test

SUITE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# causal_mask


def masks(ns, sizes):
    """causal_mask(T) for several T"""
    return [ns["causal_mask"](T) for T in sizes]


@test("causal_mask", "matches the definition j <= i for T = 1 to 12", points=2)
def causal_mask_definition(sub):
    sizes = list(range(1, 13))
    for T, got in zip(sizes, sub.run(masks, sizes)):
        got = tensor_of(got, f"causal_mask({T})")
        expect_shape(got, (T, T), f"causal_mask({T})")
        expect_equal(str(got.dtype), "torch.bool", f"dtype of causal_mask({T})", "return a bool tensor")
        i, j = torch.meshgrid(torch.arange(T), torch.arange(T), indexing="ij")
        expected = j <= i
        wrong = (got != expected).nonzero()
        if len(wrong):
            r, c = (int(v) for v in wrong[0])
            hint = ("position i may see the next position i + 1: the diagonal above the main one must be False "
                    "(torch.tril with diagonal=0)") if c == r + 1 and bool(got[r, c]) else (
                "the diagonal must be True: a position attends to itself") if r == c else (
                "True means 'may attend': is the mask inverted (torch's attn_mask convention)?")
            expect(False, f"causal_mask({T})[{r}, {c}] is {bool(got[r, c])}, expected {bool(expected[r, c])} "
                          f"({len(wrong)} wrong entries). {hint}")


# ---------------------------------------------------------------------------------------------
# PositionalEncoding


def sinusoids(T, d_model, swap=False):
    """The closed form of Vaswani et al., section 3.5 (``swap`` puts cos on even dimensions)."""
    position = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    rates = torch.pow(10000.0, -torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    encoding = torch.zeros(T, d_model, dtype=torch.float64)
    encoding[:, 0::2] = (torch.cos if swap else torch.sin)(position * rates)
    encoding[:, 1::2] = (torch.sin if swap else torch.cos)(position * rates)
    return encoding


def encode(ns, d_model, max_len, x):
    """PositionalEncoding(d_model, max_len)(x)"""
    module = ns["PositionalEncoding"](d_model, max_len=max_len)
    return module(x)


@test("PositionalEncoding", "matches the closed form for d_model = 32, T = 60", points=2)
def positional_encoding_closed_form(sub):
    got = sub.run(encode, 32, 100, torch.zeros(2, 60, 32))
    expected = sinusoids(60, 32).unsqueeze(0).expand(2, 60, 32)
    got = tensor_of(got, "PositionalEncoding(32)(zeros(2, 60, 32))")
    expect_shape(got, (2, 60, 32), "PositionalEncoding(32)(zeros(2, 60, 32))")
    if torch.allclose(got.double(), sinusoids(60, 32, swap=True).expand(2, 60, 32), atol=1e-4):
        expect(False, "sin and cos are swapped: even dimensions 2i get sin(pos / 10000^(2i/d_model)), "
                      "odd dimensions 2i+1 get cos of the same angle")
    expect_close(got, expected, "PositionalEncoding(32)(zeros(2, 60, 32))",
                 "PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model)); "
                 "check the exponent 2i/d_model (not i/d_model) and that pos starts at 0", atol=1e-4)


@test("PositionalEncoding", "adds the encoding to x (batch of 3, random x)")
def positional_encoding_adds(sub):
    x = torch.randn(3, 10, 16, generator=torch.Generator().manual_seed(1))
    got = sub.run(encode, 16, 50, x)
    swapped = torch.allclose(tensor_of(got, "PositionalEncoding(16)(x)").double(), x.double() + sinusoids(10, 16, swap=True),
                             atol=1e-4)
    expect_close(got, x.double() + sinusoids(10, 16), "PositionalEncoding(16)(x)",
                 "sin and cos are swapped: sin goes on the even dimensions" if swapped else
                 "return x + PE[:T] (no scaling of x, no dropout, the same PE for every sequence of the batch)",
                 atol=1e-4)


def encoding_details(ns):
    """PositionalEncoding at T = max_len, and its parameters"""
    import torch
    module = ns["PositionalEncoding"](8, max_len=20)
    return {"out": module(torch.zeros(1, 20, 8)), "trainable": sum(p.numel() for p in module.parameters())}


@test("PositionalEncoding", "works up to T = max_len and is fixed (no trainable parameters)")
def positional_encoding_fixed(sub):
    got = sub.run(encoding_details)
    expect_close(got["out"], sinusoids(20, 8).unsqueeze(0), "PositionalEncoding(8, max_len=20)(zeros(1, 20, 8))",
                 "the table must cover positions 0 .. max_len - 1", atol=1e-4)
    expect_equal(got["trainable"], 0, "number of trainable parameters",
                 "the sinusoidal encoding is fixed: store it with self.register_buffer, not nn.Parameter")


# ---------------------------------------------------------------------------------------------
# lm_loss


def reference_lm_loss(logits, tokens, pad_id):
    """The hand-shifted cross-entropy: logits at t predict tokens[:, t + 1]; padding targets ignored."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, vocab), tokens[:, 1:].reshape(-1), ignore_index=pad_id)


def padded_batch(seed, pad_id, vocab=9):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 8, vocab, generator=generator)
    tokens = torch.randint(0, vocab, (3, 8), generator=generator)
    tokens[tokens == pad_id] = (pad_id + 1) % vocab
    tokens[0, 5:] = pad_id  # sequences of lengths 5, 8 and 3
    tokens[2, 3:] = pad_id
    return logits, tokens


def loss_and_grad(ns, logits, tokens, pad_id):
    """lm_loss and its gradient with respect to the logits"""
    logits = logits.clone().requires_grad_(True)
    loss = ns["lm_loss"](logits, tokens, pad_id)
    loss.backward()
    return {"loss": loss, "grad": logits.grad}


def shift_hint(got, logits, tokens, pad_id):
    vocab = logits.shape[-1]
    unshifted = F.cross_entropy(logits.reshape(-1, vocab), tokens.reshape(-1), ignore_index=pad_id)
    with_padding = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), tokens[:, 1:].reshape(-1))
    if math.isclose(float(got), float(unshifted), rel_tol=1e-4):
        return "the targets are not shifted: the logits at position t must predict tokens[:, t + 1]"
    if math.isclose(float(got), float(with_padding), rel_tol=1e-4):
        return "padding is counted: pass ignore_index=pad_id so padded targets add nothing to the mean"
    return "compare with F.cross_entropy(logits[:, :-1] flattened, tokens[:, 1:] flattened, ignore_index=pad_id)"


@test("lm_loss", "matches hand-shifted F.cross_entropy with ignore_index on a padded batch", points=2)
def lm_loss_padded(sub):
    logits, tokens = padded_batch(2, pad_id=0)
    got = sub.run(loss_and_grad, logits, tokens, 0)
    expected = reference_lm_loss(logits, tokens, 0)
    expect_close(got["loss"], expected, "lm_loss on a padded batch", shift_hint(got["loss"], logits, tokens, 0),
                 atol=1e-5)


@test("lm_loss", "ignores the padding id it is given (pad_id = 4)")
def lm_loss_other_pad(sub):
    logits, tokens = padded_batch(3, pad_id=4)
    got = sub.run(loss_and_grad, logits, tokens, 4)
    expected = reference_lm_loss(logits, tokens, 4)
    expect_close(got["loss"], expected, "lm_loss with pad_id = 4",
                 "use the pad_id argument, not a hard-coded 0. " + shift_hint(got["loss"], logits, tokens, 4),
                 atol=1e-5)


@test("lm_loss", "is a differentiable scalar with the gradient of the reference")
def lm_loss_gradient(sub):
    logits, tokens = padded_batch(4, pad_id=0)
    got = sub.run(loss_and_grad, logits, tokens, 0)
    expect_shape(got["loss"], (), "lm_loss(...)")
    reference = logits.clone().requires_grad_(True)
    reference_lm_loss(reference, tokens, 0).backward()
    expect(isinstance(got["grad"], torch.Tensor), "no gradient reached the logits: keep the loss in the autograd "
                                                  "graph (no .item(), .detach() or torch.tensor(...))")
    expect_close(got["grad"], reference.grad, "d lm_loss / d logits",
                 shift_hint(got["loss"], logits, tokens, 0) + "; padded targets must get zero gradient", atol=1e-6)


# ---------------------------------------------------------------------------------------------
# DecoderOnlyLM

LM_ARGS = (13, 16, 2, 2, 24)  # vocab_size, d_model, nhead, num_layers, max_len


def lm_future_probe(ns, args, tokens, cut_points):
    """DecoderOnlyLM on tokens and on tokens with the future changed"""
    import torch
    torch.manual_seed(0)
    model = ns["DecoderOnlyLM"](*args).eval()
    results = []
    with torch.no_grad():
        base = model(tokens)
        for k in cut_points:
            changed = tokens.clone()
            changed[:, k:] = (changed[:, k:] + 1) % args[0]  # every later token replaced
            results.append({"k": k, "changed": model(changed)})
    return {"base": base, "results": results}


@test("DecoderOnlyLM", "is causal: changing tokens[:, k:] leaves logits[:, :k] unchanged", points=3)
def decoder_causal(sub):
    tokens = torch.randint(0, 13, (2, 12), generator=torch.Generator().manual_seed(5))
    got = sub.run(lm_future_probe, LM_ARGS, tokens, [1, 4, 8, 11])
    base = tensor_of(got["base"], "DecoderOnlyLM(...)(tokens)")
    expect_shape(base, (2, 12, 13), "DecoderOnlyLM(13, 16, 2, 2, 24)(tokens of shape (2, 12))")
    expect(bool(torch.isfinite(base).all()), "the logits contain NaN: a row of the attention mask blocks every "
           "position; torch's attn_mask uses True = NOT allowed, so pass ~causal_mask(T)")
    for item in got["results"]:
        k = item["k"]
        expect_close(item["changed"][:, :k], base[:, :k], f"logits[:, :{k}] after changing tokens[:, {k}:]",
                     "position t sees a later token: mask attention with the causal mask (inverted for torch's "
                     "attn_mask, where True = blocked), and check that causal_mask(T) is False above the diagonal",
                     atol=1e-4)


@test("DecoderOnlyLM", "logits at position t depend on token t (the mask is not too strict)", points=2)
def decoder_sees_current(sub):
    tokens = torch.randint(0, 13, (2, 10), generator=torch.Generator().manual_seed(6))
    got = sub.run(lm_future_probe, LM_ARGS, tokens, [6])
    base, changed = got["base"], got["results"][0]["changed"]
    gap = float((tensor_of(changed, "logits")[:, 6] - tensor_of(base, "logits")[:, 6]).abs().max())
    expect(gap > 1e-4, "changing token 6 left the logits at position 6 unchanged: position t must attend to "
                       "itself (j <= i, diagonal included) and the embedding of token t must reach logits[:, t]")


def lm_gradients(ns, args, tokens):
    """DecoderOnlyLM: which parameters receive a gradient"""
    import torch
    torch.manual_seed(0)
    model = ns["DecoderOnlyLM"](*args).train()
    logits = model(tokens)
    (logits * torch.randn_like(logits)).sum().backward()
    return {"count": len(list(model.parameters())),
            "missing": [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]}


@test("DecoderOnlyLM", "gradients reach every parameter", points=2)
def decoder_gradients(sub):
    tokens = torch.randint(0, 13, (2, 10), generator=torch.Generator().manual_seed(7))
    got = sub.run(lm_gradients, LM_ARGS, tokens)
    expect(got["count"] > 0, "the model has no parameters: register layers as attributes of the nn.Module")
    expect(not got["missing"], f"no gradient reached {', '.join(got['missing'][:5])}: every layer you create "
                               "must be used in forward (and nothing detached)")


def lm_at_max_len(ns, args):
    """DecoderOnlyLM on one sequence of length max_len"""
    import torch
    torch.manual_seed(0)
    model = ns["DecoderOnlyLM"](*args).eval()
    with torch.no_grad():
        return model(torch.randint(0, args[0], (1, args[-1])))


@test("DecoderOnlyLM", "handles a batch of 1 sequence of length max_len")
def decoder_max_len(sub):
    got = sub.run(lm_at_max_len, LM_ARGS)
    expect_shape(got, (1, 24, 13), "DecoderOnlyLM(13, 16, 2, 2, max_len=24) on tokens of shape (1, 24)")
    expect(bool(torch.isfinite(got).all()), "the logits contain NaN or inf")


# ---------------------------------------------------------------------------------------------
# EncoderClassifier

CLS_ARGS = (17, 16, 2, 2, 3)  # vocab_size, d_model, nhead, num_layers, num_classes


def classifier_padding_probe(ns, args, pad_id, tokens, extra):
    """EncoderClassifier on a padded batch, then with extra padding at the end"""
    import torch
    torch.manual_seed(0)
    model = ns["EncoderClassifier"](*args, pad_id=pad_id).eval()
    padded = torch.cat([tokens, torch.full((tokens.shape[0], extra), pad_id, dtype=tokens.dtype)], dim=1)
    changed = tokens.clone()  # the first token of every row replaced by another real token
    first = (tokens[:, 0] + 1) % args[0]
    changed[:, 0] = torch.where(first == pad_id, (first + 1) % args[0], first)
    with torch.no_grad():
        return {"base": model(tokens), "padded": model(padded), "changed": model(changed)}


def padded_tokens(seed, pad_id, vocab=17):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (3, 7), generator=generator)
    tokens[tokens == pad_id] = (pad_id + 1) % vocab
    tokens[0, 4:] = pad_id  # lengths 4, 7 and 2: padding already at the end of two rows
    tokens[2, 2:] = pad_id
    return tokens


POOL_HINT = ("mask padded keys in attention (src_key_padding_mask = tokens == pad_id) and average only over "
             "real tokens when pooling (sum over non-padding positions / their count)")


@test("EncoderClassifier", "is unchanged by extra padding at the end", points=3)
def classifier_padding(sub):
    got = sub.run(classifier_padding_probe, CLS_ARGS, 0, padded_tokens(8, 0), 5)
    base = tensor_of(got["base"], "EncoderClassifier(...)(tokens)")
    expect_shape(base, (3, 3), "EncoderClassifier(17, 16, 2, 2, num_classes=3)(tokens of shape (3, 7))")
    expect(bool(torch.isfinite(base).all()), "the logits contain NaN: does some row attend to no position at all?")
    expect_close(got["padded"], base, "logits after appending 5 padding tokens", POOL_HINT, atol=1e-4)


@test("EncoderClassifier", "honours pad_id (pad_id = 5) and depends on the real tokens")
def classifier_other_pad(sub):
    got = sub.run(classifier_padding_probe, CLS_ARGS, 5, padded_tokens(9, 5), 4)
    expect_close(got["padded"], got["base"], "logits after appending 4 tokens of pad_id = 5",
                 "if the test with pad_id = 0 passes, compare with self.pad_id (the constructor's pad_id), not 0; "
                 "otherwise " + POOL_HINT, atol=1e-4)
    gap = float((tensor_of(got["changed"], "logits") - tensor_of(got["base"], "logits")).abs().max())
    expect(gap > 1e-4, "changing the first token of every sequence left the logits unchanged: the output must "
                       "depend on the real tokens")


def classifier_gradients(ns, args, tokens):
    """EncoderClassifier: which parameters receive a gradient"""
    import torch
    torch.manual_seed(0)
    model = ns["EncoderClassifier"](*args).train()
    logits = model(tokens)
    (logits * torch.randn_like(logits)).sum().backward()
    return {"count": len(list(model.parameters())),
            "missing": [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]}


@test("EncoderClassifier", "gradients reach every parameter")
def classifier_gradients_test(sub):
    got = sub.run(classifier_gradients, CLS_ARGS, padded_tokens(10, 0))
    expect(got["count"] > 0, "the model has no parameters: register layers as attributes of the nn.Module")
    expect(not got["missing"], f"no gradient reached {', '.join(got['missing'][:5])}: every layer you create "
                               "must be used in forward (and nothing detached)")


# ---------------------------------------------------------------------------------------------
# predict_sentiment_transformer: the 85% test


def accuracy(predictions, labels):
    expect(isinstance(predictions, list), f"expected a list of ints, got {type(predictions).__name__}")
    expect_equal(len(predictions), len(labels), "number of predictions", "return one prediction per tweet, in order")
    return sum(int(p == y) for p, y in zip(predictions, labels)) / len(labels)


@test("predict_sentiment_transformer", "at least 85% accuracy on the autograder's held-out tweets", points=6)
def predictor_heldout(sub):
    from autograder.heldout import heldout_path, judge_predictions

    from sentiment140_reference import load_sentiment140  # a shared helper, imported by name as in the handout

    texts, labels = load_sentiment140(heldout_path(SUITE, "sentiment140_heldout.csv"))
    judge_predictions(sub, "predict_sentiment_transformer", texts, labels, metric=accuracy, bar=0.85,
                      higher_is_better=True, label="Transformer sentiment accuracy")
