"""Hidden tests for the attention assignment (only in the Gradescope autograder.zip).

Every expected value is computed here, in the grading process, from torch's built-ins
(F.scaled_dot_product_attention, nn.TransformerEncoderLayer) or a closed form (equation (1),
brute-force search over every hypothesis of a small language model), with seeded inputs.
"""
import math

import torch
import torch.nn.functional as F

from coursekit.testing import (CheckFailed, StudentCodeError, as_tensor, describe, expect, expect_close, expect_equal,
                               expect_shape, test)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pair(got, what: str):
    expect(isinstance(got, (list, tuple)) and len(got) == 2, f"{what} should return a pair (output, weights), got {describe(got)}")
    return got


def close(a, b, atol=1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=atol, rtol=1e-4)


def likely_cause(got, causes: dict, default: str) -> str:
    """The hint whose buggy variant reproduces ``got``; ``default`` when none does."""
    for hint, value in causes.items():
        if close(got, value, atol=1e-4):
            return hint
    return default


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention

SDPA_HINT = "scores are Q K^T / sqrt(d) with d = query.shape[-1] and key.transpose(-2, -1); softmax over the keys (dim=-1)"


def attention_pair(ns, q, k, v, mask):
    """scaled_dot_product_attention"""
    out = ns["scaled_dot_product_attention"](q, k, v, mask)
    return list(out) if isinstance(out, (tuple, list)) else out


def sdpa_causes(q, k, v, mask=None) -> dict:
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1)
    fill = (lambda s: s) if mask is None else (lambda s: s.masked_fill(~mask, float("-inf")))
    inverted = (lambda s: s) if mask is None else (lambda s: s.masked_fill(mask, float("-inf")))
    return {
        "the scores are not divided by sqrt(d)": torch.softmax(fill(scores), -1) @ v,
        "the softmax runs over the queries (dim=-2); it must run over the keys (dim=-1)": torch.softmax(fill(scores / math.sqrt(d)), -2) @ v,
        "the mask is inverted: True means 'may attend', so fill the scores with -inf where the mask is False":
            torch.nan_to_num(torch.softmax(inverted(scores / math.sqrt(d)), -1)) @ v,
    }


@test("scaled_dot_product_attention", "matches F.scaled_dot_product_attention with batch and head dims (2, 3)", points=2)
def sdpa_batch_heads(sub):
    g = seeded(10)
    q, k, v = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g), torch.randn(2, 3, 7, 6, generator=g)
    out, weights = pair(sub.run(attention_pair, q, k, v, None), "scaled_dot_product_attention")
    expected = F.scaled_dot_product_attention(q, k, v)
    expect_close(out, expected, "output for query (2, 3, 5, 8), key (2, 3, 7, 8), value (2, 3, 7, 6)",
                 likely_cause(out, sdpa_causes(q, k, v), SDPA_HINT))
    expect_close(weights, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -1), "weights (2, 3, 5, 7)", SDPA_HINT)


@test("scaled_dot_product_attention", "matches F.scaled_dot_product_attention with boolean masks (True = may attend)", points=2)
def sdpa_masks(sub):
    g = seeded(11)
    q, k, v = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g), torch.randn(2, 3, 7, 6, generator=g)
    shared = torch.rand(5, 7, generator=g) > 0.4
    per_batch = torch.rand(2, 1, 5, 7, generator=g) > 0.5
    for mask, what in ((shared, "a (5, 7) mask broadcast over (2, 3)"), (per_batch, "a (2, 1, 5, 7) mask")):
        mask[..., 0] = True  # every query may attend to at least one key
        out, weights = pair(sub.run(attention_pair, q, k, v, mask), "scaled_dot_product_attention")
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        expect_close(out, expected, f"output with {what}", likely_cause(out, sdpa_causes(q, k, v, mask), SDPA_HINT))
        expect_close(tensor_where(weights, ~mask.expand(2, 3, 5, 7)), torch.zeros(int((~mask.expand(2, 3, 5, 7)).sum())),
                     f"weights where {what} is False", "masked keys must get weight exactly 0 (score -inf before the softmax)")


def tensor_where(value, mask):
    tensor = as_tensor(value, "weights")
    expect(tensor.shape == mask.shape, f"weights: expected shape {tuple(mask.shape)}, got {tuple(tensor.shape)}")
    return tensor[mask]


@test("scaled_dot_product_attention", "works on 2-D inputs with a causal mask, keys longer than queries", points=2)
def sdpa_2d_causal(sub):
    g = seeded(12)
    q, k, v = torch.randn(4, 3, generator=g), torch.randn(6, 3, generator=g), torch.randn(6, 2, generator=g)
    causal = torch.ones(4, 6, dtype=torch.bool).tril()
    out, weights = pair(sub.run(attention_pair, q, k, v, causal), "scaled_dot_product_attention")
    expect_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=causal), "output for 2-D query (4, 3), key (6, 3)",
                 likely_cause(out, sdpa_causes(q, k, v, causal), SDPA_HINT + "; use key.transpose(-2, -1), not key.T, for batches"))
    expect_close(as_tensor(weights, "weights").sum(-1), torch.ones(4), "sums of the rows of the weights", "softmax over dim=-1")


def attention_without_builtins(ns, q, k, v):
    """scaled_dot_product_attention with torch's attention functions disabled"""
    import torch.nn.functional as F

    def refuse(*args, **kwargs):
        raise RuntimeError("this calls torch's built-in attention, which the exercise asks you to write yourself")

    saved = F.scaled_dot_product_attention, F.multi_head_attention_forward
    F.scaled_dot_product_attention = F.multi_head_attention_forward = refuse
    try:
        return list(ns["scaled_dot_product_attention"](q, k, v))
    finally:
        F.scaled_dot_product_attention, F.multi_head_attention_forward = saved


def source_of(sub, name: str) -> str:
    """The submission's source of ``name``, or '' where it cannot be read (code typed in a console)."""
    try:
        return sub.source_of(name)
    except Exception:  # inspect fails in odd ways on code without a file
        return ""


BUILTIN_ATTENTION = {"scaled_dot_product_attention", "multi_head_attention_forward", "MultiheadAttention",
                     "_scaled_dot_product_attention_math", "_scaled_dot_product_flash_attention"}


def builtins_called(source: str) -> list[str]:
    """torch attention functions that ``source`` reaches as attributes (F.scaled_dot_product_attention,
    nn.MultiheadAttention...); docstrings, comments and the student's own names do not count."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    return sorted({node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in BUILTIN_ATTENTION})


@test("scaled_dot_product_attention", "computes attention itself, without torch's built-in")
def sdpa_no_builtin(sub):
    used = builtins_called(source_of(sub, "scaled_dot_product_attention"))
    if used:
        raise CheckFailed(f"scaled_dot_product_attention calls torch's {used[0]}: compute softmax(Q K^T / sqrt(d)) V yourself")
    g = seeded(13)
    q, k, v = torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 3, generator=g)
    out, _ = pair(sub.run(attention_without_builtins, q, k, v), "scaled_dot_product_attention")
    expect_close(out, F.scaled_dot_product_attention(q, k, v), "output", SDPA_HINT)


# ---------------------------------------------------------------------------------------------
# cross_attention_images


def cross_attention_of(ns, targets, sources):
    """cross_attention_images"""
    out = ns["cross_attention_images"](targets, sources)
    return list(out) if isinstance(out, (tuple, list)) else out


def digit_like(generator) -> torch.Tensor:
    """Ten sparse images in [0, 1], like MNIST digits: a few bright strokes on a dark background."""
    images = torch.zeros(10, 784)
    for i in range(10):
        ink = torch.rand(784, generator=generator) < 0.08 + 0.02 * i
        images[i, ink] = torch.rand(int(ink.sum()), generator=generator) * 0.5 + 0.5
    return images


def score_variants(targets, sources) -> dict:
    """The weights of the two dot-product variants both homework sets allow."""
    scores = targets @ sources.T
    return {"scaled by 1/sqrt(784)": torch.softmax(scores / 28.0, dim=1), "unscaled": torch.softmax(scores, dim=1)}


def weight_mistakes(targets, sources) -> dict:
    """What common mistakes give, for either variant, with the hint for each."""
    causes = {}
    for scale in (28.0, 1.0):
        scores = targets @ sources.T / scale
        if len(targets) > 1:
            causes["the rows must be the targets (queries) and the columns the sources: softmax(targets sources^T) "
                   "over dim=1"] = torch.softmax(scores.T, 1)
            causes["the softmax must run over the sources (dim=1)"] = torch.softmax(scores, 0)
        causes["the scores are divided by 784; the scaled variant divides by sqrt(784) = 28 (or leave them unscaled)"] = \
            torch.softmax(targets @ sources.T / 784.0, 1)
    return causes


def matching_variant(weights, targets, sources):
    """(name, expected weights) of the variant the student's weights follow, or None."""
    for name, expected in score_variants(targets, sources).items():
        if close(weights, expected, atol=1e-5):
            return name, expected
    return None


def check_cross_attention(got, targets, sources, what):
    outputs, weights = pair(got, "cross_attention_images")
    T = len(targets)
    expect_shape(weights, (T, 10), f"weights for {what}")
    expect_shape(outputs, (T, 784), f"outputs for {what}")
    found = matching_variant(weights, targets, sources)
    if found is None:
        hint = likely_cause(weights, weight_mistakes(targets, sources),
                            "weights = softmax(targets sources^T / sqrt(784)) or softmax(targets sources^T), over the "
                            "sources: the queries are the targets, the keys the sources")
        expect_close(weights, score_variants(targets, sources)["scaled by 1/sqrt(784)"],
                     f"weights for {what} (neither the scaled nor the unscaled dot-product variant)", hint)
        raise CheckFailed(f"weights for {what}: neither the scaled nor the unscaled dot-product variant. {hint}")
    name, expected = found
    output_causes = {"the values are the sources, not the targets": expected @ targets} if T == len(sources) else {}
    expect_close(outputs, expected @ sources, f"outputs for {what} (your weights follow the {name} variant)",
                 likely_cause(outputs, output_causes, "outputs = weights @ sources, with the same weights"), atol=1e-4)
    return name


@test("cross_attention_images", "weights are softmax(targets sourcesᵀ) over the sources, scaled by 1/√784 or not "
                                "(ten targets, HW4-2026 P2(a))", points=2)
def cross_attention_weights(sub):
    g = seeded(20)
    targets, sources = digit_like(g), digit_like(g)
    check_cross_attention(sub.run(cross_attention_of, targets, sources), targets, sources, "10 targets")


@test("cross_attention_images", "outputs are the attention-weighted sums of the source images", points=2)
def cross_attention_outputs(sub):
    g = seeded(21)
    targets, sources = digit_like(g) * 0.3, digit_like(g) * 0.3  # fainter digits: soft weights in both variants
    check_cross_attention(sub.run(cross_attention_of, targets, sources), targets, sources, "10 faint targets")


@test("cross_attention_images", "one target of class 5 against the ten sources (HW5-2022 P2(a)): outputs (1, 784), "
                                "weights (1, 10)", points=2)
def cross_attention_single_five(sub):
    g = seeded(22)
    sources, five = digit_like(g), digit_like(g)[5:6]
    check_cross_attention(sub.run(cross_attention_of, five, sources), five, sources,
                          "one target (1, 784); keep the batch dimension, do not squeeze it")


# ---------------------------------------------------------------------------------------------
# self_attention


def self_attention_of(ns, X, W_Q, W_K, W_V):
    """self_attention"""
    return ns["self_attention"](X, W_Q, W_K, W_V)


def equation_1(X, W_Q, W_K, W_V):
    return torch.softmax(X @ W_Q @ W_K.T @ X.T, dim=-1) @ X @ W_V


@test("self_attention", "matches softmax(X W_Q W_Kᵀ Xᵀ) X W_V for d = 5, d_k = 3, d_v = 4 and other shapes", points=2)
def self_attention_closed_form(sub):
    g = seeded(30)
    for n, d, dk, dv in ((7, 5, 3, 4), (1, 5, 3, 4), (4, 2, 6, 1)):
        X = torch.randn(n, d, generator=g)
        W_Q, W_K, W_V = torch.randn(d, dk, generator=g) * 0.7, torch.randn(d, dk, generator=g) * 0.7, torch.randn(d, dv, generator=g)
        got = sub.run(self_attention_of, X, W_Q, W_K, W_V)
        scores = X @ W_Q @ W_K.T @ X.T
        causes = {"equation (1) has no 1/sqrt(d_k) factor": torch.softmax(scores / math.sqrt(dk), -1) @ X @ W_V,
                  "the softmax runs over each row (dim=-1)": torch.softmax(scores, 0) @ X @ W_V}
        expect_close(got, equation_1(X, W_Q, W_K, W_V), f"self_attention on X of shape {(n, d)}",
                     likely_cause(got, causes, "Q = X W_Q, K = X W_K, V = X W_V; softmax(Q K^T) V"), atol=1e-4)


def permuted_self_attention(ns, X, W_Q, W_K, W_V, permutations):
    """self_attention on permuted rows"""
    f = ns["self_attention"]
    return [f(X, W_Q, W_K, W_V)] + [f(X[p], W_Q, W_K, W_V) for p in permutations]


@test("self_attention", "is equivariant to random permutations of the rows of X")
def self_attention_equivariant(sub):
    g = seeded(31)
    X, W_Q, W_K, W_V = torch.randn(8, 4, generator=g), torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    permutations = [torch.randperm(8, generator=g) for _ in range(5)]
    got = sub.run(permuted_self_attention, X, W_Q, W_K, W_V, permutations)
    expect(isinstance(got, list) and len(got) == 6, "self_attention did not return tensors")
    base = as_tensor(got[0], "self_attention(X)")
    for p, permuted in zip(permutations, got[1:]):
        expect_close(permuted, base[p], f"self_attention(X[{p.tolist()}]) vs self_attention(X)[same permutation]",
                     "no position may matter: no masks, positional terms or row-index-dependent steps", atol=1e-5)


# ---------------------------------------------------------------------------------------------
# TransformerEncoderLayer

ENCODER_HINT = ("check, in order: 1/sqrt(d_head) with d_head = d_model / nhead; heads split as (N, T, nhead, d_head) "
                "then transposed to (N, nhead, T, d_head); softmax over the keys; dropout only in training")


def reference_layer(activation="relu", norm_first=False, seed=0, d_model=16, nhead=4, dim_feedforward=32, dropout=0.1):
    """torch's layer, every parameter (LayerNorm and biases included) randomised, in eval mode."""
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=dropout, activation=activation,
                                             norm_first=norm_first, batch_first=True)
    g = seeded(seed)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1.0 + 0.2 * noise if name.startswith("norm") and name.endswith("weight") else 0.3 * noise)
    return layer.eval()


def config_of(layer, activation, norm_first) -> dict:
    return {"d_model": layer.self_attn.embed_dim, "nhead": layer.self_attn.num_heads, "dim_feedforward": layer.linear1.out_features,
            "dropout": layer.dropout.p, "activation": activation, "norm_first": norm_first}


def encoder_outputs(ns, config, state_dict, src, src_mask, padding, train=False):
    """TransformerEncoderLayer"""
    layer = ns["TransformerEncoderLayer"](config["d_model"], config["nhead"], dim_feedforward=config["dim_feedforward"],
                                          dropout=config["dropout"], activation=config["activation"],
                                          norm_first=config["norm_first"])
    layer.load_state_dict(state_dict)
    layer.train(train)
    return [layer(src, src_mask=src_mask, src_key_padding_mask=padding) for _ in range(2)]


def as_attention_mask(padding: torch.Tensor, length: int, nhead: int) -> torch.Tensor:
    """A key padding mask (N, S) in the equivalent form torch's attention also accepts, a boolean
    attn_mask (N * nhead, L, S). The reference is the same computation, but this path does not
    import torch.fx's symbolic shapes (about 1.5 s) the first time a key_padding_mask is checked;
    tests/test_attention.py checks that both forms agree."""
    return padding.repeat_interleave(nhead, dim=0)[:, None, :].expand(-1, length, -1)


def compare_layer(sub, activation, norm_first, seed, src_mask=None, padding=None, what="", hint=ENCODER_HINT):
    reference = reference_layer(activation, norm_first, seed)
    src = torch.randn(3, 6, 16, generator=seeded(seed + 100))
    got = sub.run(encoder_outputs, config_of(reference, activation, norm_first), reference.state_dict(), src, src_mask, padding)
    expect(isinstance(got, list) and len(got) == 2, f"the layer returned {describe(got)}")
    first, second = (as_tensor(t, "output") for t in got)
    expect(torch.equal(first, second), "two calls in eval mode gave different outputs: dropout is still active in eval mode "
                                       "(use nn.Dropout modules, or F.dropout(..., training=self.training))")
    expected = reference(src, src_mask=src_mask if padding is None else as_attention_mask(padding, 6, 4))
    label = f"output ({activation}, norm_first={norm_first}{what})"
    expect_close(got[0], expected.detach(), label, hint, atol=1e-4, rtol=1e-4)


@test("TransformerEncoderLayer", "loads torch's state_dict and matches it in eval mode (post-norm, relu)", points=2)
def encoder_post_norm(sub):
    compare_layer(sub, "relu", False, seed=40)


@test("TransformerEncoderLayer", "matches torch with norm_first=True (pre-norm)", points=2)
def encoder_pre_norm(sub):
    compare_layer(sub, "relu", True, seed=41, hint="with norm_first=True: x + SA(LN1(x)), then x + FF(LN2(x)), "
                                                    "with no LayerNorm after the residual sums; " + ENCODER_HINT)


@test("TransformerEncoderLayer", "matches torch with activation='gelu' (both norm_first settings)", points=2)
def encoder_gelu(sub):
    for norm_first in (False, True):
        compare_layer(sub, "gelu", norm_first, seed=42, hint="use the activation the constructor was given (F.gelu for 'gelu')")


@test("TransformerEncoderLayer", "matches torch with a src_key_padding_mask (True = padding), both norm_first settings", points=2)
def encoder_padding(sub):
    padding = torch.arange(6) >= torch.tensor([[6], [4], [2]])
    for norm_first in (False, True):
        compare_layer(sub, "relu", norm_first, seed=43, padding=padding, what=", rows padded to lengths 6, 4, 2",
                      hint="src_key_padding_mask is True at padding: no query may attend to those keys (score -inf); "
                           "it is the opposite of part 1's convention, so invert it before scaled_dot_product_attention")


@test("TransformerEncoderLayer", "matches torch with a causal src_mask, boolean (True = masked) and float (-inf)", points=2)
def encoder_src_mask(sub):
    boolean = torch.ones(6, 6, dtype=torch.bool).triu(1)
    additive = torch.zeros(6, 6).masked_fill(boolean, float("-inf"))
    compare_layer(sub, "relu", False, seed=44, src_mask=boolean, what=", boolean causal src_mask",
                  hint="a boolean src_mask is True where attention is NOT allowed (torch's convention for this layer)")
    compare_layer(sub, "relu", False, seed=44, src_mask=additive, what=", float causal src_mask",
                  hint="a float src_mask is added to the scores before the softmax")


def encoder_gradients(ns, config, state_dict, src):
    """TransformerEncoderLayer backward"""
    layer = ns["TransformerEncoderLayer"](config["d_model"], config["nhead"], dim_feedforward=config["dim_feedforward"],
                                          dropout=config["dropout"], activation=config["activation"],
                                          norm_first=config["norm_first"])
    layer.load_state_dict(state_dict)
    layer.eval()
    src = src.clone().requires_grad_(True)
    (layer(src) ** 2).sum().backward()
    grads = {name: p.grad for name, p in layer.named_parameters()}
    return {"src": src.grad, "in_proj_weight": grads.get("self_attn.in_proj_weight"), "linear1.weight": grads.get("linear1.weight")}


@test("TransformerEncoderLayer", "gradients with respect to the input and the weights match torch's", points=2)
def encoder_backward(sub):
    reference = reference_layer("gelu", True, seed=45)
    src = torch.randn(2, 5, 16, generator=seeded(145))
    got = sub.run(encoder_gradients, config_of(reference, "gelu", True), reference.state_dict(), src)
    src_ref = src.clone().requires_grad_(True)
    (reference(src_ref) ** 2).sum().backward()
    hint = "gradients flow only through differentiable torch operations; avoid .detach(), .item() or in-place edits"
    expect_close(got["src"], src_ref.grad, "gradient with respect to src", hint, atol=1e-4, rtol=1e-4)
    expect_close(got["in_proj_weight"], reference.self_attn.in_proj_weight.grad, "gradient of self_attn.in_proj_weight", hint, atol=1e-4, rtol=1e-4)
    expect_close(got["linear1.weight"], reference.linear1.weight.grad, "gradient of linear1.weight", hint, atol=1e-4, rtol=1e-4)


@test("TransformerEncoderLayer", "applies dropout in training mode")
def encoder_dropout_in_training(sub):
    reference = reference_layer("relu", False, seed=46, dropout=0.5)
    src = torch.randn(3, 6, 16, generator=seeded(146))
    got = sub.run(encoder_outputs, config_of(reference, "relu", False), reference.state_dict(), src, None, None, True)
    expect(isinstance(got, list) and len(got) == 2, f"the layer returned {describe(got)}")
    first, second = (as_tensor(t, "output") for t in got)
    eval_output = reference(src)
    expect(not torch.equal(first, second) and not torch.allclose(first.float(), eval_output, atol=1e-4),
           "with dropout=0.5 in training mode two calls gave the same output: apply the dropout modules "
           "(after the activation, and on each block's output before the residual sum)")


def encoder_with_builtins_disabled(ns, config, state_dict, src):
    """TransformerEncoderLayer with torch's attention disabled"""
    import torch
    import torch.nn.functional as F

    def refuse(*args, **kwargs):
        raise RuntimeError("this calls torch's built-in attention, which the exercise asks you to write yourself")

    layer = ns["TransformerEncoderLayer"](config["d_model"], config["nhead"], dim_feedforward=config["dim_feedforward"],
                                          dropout=config["dropout"], activation=config["activation"],
                                          norm_first=config["norm_first"])
    builtin = [type(m).__name__ for m in layer.modules()
               if isinstance(m, (torch.nn.MultiheadAttention, torch.nn.TransformerEncoderLayer, torch.nn.TransformerEncoder))]
    if builtin:
        return {"builtin": builtin[0]}
    layer.load_state_dict(state_dict)
    layer.eval()
    saved = F.scaled_dot_product_attention, F.multi_head_attention_forward
    F.scaled_dot_product_attention = F.multi_head_attention_forward = refuse
    try:
        return {"output": layer(src)}
    finally:
        F.scaled_dot_product_attention, F.multi_head_attention_forward = saved


@test("TransformerEncoderLayer", "computes attention itself (no nn.MultiheadAttention or F.scaled_dot_product_attention)", points=2)
def encoder_no_builtin(sub):
    reference = reference_layer("relu", False, seed=47)
    src = torch.randn(2, 4, 16, generator=seeded(147))
    got = sub.run(encoder_with_builtins_disabled, config_of(reference, "relu", False), reference.state_dict(), src)
    expect(isinstance(got, dict), f"the layer returned {describe(got)}")
    expect("builtin" not in got, f"the layer contains a torch.nn.{got.get('builtin')}: build the attention yourself "
                                 "(your scaled_dot_product_attention is allowed)")
    expect_close(got.get("output"), reference(src).detach(), "output", ENCODER_HINT, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# load_pretrained_embeddings


def embeddings_from_text(ns, text, vocab):
    """load_pretrained_embeddings on a GloVe-format file"""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "glove.test.txt")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return ns["load_pretrained_embeddings"](path, vocab)


def glove_file(words, dim, seed):
    """GloVe text and the exact vectors it holds (as written with 6 decimals)."""
    g = seeded(seed)
    vectors = {w: [float(f"{v:.6f}") for v in (torch.randn(dim, generator=g) * 0.5).tolist()] for w in words}
    text = "".join(w + " " + " ".join(f"{v:.6f}" for v in vec) + "\n" for w, vec in vectors.items())
    return text, vectors


FILE_WORDS = ["the", ",", ".", "of", "cat", "naïve", "don't", "u.s.", "sat", "mat", "-", "42"]


@test("load_pretrained_embeddings", "copies every file vector into the row of its vocabulary word (dim 7)", points=3)
def embeddings_rows(sub):
    text, vectors = glove_file(FILE_WORDS, 7, seed=50)
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", "mat", "cat", "naïve", "42", "the", "zyzzyva", "u.s.", "don't", "."]
    got = sub.run(embeddings_from_text, text, vocab)
    expect_shape(got, (len(vocab), 7), f"load_pretrained_embeddings(path, vocab of {len(vocab)} words)")
    expect(got.is_floating_point(), f"expected a float tensor, got dtype {got.dtype}")
    rows = [i for i, w in enumerate(vocab) if w in vectors]
    expected = torch.tensor([vectors[vocab[i]] for i in rows])
    expect_close(got[rows], expected, "rows of the words found in the file",
                 "row i holds the vector of vocab[i] (not the i-th line of the file); split each line on spaces, the "
                 "word first, then the numbers", atol=1e-6)


@test("load_pretrained_embeddings", "initialises the rows of words missing from the file with finite values", points=2)
def embeddings_missing(sub):
    text, _ = glove_file(FILE_WORDS, 7, seed=51)
    vocab = ["<pad>", "<bos>", "cat", "zyzzyva", "quixotic", "of", "platypus"]
    got = sub.run(embeddings_from_text, text, vocab)
    expect_shape(got, (len(vocab), 7), "load_pretrained_embeddings(path, vocab)")
    missing = got[[0, 1, 3, 4, 6]]
    expect(bool(torch.isfinite(missing).all()) and float(missing.abs().max()) < 100,
           "rows of words that are not in the file hold NaN, inf or huge values: initialise them "
           "(zeros or small random values), never with torch.empty")


@test("load_pretrained_embeddings", "reads the dimension from the file (50-dimensional vectors, 300 words)", points=2)
def embeddings_dim_50(sub):
    words = [f"w{i}" for i in range(300)]
    text, vectors = glove_file(words, 50, seed=52)
    vocab = ["<pad>"] + words[::-7]
    got = sub.run(embeddings_from_text, text, vocab)
    expect_shape(got, (len(vocab), 50), "load_pretrained_embeddings on a 50-dimensional file")
    expect_close(got[1:], torch.tensor([vectors[w] for w in vocab[1:]]), "rows of the vocabulary words",
                 "take the dimension from the file: the number of fields on a line minus one", atol=1e-6)


@test("load_pretrained_embeddings", "skips a word2vec/fastText header line \"count dim\" (12 words, dim 7)")
def embeddings_header(sub):
    text, vectors = glove_file(FILE_WORDS, 7, seed=53)
    vocab = ["<pad>", "cat", "the", "zyzzyva", "42"]
    try:
        got = sub.run(embeddings_from_text, f"{len(FILE_WORDS)} 7\n" + text, vocab)
        expect_shape(got, (len(vocab), 7), "load_pretrained_embeddings on a file that starts with the line '12 7'")
        expect_close(got[[1, 2, 4]], torch.tensor([vectors[w] for w in ("cat", "the", "42")]),
                     "rows of the words found in a file with a header", "row i holds the vector of vocab[i]", atol=1e-6)
    except (CheckFailed, StudentCodeError) as failure:
        raise CheckFailed(f"{failure}. The file starts with a header '12 7' (word count, dimension), as word2vec and "
                          "fastText files do: skip a first line of two fields before reading vectors") from None


# ---------------------------------------------------------------------------------------------
# Seq2SeqTransformer

SEQ2SEQ_CONFIG = dict(src_vocab_size=11, tgt_vocab_size=13, d_model=16, nhead=2, num_encoder_layers=1,
                      num_decoder_layers=1, dim_feedforward=32, dropout=0.1)


def seq2seq_logits(ns, config, pairs):
    """Seq2SeqTransformer in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["Seq2SeqTransformer"](**config).eval()
    return [model(src, tgt) for src, tgt in pairs]


def sources_and_targets(seed):
    g = seeded(seed)
    src = torch.randint(4, 11, (3, 7), generator=g)
    src[:, 0] = 1
    for row, length in enumerate((7, 5, 3)):
        src[row, length - 1] = 2
        src[row, length:] = 0  # PAD_ID
    tgt = torch.randint(4, 13, (3, 6), generator=g)
    tgt[:, 0] = 1
    return src, tgt


@test("Seq2SeqTransformer", "returns logits (N, T, tgt_vocab_size) for src (3, 7) and tgt (3, 6)")
def seq2seq_shape(sub):
    src, tgt = sources_and_targets(60)
    got = sub.run(seq2seq_logits, SEQ2SEQ_CONFIG, [(src, tgt)])
    expect(isinstance(got, list) and len(got) == 1, f"forward returned {describe(got)}")
    expect_shape(got[0], (3, 6, 13), "logits")


@test("Seq2SeqTransformer", "is causal: changing tgt[:, k:] leaves logits[:, :k] unchanged", points=2)
def seq2seq_causal(sub):
    src, tgt = sources_and_targets(61)
    g = seeded(161)
    pairs = [(src, tgt)]
    for k in range(1, 6):
        changed = tgt.clone()
        changed[:, k:] = torch.randint(4, 13, (3, 6 - k), generator=g)
        pairs.append((src, changed))
    got = sub.run(seq2seq_logits, SEQ2SEQ_CONFIG, pairs)
    expect(isinstance(got, list) and len(got) == 6, f"forward returned {describe(got)}")
    base = as_tensor(got[0], "logits")
    for k, logits in enumerate(got[1:], start=1):
        expect_close(as_tensor(logits, "logits")[:, :k], base[:, :k], f"logits[:, :{k}] after changing tgt[:, {k}:]",
                     "position t must not see later target tokens: pass a causal tgt_mask (True above the diagonal "
                     "for a boolean mask, e.g. nn.Transformer.generate_square_subsequent_mask(T))", atol=1e-5)


@test("Seq2SeqTransformer", "is blind to source padding (PAD_ID = 0): extra or removed padding changes no logit", points=2)
def seq2seq_padding(sub):
    src, tgt = sources_and_targets(62)
    more_padding = torch.cat([src, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    pairs = [(src, tgt), (more_padding, tgt), (src[2:, :3], tgt[2:])]  # row 2 alone, without its padding
    got = sub.run(seq2seq_logits, SEQ2SEQ_CONFIG, pairs)
    expect(isinstance(got, list) and len(got) == 3, f"forward returned {describe(got)}")
    hint = ("mask the source padding (src == 0) in the encoder (src_key_padding_mask) and in the decoder's "
            "cross-attention (memory_key_padding_mask)")
    expect_close(got[1], as_tensor(got[0], "logits"), "logits with 4 more padding columns in src", hint, atol=1e-4)
    expect_close(got[2], as_tensor(got[0], "logits")[2:], "logits of row 2 run alone without its padding", hint, atol=1e-4)


@test("Seq2SeqTransformer", "depends on the source tokens", points=2)
def seq2seq_uses_source(sub):
    src, tgt = sources_and_targets(63)
    changed = src.clone()
    changed[:, 1] = torch.where(src[:, 1] == 4, 5, 4)
    got = sub.run(seq2seq_logits, SEQ2SEQ_CONFIG, [(src, tgt), (changed, tgt)])
    expect(isinstance(got, list) and len(got) == 2, f"forward returned {describe(got)}")
    difference = float((as_tensor(got[0], "logits") - as_tensor(got[1], "logits")).abs().max())
    expect(difference > 1e-4, "changing a source word changed no logit: the decoder must attend to the encoder's output (memory)")


# ---------------------------------------------------------------------------------------------
# beam_search: small random language models over {0: <bos>, 1, 2, 3: <eos>}

VOCAB, BOS, EOS = 4, 0, 3


def key(prefix) -> str:
    return ",".join(str(t) for t in prefix)


def random_lm(seed: int, max_len: int, eos_bias: float = 0.0) -> dict:
    """log p(next | prefix) for every open prefix ([bos] + up to max_len - 1 non-eos tokens)."""
    prefixes, frontier = [], [[BOS]]
    while frontier:
        prefix = frontier.pop(0)
        prefixes.append(prefix)
        if len(prefix) < max_len:
            frontier += [prefix + [t] for t in range(VOCAB) if t != EOS]
    logits = torch.randn(len(prefixes), VOCAB, generator=seeded(seed), dtype=torch.float64) * 2.0
    logits[:, EOS] += eos_bias
    rows = torch.log_softmax(logits, dim=1).tolist()
    return {key(prefix): row for prefix, row in zip(prefixes, rows)}


def brute_force(table: dict, max_len: int):
    """The best completed hypothesis, and the step at which the stopping rule fires for an exhaustive beam."""
    best, best_score = None, -math.inf
    open_by_step, done_by_step = {}, {}
    for prefix_key, logp in table.items():
        prefix = [int(t) for t in prefix_key.split(",")]
        score = sum(table[key(prefix[:i])][prefix[i]] for i in range(1, len(prefix)))
        step = len(prefix)  # candidates made from this prefix appear at this step
        if score + logp[EOS] > best_score:
            best, best_score = prefix + [EOS], score + logp[EOS]
        done_by_step[step] = max(done_by_step.get(step, -math.inf), score + logp[EOS])
        open_by_step[step] = max([open_by_step.get(step, -math.inf)] + [score + logp[t] for t in range(VOCAB) if t != EOS])
    stop, best_done = max_len, -math.inf
    for step in range(1, max_len + 1):
        best_done = max(best_done, done_by_step[step])
        if best_done >= open_by_step[step]:
            stop = step
            break
    calls = sum((VOCAB - 1) ** s for s in range(stop))  # one call per open prefix before the stop
    return best, best_score, calls


def beam_runs(ns, tables, beam_size, max_len):
    """beam_search on table language models"""
    import torch

    results = []
    for table in tables:
        calls = [0]

        def step_fn(prefix, table=table, calls=calls):
            calls[0] += 1
            row = table.get(",".join(str(int(t)) for t in prefix))
            return torch.tensor(row if row is not None else [-1.3862943611198906] * 4)

        tokens, score = ns["beam_search"](step_fn, 0, 3, beam_size, max_len)
        results.append({"tokens": [int(t) for t in tokens], "score": float(score), "calls": calls[0]})
    return results


def run_beams(sub, tables, beam_size, max_len):
    got = sub.run(beam_runs, tables, beam_size, max_len)
    expect(isinstance(got, list) and len(got) == len(tables), f"beam_search runs returned {describe(got)}")
    return got


WIDE = 1000  # wider than every step's number of candidates: the beam keeps everything


@test("beam_search", "finds the brute-force best hypothesis on 20 random LMs when the beam keeps everything", points=3)
def beam_matches_brute_force(sub):
    tables = [random_lm(seed, 4) for seed in range(20)]
    for lm, (table, got) in enumerate(zip(tables, run_beams(sub, tables, WIDE, 4))):
        best, best_score, _ = brute_force(table, 4)
        expect_equal(got["tokens"], best, f"best hypothesis for random LM {lm}",
                     "return the best *completed* hypothesis (from bos to eos), and keep searching after the first "
                     "one completes until it scores at least the best open hypothesis")
        expect_close(got["score"], best_score, f"score for random LM {lm}", "sum of the log-probabilities", atol=1e-4)


@test("beam_search", "calls step_fn no more often than the stopping rule allows", points=2)
def beam_stops_early(sub):
    tables = [random_lm(seed, 5, eos_bias=1.0) for seed in range(100, 110)]
    for lm, (table, got) in enumerate(zip(tables, run_beams(sub, tables, WIDE, 5))):
        _, _, allowed = brute_force(table, 5)
        expect(got["calls"] <= allowed,
               f"random LM {lm}: step_fn was called {got['calls']} times but the stopping rule allows {allowed}: "
               "after each step, stop as soon as the best completed score is >= the best open score; call step_fn "
               "only once per open hypothesis and step")


def greedy(table: dict, max_len: int):
    tokens, score = [BOS], 0.0
    while len(tokens) <= max_len:
        logp = table[key(tokens)]
        token = max(range(VOCAB), key=lambda t: logp[t])
        tokens, score = tokens + [token], score + logp[token]
        if token == EOS:
            return tokens, score
    return None


@test("beam_search", "with beam_size=1 returns the greedy hypothesis")
def beam_greedy(sub):
    cases = [(s, greedy(random_lm(s, 5, 0.5), 5)) for s in range(200, 216)]
    cases = [(s, g) for s, g in cases if g is not None][:8]
    got = run_beams(sub, [random_lm(s, 5, 0.5) for s, _ in cases], 1, 5)
    for (seed, (tokens, score)), result in zip(cases, got):
        expect_equal(result["tokens"], tokens, f"beam_size=1 hypothesis for random LM {seed}",
                     "with one beam, the best candidate of each step is the most likely next token")
        expect_close(result["score"], score, f"beam_size=1 score for random LM {seed}", atol=1e-4)


@test("beam_search", "with beam_size=2 returns a completed hypothesis and its log-probability")
def beam_narrow(sub):
    tables = [random_lm(seed, 5, eos_bias=1.5) for seed in range(300, 310)]
    for lm, (table, got) in enumerate(zip(tables, run_beams(sub, tables, 2, 5))):
        tokens = got["tokens"]
        expect(len(tokens) >= 2 and tokens[0] == BOS and tokens[-1] == EOS and EOS not in tokens[:-1] and len(tokens) <= 6,
               f"random LM {lm}: got tokens {tokens}; return a hypothesis that starts with bos, ends with its first "
               "eos, and has at most max_len tokens after bos")
        true_score = sum(table[key(tokens[:i])][tokens[i]] for i in range(1, len(tokens)))
        expect_close(got["score"], true_score, f"score of {tokens} for random LM {lm}",
                     "the score is the sum of the log-probabilities of every token after bos", atol=1e-4)
        expect(got["calls"] <= 2 * 5, f"random LM {lm}: {got['calls']} calls to step_fn for beam_size=2 and max_len=5; "
                                      "call it once per open hypothesis and step")
