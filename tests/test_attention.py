"""The attention tests catch realistic mistakes and accept other correct answers."""
import pytest
import torch
from attention_variants import ALTERNATIVES, BUGS
from variants import coverage_gaps, messages, scores

SLUG = "attention"


def test_the_master_earns_every_point():
    got = scores(SLUG)
    assert all(earned == possible for earned, possible in got.values()), got


def test_every_graded_name_has_three_bugs_and_two_alternatives():
    assert not coverage_gaps(SLUG, BUGS, ALTERNATIVES), coverage_gaps(SLUG, BUGS, ALTERNATIVES)


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = scores(SLUG, BUGS[name][bug], only=name)[name]
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name,alternative", [(n, a) for n, alts in ALTERNATIVES.items() for a in alts])
def test_an_alternative_correct_answer_keeps_full_marks(name, alternative):
    """cross_attention_images: HW4-2026 P2(a) asks for "the standard dot-product attention" and
    HW5-2022 P2(a) allows any variant, so the unscaled product is among the alternatives."""
    source = ALTERNATIVES[name][alternative]
    got, possible = scores(SLUG, source, only=name)[name]
    assert got == possible, messages(SLUG, source, name)


def test_a_cross_attention_that_squeezes_the_single_target_says_so():
    found = messages(SLUG, BUGS["cross_attention_images"]["a single target squeezed away"], "cross_attention_images")
    assert any("do not squeeze" in m for m in found), found


def test_failure_messages_name_the_likely_cause():
    found = messages(SLUG, BUGS["scaled_dot_product_attention"]["missing 1/sqrt(d)"], "scaled_dot_product_attention")
    assert any("sqrt(d)" in m for m in found), found
    found = messages(SLUG, BUGS["scaled_dot_product_attention"]["inverted mask"], "scaled_dot_product_attention")
    assert any("inverted" in m for m in found), found
    found = messages(SLUG, BUGS["TransformerEncoderLayer"]["dropout active in eval"], "TransformerEncoderLayer")
    assert any("dropout is still active in eval mode" in m for m in found), found
    found = messages(SLUG, BUGS["beam_search"]["stops at the first completed hypothesis"], "beam_search")
    assert any("keep searching after the first" in m for m in found), found


def test_the_hidden_tests_padding_mask_form_is_torchs_key_padding_mask():
    """hidden_tests feeds torch's layer the (N * nhead, T, T) form of the padding mask; it is the same."""
    import importlib.util

    from autograder.suite import SUITES_DIR, load_test_module

    hidden = load_test_module(SUITES_DIR / SLUG / "hidden_tests.py", SLUG)
    padding = torch.arange(6) >= torch.tensor([[6], [4], [2]])
    for norm_first in (False, True):
        layer = hidden.reference_layer("relu", norm_first, seed=1)
        src = torch.randn(3, 6, 16)
        expected = layer(src, src_key_padding_mask=padding)
        torch.testing.assert_close(layer(src, src_mask=hidden.as_attention_mask(padding, 6, 4)), expected)
    assert importlib.util.find_spec("torch") is not None


def test_brute_force_agrees_with_an_exhaustive_enumeration():
    """The grader's brute force and stopping bound, checked on a hand-made LM."""
    import math

    from autograder.suite import SUITES_DIR, load_test_module

    hidden = load_test_module(SUITES_DIR / SLUG / "hidden_tests.py", SLUG)
    log = lambda ps: [math.log(p) for p in ps]
    table = {"0": log([0.05, 0.6, 0.05, 0.3]), "0,0": log([0.25] * 4), "0,1": log([0.01, 0.01, 0.03, 0.95]),
             "0,2": log([0.25] * 4)}
    best, score, calls = hidden.brute_force(table, 2)
    assert best == [0, 1, 3] and math.isclose(score, math.log(0.6 * 0.95))
    assert calls == 4  # step 1 (one call) leaves 0.57 open against 0.3 done; step 2 (three calls) completes 0.57


def test_helpers_read_the_tutorial_format_and_filter_like_it(tmp_path):
    from conftest import handout_on_path

    handout_on_path(SLUG)
    import attention_helpers as helpers

    path = helpers.write_fake_eng_fra(tmp_path / "eng-fra.txt", n=300, seed=1)
    pairs = helpers.read_pairs(path)
    assert len(pairs) == 300 and all("\t" not in f + e for f, e in pairs)
    kept = helpers.filter_pairs(pairs)
    assert 0 < len(kept) < 300 and all(e.startswith(helpers.ENG_PREFIXES) for _, e in kept)
    assert helpers.normalize_string("Je suis très fatigué.") == "je suis tres fatigue"
    assert helpers.normalize_string("I'm OK!") == "i m ok !"
    vocab = helpers.Vocab([e for _, e in kept])
    ids = vocab.encode(kept[0][1])
    assert ids[0] == helpers.BOS_ID and ids[-1] == helpers.EOS_ID and vocab.decode(ids[1:]) == kept[0][1]
