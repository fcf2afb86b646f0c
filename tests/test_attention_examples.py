"""The sample submissions in examples/attention/ grade as documented, through the real `grade` command.

full_credit.ipynb: every answer written differently from the master (einsum attention, a bmm
encoder layer, learned positions with key padding masks, an iterative beam search...).
partial_credit.ipynb: realistic bugs: attention without 1/sqrt(d), norm_first ignored, memory padding
not masked, a beam search that stops at the first completed hypothesis; self_attention and
load_pretrained_embeddings are right, and so is cross_attention_images, which calls the unscaled
attention: both homework sets allow unscaled dot-product scores between the digits.
"""
from collections import defaultdict

import pytest

from conftest import KIT_ROOT, grade

EXAMPLES = KIT_ROOT / "examples" / "attention"


def per_name(results: dict) -> dict:
    earned = defaultdict(lambda: [0.0, 0.0])
    for test in results["tests"]:
        name = test["name"].split(":")[0]
        earned[name][0] += test["score"]
        earned[name][1] += test["max_score"]
    return earned


def test_full_credit_example(tmp_path):
    results = grade("attention", EXAMPLES / "full_credit.ipynb", tmp_path / "results.json")
    total = sum(t["max_score"] for t in results["tests"])
    # the tests of a name share its points, so the sum of max_score is 31 up to rounding
    assert results["score"] == pytest.approx(total) and total == pytest.approx(31), \
        [t for t in results["tests"] if t["score"] < t["max_score"]]


def test_partial_credit_example(tmp_path):
    results = grade("attention", EXAMPLES / "partial_credit.ipynb", tmp_path / "results.json")
    earned = per_name(results)
    for right in ("self_attention", "load_pretrained_embeddings", "cross_attention_images"):
        assert earned[right][0] == earned[right][1], right
    for wrong in ("scaled_dot_product_attention", "TransformerEncoderLayer", "Seq2SeqTransformer", "beam_search"):
        assert earned[wrong][0] < earned[wrong][1], wrong
    assert results["score"] == pytest.approx(21.5)
