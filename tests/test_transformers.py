"""The transformers tests catch realistic mistakes and accept other correct answers; the data
helpers, the held-out sample, the examples and the word limit work as documented."""
import json
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from conftest import KIT_ROOT, grade, handout_on_path, unpack_handout
from variants import coverage_gaps, messages, scores

SLUG = "transformers"
SUITE = KIT_ROOT / "autograder" / "suites" / SLUG
handout_on_path(SLUG)  # the master imports the handout's helpers by plain name, as a student's notebook does

import transformers_data  # noqa: E402  (a suite helper, importable once the path is set)

MASK_PLUS_ONE = "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=1)"

PE_TEMPLATE = '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1).float()
        rates = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2).float() / d_model)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * rates)
        pe[:, 1::2] = torch.cos(position * rates)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.shape[1]]'''


def pe_with(old: str, new: str) -> str:
    assert old in PE_TEMPLATE, old
    return PE_TEMPLATE.replace(old, new)


SWAPPED_PE = pe_with("pe[:, 0::2] = torch.sin(position * rates)\n        pe[:, 1::2] = torch.cos(position * rates)",
                     "pe[:, 0::2] = torch.cos(position * rates)\n        pe[:, 1::2] = torch.sin(position * rates)")

UNSHIFTED_LOSS = '''
def lm_loss(logits, tokens, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), ignore_index=pad_id)'''

PADDING_IN_LOSS = '''
def lm_loss(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))'''


def classifier_with_forward(body: str, init_extra: str = "") -> str:
    """The master's EncoderClassifier layers with another forward (the checkpoint still loads)."""
    return f'''
class EncoderClassifier(nn.Module):
    def __init__(self, vocab_size, d_model, nhead, num_layers, num_classes, pad_id=0, max_len=512, dropout=0.1):
        super().__init__()
        self.pad_id, self.d_model = pad_id, d_model
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.position = PositionalEncoding(d_model, max_len)
        layer = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes){init_extra}

    def forward(self, tokens):
{body}'''


MEAN_WITH_PADDING = classifier_with_forward('''        padding = tokens == self.pad_id
        hidden = self.encoder(self.position(self.embed(tokens) * self.d_model ** 0.5), src_key_padding_mask=padding)
        return self.head(hidden.mean(dim=1))''')


def decoder_with_forward(body: str) -> str:
    return f'''
class DecoderOnlyLM(nn.Module):
    def __init__(self, vocab_size, d_model, nhead, num_layers, max_len, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len)
        block = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.extra = nn.Linear(d_model, d_model)

    def forward(self, tokens):
        x = self.position(self.embed(tokens) * math.sqrt(self.d_model))
{body}'''


# Each bug is what a student plausibly writes; the graded name it breaks must lose points.
BUGS = {
    "causal_mask": {
        "position i sees i + 1": MASK_PLUS_ONE,
        "torch's convention (True = blocked)": "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).triu(1)",
        "strictly lower (no diagonal)": "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).tril(-1)",
        "a float mask": "def causal_mask(T):\n    return torch.ones(T, T).tril()",
    },
    "PositionalEncoding": {
        "sin and cos swapped": SWAPPED_PE,
        "exponent i/d_model instead of 2i/d_model": pe_with("torch.arange(0, d_model, 2).float() / d_model",
                                                            "torch.arange(0, d_model // 2).float() / d_model"),
        "sin in the first half, cos in the second": pe_with(
            "pe[:, 0::2] = torch.sin(position * rates)\n        pe[:, 1::2] = torch.cos(position * rates)",
            "pe[:, :d_model // 2] = torch.sin(position * rates)\n        pe[:, d_model // 2:] = torch.cos(position * rates)"),
        "a trainable nn.Parameter": pe_with('self.register_buffer("pe", pe)', "self.pe = nn.Parameter(pe)"),
        "x scaled by sqrt(d_model) inside": pe_with("return x + self.pe", "return x * math.sqrt(x.shape[-1]) + self.pe"),
    },
    "lm_loss": {
        "targets not shifted": UNSHIFTED_LOSS,
        "padding counted in the loss": PADDING_IN_LOSS,
        "padding id hard-coded to 0": PADDING_IN_LOSS.replace("reshape(-1))", "reshape(-1), ignore_index=0)"),
        "shifted the wrong way": PADDING_IN_LOSS.replace("logits[:, :-1]", "logits[:, 1:]").replace("tokens[:, 1:]", "tokens[:, :-1]")
        .replace("reshape(-1))", "reshape(-1), ignore_index=pad_id)"),
        "summed instead of averaged": PADDING_IN_LOSS.replace("reshape(-1))", "reshape(-1), ignore_index=pad_id, reduction='sum')"),
        "a float, not a tensor": PADDING_IN_LOSS.replace("return F.cross_entropy(", "return float(F.cross_entropy(")
        .replace("reshape(-1))", "reshape(-1), ignore_index=pad_id))"),
    },
    "DecoderOnlyLM": {
        "a mask that lets position i see i + 1": MASK_PLUS_ONE,
        "causal_mask passed to torch without ~": decoder_with_forward(
            "        return self.head(self.norm(self.blocks(x, mask=causal_mask(tokens.shape[1]))))"),
        "no mask at all": decoder_with_forward("        return self.head(self.norm(self.blocks(x)))"),
        "a layer that forward never uses": decoder_with_forward(
            "        return self.head(self.norm(self.blocks(x, mask=~causal_mask(tokens.shape[1]))))"),
    },
    "EncoderClassifier": {
        "mean pooling includes the padding": MEAN_WITH_PADDING,
        "no key padding mask in attention": classifier_with_forward('''        padding = tokens == self.pad_id
        hidden = self.encoder(self.position(self.embed(tokens) * self.d_model ** 0.5))
        keep = (~padding).unsqueeze(-1).float()
        return self.head((hidden * keep).sum(1) / keep.sum(1))'''),
        "padding id hard-coded to 0": classifier_with_forward('''        padding = tokens == 0
        hidden = self.encoder(self.position(self.embed(tokens) * self.d_model ** 0.5), src_key_padding_mask=padding)
        keep = (~padding).unsqueeze(-1).float()
        return self.head((hidden * keep).sum(1) / keep.sum(1))'''),
        "pools the last position (padding for short tweets)": classifier_with_forward('''        padding = tokens == self.pad_id
        hidden = self.encoder(self.position(self.embed(tokens) * self.d_model ** 0.5), src_key_padding_mask=padding)
        return self.head(hidden[:, -1])'''),
    },
    "predict_sentiment_transformer": {
        "always positive": "def predict_sentiment_transformer(texts):\n    return [1] * len(texts)",
        "labels flipped": "def predict_sentiment_transformer(texts):\n    model, index, n = load_sentiment_model()\n"
                          "    words = [clean_tweet(t).split() for t in texts]\n"
                          "    return (1 - model(encode_tokens(words, index, n)).argmax(-1)).tolist()",
        "returns a tensor": "def predict_sentiment_transformer(texts):\n    model, index, n = load_sentiment_model()\n"
                            "    words = [clean_tweet(t).split() for t in texts]\n"
                            "    return model(encode_tokens(words, index, n)).argmax(-1)",
    },
}

ALTERNATIVE_DECODER = '''
class Block(nn.Module):
    """A pre-norm block written with nn.MultiheadAttention and a GELU MLP."""

    def __init__(self, d_model, nhead, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model),
                                 nn.Dropout(dropout))

    def forward(self, x, allowed):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=~allowed, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class DecoderOnlyLM(nn.Module):
    """Learned positions and tied input/output embeddings, like GPT-2."""

    def __init__(self, vocab_size, d_model, nhead, num_layers, max_len, dropout=0.1):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, nhead, dropout) for _ in range(num_layers))
        self.ln = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size, bias=False)
        self.out.weight = self.tok.weight

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(T, device=tokens.device))
        allowed = causal_mask(T).to(tokens.device)
        for block in self.blocks:
            x = block(x, allowed)
        return self.out(self.ln(x))'''

# Correct answers that differ from the master's; each keeps every point of its graded name.
POOLED_WITH_WHERE = classifier_with_forward('''        keep = tokens.ne(self.pad_id)
        hidden = self.encoder(self.position(self.embed(tokens) * math.sqrt(self.d_model)), src_key_padding_mask=~keep)
        total = torch.where(keep.unsqueeze(-1), hidden, torch.zeros_like(hidden)).sum(dim=1)
        return self.head(total / keep.sum(dim=1, keepdim=True).clamp(min=1))''')

ALTERNATIVES = {
    "causal_mask": {
        "comparing positions": '''def causal_mask(T):
    i = torch.arange(T)
    return i[None, :] <= i[:, None]''',
        "a loop over the rows": '''
def causal_mask(T):
    mask = torch.zeros(T, T, dtype=torch.bool)
    for i in range(T):
        mask[i, :i + 1] = True
    return mask''',
    },
    "PositionalEncoding": {
        "on the fly in float64, stacked": '''
class PositionalEncoding(nn.Module):
    """Computed on the fly in float64, sin and cos interleaved with stack."""

    def __init__(self, d_model, max_len=5000):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len

    def forward(self, x):
        pos = torch.arange(x.shape[1], dtype=torch.float64, device=x.device)[:, None]
        freq = 10000.0 ** (torch.arange(0, self.d_model, 2, dtype=torch.float64, device=x.device) / self.d_model)
        angles = pos / freq
        return x + torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1).to(x.dtype)''',
        "torch.outer, a (1, max_len, d_model) buffer": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000):
        super().__init__()
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32),
                             1.0 / 10000.0 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model))
        pe = torch.empty(1, max_len, d_model)
        pe[0, :, 0::2], pe[0, :, 1::2] = angles.sin(), angles.cos()
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[:, :x.size(1)]''',
    },
    "lm_loss": {
        "gather and a mask": '''
def lm_loss(logits, tokens, pad_id):
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    targets = tokens[:, 1:]
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    keep = targets != pad_id
    return (nll * keep).sum() / keep.sum()''',
        "cross_entropy on (N, V, T - 1), the class dimension second": '''
def lm_loss(logits, tokens, pad_id):
    return F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:], ignore_index=pad_id)''',
    },
    "DecoderOnlyLM": {
        "pre-norm nn.MultiheadAttention blocks, tied embeddings": ALTERNATIVE_DECODER,
        "nn.TransformerEncoder with a float -inf mask": '''
class DecoderOnlyLM(nn.Module):
    def __init__(self, vocab_size, d_model, nhead, num_layers, max_len, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = PositionalEncoding(d_model, max_len)
        block = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.position(self.embed(tokens) * math.sqrt(self.d_model))
        blocked = torch.zeros(T, T, device=tokens.device).masked_fill(~causal_mask(T).to(tokens.device), float("-inf"))
        return self.head(self.norm(self.blocks(x, mask=blocked)))''',
    },
    "EncoderClassifier": {
        "max-pooling, learned positions": '''
class EncoderClassifier(nn.Module):
    """Max-pooling over real tokens, learned positions, torch's nested-tensor fast path left on."""

    def __init__(self, vocab_size, d_model, nhead, num_layers, num_classes, pad_id=0, max_len=512):
        super().__init__()
        self.pad_id = pad_id
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, nhead, 64, 0.0, batch_first=True),
                                             num_layers)
        self.out = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        padding = tokens.eq(self.pad_id)
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        h = self.encoder(x, src_key_padding_mask=padding)
        return self.out(h.masked_fill(padding[..., None], float("-inf")).amax(dim=1))''',
        "torch.where pooling over the real tokens": POOLED_WITH_WHERE,
    },
    "predict_sentiment_transformer": {
        "one tweet at a time": '''
def predict_sentiment_transformer(texts):
    model, index, max_tokens = load_sentiment_model()
    out = []
    for text in texts:  # one tweet at a time: slower, equally right
        ids = encode_tokens([clean_tweet(text).split()], index, max_tokens)
        out.append(int(model(ids).argmax()))
    return out''',
        "all tweets in one batch under inference_mode": '''
def predict_sentiment_transformer(texts):
    model, index, max_tokens = load_sentiment_model()
    with torch.inference_mode():
        logits = model(encode_tokens([clean_tweet(t).split() for t in texts], index, max_tokens).to(device))
    return [int(k) for k in logits.argmax(-1)]''',
    },
}


@pytest.fixture(scope="module")
def master_scores():
    return scores(SLUG)


def test_the_master_earns_every_point(master_scores):
    assert set(master_scores) == set(BUGS), master_scores
    assert all(got == possible for got, possible in master_scores.values()), master_scores


def test_every_graded_name_has_three_bugs_and_two_alternatives():
    assert not coverage_gaps(SLUG, BUGS, ALTERNATIVES), coverage_gaps(SLUG, BUGS, ALTERNATIVES)


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = scores(SLUG, BUGS[name][bug], only=name)[name]
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name,alternative", [(n, a) for n, alts in ALTERNATIVES.items() for a in alts])
def test_an_alternative_correct_answer_keeps_full_marks(name, alternative):
    source = ALTERNATIVES[name][alternative]
    got, possible = scores(SLUG, source, only=name)[name]
    assert got == possible, messages(SLUG, source, name)


@pytest.mark.parametrize("name,bug,expected", [
    ("causal_mask", "position i sees i + 1", "i + 1"),
    ("PositionalEncoding", "sin and cos swapped", "swapped"),
    ("lm_loss", "targets not shifted", "not shifted"),
    ("lm_loss", "padding counted in the loss", "ignore_index"),
    ("EncoderClassifier", "mean pooling includes the padding", "real tokens"),
    ("DecoderOnlyLM", "causal_mask passed to torch without ~", "NOT allowed"),
])
def test_failure_messages_name_the_likely_cause(name, bug, expected):
    found = messages(SLUG, BUGS[name][bug], name)
    assert any(expected in message for message in found), found


# ---------------------------------------------------------------------------------------------
# Data helpers, held-out sample, checkpoint


def test_fake_shakespeare_is_read_by_the_real_pipeline(tmp_path):
    path = transformers_data.write_fake_shakespeare(tmp_path / "input.txt", n_speeches=30, seed=3)
    text = path.read_text(encoding="utf-8")
    assert text.split("\n", 1)[0].endswith(":") and "\n\n" in text and text.isascii()
    tokenizer = transformers_data.CharTokenizer(text)
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text and int(ids.min()) >= 1  # id 0 is padding
    train, val = transformers_data.split_corpus(ids)
    assert len(train) + len(val) == len(ids) and abs(len(val) - 0.1 * len(ids)) <= 1


def test_tiny_shakespeare_refuses_a_file_with_the_wrong_checksum(tmp_path):
    transformers_data.write_fake_shakespeare(tmp_path / "tinyshakespeare" / "input.txt", n_speeches=5)
    with pytest.raises(RuntimeError, match="not a copy of Tiny Shakespeare .* the kit knows .* download it again"):
        transformers_data.tiny_shakespeare(tmp_path)


def test_encode_tokens_pads_at_the_end_and_never_leaves_a_row_empty():
    index = {"<pad>": 0, "<unk>": 1, "good": 2, "day": 3}
    ids = transformers_data.encode_tokens([["good", "day", "sir"], []], index, max_tokens=2)
    assert ids.tolist() == [[2, 3], [1, 0]]


def test_the_heldout_sample_is_generated_and_never_handed_out():
    sample = SUITE / "heldout" / "sample_sentiment140_heldout.csv"
    from sentiment140_reference import load_sentiment140
    texts, labels = load_sentiment140(sample)
    assert 400 <= len(texts) <= 500 and 0.3 < sum(labels) / len(labels) < 0.7
    handout = KIT_ROOT / "assignments" / SLUG
    assert not any("heldout" in p.name for p in handout.iterdir())


def test_the_master_checkpoint_is_small_and_declared():
    checkpoint = KIT_ROOT / "solutions" / "transformers_sentiment.pt"
    assert checkpoint.stat().st_size < 5 * 1024**2
    suite_toml = (SUITE / "suite.toml").read_text()
    assert '"transformers_sentiment.pt"' in suite_toml and "bart_summary = 350" in suite_toml


# ---------------------------------------------------------------------------------------------
# Through the real command line: examples and the written answer's word limit

EXAMPLES = KIT_ROOT / "examples" / SLUG


def test_the_full_credit_example_earns_every_point(tmp_path):
    results = grade(SLUG, EXAMPLES / "full_credit", tmp_path / "results.json")
    assert results["score"] == sum(t["max_score"] for t in results["tests"]), \
        [t["name"] + ": " + t["output"] for t in results["tests"] if t["score"] < t["max_score"]]


def test_the_partial_example_loses_exactly_its_bugs(tmp_path):
    results = grade(SLUG, EXAMPLES / "partial_credit.ipynb", tmp_path / "results.json")
    lost = {t["name"].split(":")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost == {"causal_mask", "PositionalEncoding", "lm_loss", "DecoderOnlyLM", "EncoderClassifier",
                    "predict_sentiment_transformer"}
    by_name = {t["name"]: t for t in results["tests"]}
    assert by_name["DecoderOnlyLM: gradients reach every parameter"]["score"] == 1
    assert "transformers_sentiment.pt" in by_name[
        "predict_sentiment_transformer: at least 85% accuracy on the autograder's held-out tweets"]["output"]
    assert results["score"] == 3.5, results["score"]


def test_collect_submission_warns_about_a_review_over_350_words(tmp_path):
    folder = unpack_handout(SLUG, tmp_path / SLUG)  # with the packager, which git does not hold
    notebook = nbformat.read(str(EXAMPLES / "full_credit" / f"{SLUG}.ipynb"), as_version=4)
    answer = [c for c in notebook.cells if c.metadata.get("kit", {}).get("answer") == "bart_summary"][0]
    answer.source = "word " * 400
    nbformat.write(notebook, str(folder / f"{SLUG}.ipynb"))
    shutil.copy2(KIT_ROOT / "solutions" / "transformers_sentiment.pt", folder)
    run = subprocess.run([sys.executable, "collect_submission.py"], cwd=folder, capture_output=True, text=True,
                         timeout=120)
    assert "answer 'bart_summary' has 400 words; the limit is 350" in run.stdout + run.stderr
    with zipfile.ZipFile(folder / f"{SLUG}_submission.zip") as archive:
        assert "transformers_sentiment.pt" in archive.namelist()


def test_the_handout_lists_the_word_limit():
    manifest = json.loads((KIT_ROOT / "assignments" / SLUG / "assignment.json").read_text())
    assert manifest["word_limits"] == {"bart_summary": 350, "bart_takeaway": 350}
    assert manifest["written_questions"] == {"lm_comparison": 5, "bart_summary": 2, "bart_takeaway": 2,
                                             "acknowledgements": 0}


def test_the_bart_review_is_two_answers_as_cs7643_hw3_q7_and_q8_ask():
    """Q7 (summary, 2 points) and Q8 (takeaway, 2 points) are separate answers, 350 words in total; the
    master's own answers keep to that total."""
    from autograder.master import read_master, written_questions

    master = KIT_ROOT / "solutions" / f"{SLUG}.ipynb"
    notebook = nbformat.read(str(master), as_version=4)
    questions = {q.name: q for q in written_questions(read_master(master), master)}
    assert questions["bart_summary"].points == questions["bart_takeaway"].points == 2
    words = 0
    for name in ("bart_summary", "bart_takeaway"):
        prompt = notebook.cells[questions[name].first_cell + 1].source
        assert "350 words" in prompt and ("CS7643-HW3 Q7" if name == "bart_summary" else "CS7643-HW3 Q8") in prompt
        words += len(notebook.cells[questions[name].first_cell + 3].source.split())
    assert 0 < words <= 350, words
