"""Helpers for the attention assignment, shared by your notebook and the autograder.

* MNIST digits for the cross-attention pictures (read by ``coursekit.data.load_mnist``);
* GloVe vectors in any dimension and the pairs file, in any form users have them (``coursekit.data``),
  and a writer of small GloVe-format files;
* the PyTorch tutorial's French -> English pairs: reading ``eng-fra.txt``, its normalisation and
  filtering, vocabularies and padded batches;
* the tutorial's RNN seq2seq model (a GRU encoder and a GRU decoder with Bahdanau attention) as
  the baseline, and one training loop, greedy decoding and BLEU for any model with
  ``forward(src, tgt) -> logits``.

Token ids: ``PAD_ID = 0``, ``BOS_ID = 1``, ``EOS_ID = 2``, ``UNK_ID = 3`` in every vocabulary.
Nothing here imports matplotlib or sacrebleu until a plot or a BLEU score is asked for.
"""
from __future__ import annotations

import random
import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

import torch
from torch import nn

from coursekit.data import data_root, eng_fra_path, glove_path  # noqa: F401 (the notebook imports them from here)



PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]

# ---------------------------------------------------------------------------------------------
# MNIST digits


def one_digit_per_class(images: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """One random image of each class 0..9, in class order, flattened to floats in [0, 1]: (10, 784)."""
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for digit in range(10):
        candidates = (labels == digit).nonzero().flatten()
        picked.append(candidates[torch.randint(len(candidates), (1,), generator=generator)])
    return images[torch.cat(picked)].reshape(10, -1).float() / 255.0


def mnist_targets_and_sources(smoke: bool, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint draws of one digit per class from MNIST's test split: (targets, sources).

    In smoke mode, a small generated data set in the real IDX format is written first, in its own
    folder (``<data root>/smoke``), so that a real run never reads generated files."""
    from coursekit.data import load_mnist, write_fake_mnist

    root = data_root() / ("smoke" if smoke else "")
    if smoke:
        write_fake_mnist("mnist", root, n_train=20, n_test=200, seed=seed)
    images, labels = load_mnist("mnist", "test", root, download_missing=not smoke, check=not smoke)
    return one_digit_per_class(images, labels, seed), one_digit_per_class(images, labels, seed + 1)


def plot_attention_matrix(weights: torch.Tensor, row_labels, col_labels, title: str = "attention weights"):
    """A labelled heatmap of a (targets x sources) attention matrix, with the weights printed."""
    import matplotlib.pyplot as plt

    weights = weights.detach().cpu()
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0)
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set_xlabel("source digit (key / value)")
    ax.set_ylabel("target digit (query)")
    for i in range(weights.shape[0]):
        for j in range(weights.shape[1]):
            ax.text(j, i, f"{float(weights[i, j]):.2f}", ha="center", va="center", fontsize=6,
                    color="white" if weights[i, j] < 0.5 * float(weights.max()) else "black")
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    plt.show()


def plot_image_grid(images: torch.Tensor, titles, title: str = ""):
    """Flattened 28x28 images in rows of five (ten images: a 2x5 grid)."""
    import math

    import matplotlib.pyplot as plt

    rows, columns = math.ceil(len(images) / 5), min(len(images), 5)
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 2 * rows), squeeze=False)
    for ax in axes.flat[len(images):]:
        ax.axis("off")
    for ax, image, name in zip(axes.flat, images.detach().cpu(), titles):
        ax.imshow(image.reshape(28, 28), cmap="gray")
        ax.set_title(str(name))
        ax.axis("off")
    fig.suptitle(title)
    plt.show()


# ---------------------------------------------------------------------------------------------
# GloVe


def write_fake_glove(path: Path, words, dim: int = 16, seed: int = 0) -> Path:
    """Write random vectors for ``words`` in GloVe's text format: ``word v1 v2 ... vd`` per line."""
    generator = torch.Generator().manual_seed(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        for word in words:
            vector = torch.randn(dim, generator=generator)
            stream.write(word + " " + " ".join(f"{float(v):.6f}" for v in vector) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# The tutorial's French -> English pairs
# (https://pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial.html)

MAX_LENGTH = 10
ENG_PREFIXES = ("i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ",
                "we are", "we re ", "they are", "they re ")


def unicode_to_ascii(text: str) -> str:
    """Drop accents: 'très' -> 'tres'."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def normalize_string(text: str) -> str:
    """The tutorial's normalisation: lower case, ASCII, '!' and '?' split off, other symbols removed."""
    text = unicode_to_ascii(text.lower().strip())
    text = re.sub(r"([.!?])", r" \1", text)
    text = re.sub(r"[^a-zA-Z!?]+", r" ", text)
    return text.strip()


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(French, English) pairs from a tab-separated 'English<TAB>French' file, normalised."""
    pairs = []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            columns = line.rstrip("\n").split("\t")
            if len(columns) >= 2:
                pairs.append((normalize_string(columns[1]), normalize_string(columns[0])))
    return pairs


def filter_pairs(pairs, max_length: int = MAX_LENGTH, prefixes=ENG_PREFIXES) -> list[tuple[str, str]]:
    """The tutorial's filter: both sides shorter than ``max_length`` words, English starting with a prefix."""
    return [(fra, eng) for fra, eng in pairs
            if len(fra.split(" ")) < max_length and len(eng.split(" ")) < max_length and eng.startswith(prefixes)]


_SUBJECTS = [("I am", "Je suis"), ("I'm", "Je suis"), ("He is", "Il est"), ("He's", "Il est"),
             ("She is", "Elle est"), ("She's", "Elle est"), ("You are", "Vous êtes"), ("You're", "Tu es"),
             ("We are", "Nous sommes"), ("We're", "Nous sommes"), ("They are", "Ils sont"), ("They're", "Elles sont")]
_PREDICATES = [("happy", "heureux"), ("tired", "fatigué"), ("hungry", "affamé"), ("ready", "prêt"),
               ("sick", "malade"), ("busy", "occupé"), ("late", "en retard"), ("sad", "triste"),
               ("right", "raison"), ("at home", "à la maison"), ("a teacher", "professeur"),
               ("a student", "étudiant"), ("in the car", "dans la voiture"), ("here", "ici"),
               ("very happy", "très heureux"), ("very tired", "très fatigué"), ("too old", "trop vieux"),
               ("still young", "encore jeune"), ("so proud of you", "si fier de toi"), ("a good cook", "bon cuisinier")]
_OTHERS = [("Go.", "Va !"), ("Hello!", "Salut !"), ("Where is the station?", "Où est la gare ?"),
           ("Thank you very much.", "Merci beaucoup."), ("It is raining today.", "Il pleut aujourd'hui.")]


def write_fake_eng_fra(path: Path, n: int = 1000, seed: int = 0) -> Path:
    """Write ``n`` generated pairs in the tutorial's eng-fra.txt format ('English<TAB>French' lines).

    Sentences follow the filter's English prefixes, with negation ("ne ... pas") so that word order
    differs, plus a few pairs the filter must drop."""
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        for _ in range(n):
            if rng.random() < 0.05:
                eng, fra = rng.choice(_OTHERS)
            else:
                (eng_s, fra_s), (eng_p, fra_p) = rng.choice(_SUBJECTS), rng.choice(_PREDICATES)
                if rng.random() < 0.3:
                    fra_subject, fra_verb = fra_s.split(" ")
                    verb = "n'" + fra_verb if fra_verb[0] in "aeêiou" else "ne " + fra_verb
                    eng, fra = f"{eng_s} not {eng_p}.", f"{fra_subject} {verb} pas {fra_p}."
                else:
                    eng, fra = f"{eng_s} {eng_p}.", f"{fra_s} {fra_p}."
                eng = eng.replace("I am not", "I'm not") if rng.random() < 0.5 else eng
            stream.write(f"{eng}\t{fra}\n")
    return path


def split_pairs(pairs, test_fraction: float = 0.1, seed: int = 0):
    """A seeded (train, test) split of the pairs."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    cut = int(len(pairs) * test_fraction)
    return [pairs[i] for i in order[cut:]], [pairs[i] for i in order[:cut]]


class Vocab:
    """Words <-> ids, with <pad>=0, <bos>=1, <eos>=2, <unk>=3 first."""

    def __init__(self, sentences, min_freq: int = 1):
        counts = Counter(word for sentence in sentences for word in sentence.split(" "))
        self.itos = SPECIALS + sorted(w for w, c in counts.items() if c >= min_freq and w not in SPECIALS)
        self.stoi = {word: index for index, word in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, sentence: str) -> list[int]:
        """[BOS, ids of the words..., EOS]."""
        return [BOS_ID] + [self.stoi.get(w, UNK_ID) for w in sentence.split(" ")] + [EOS_ID]

    def decode(self, ids) -> str:
        """The words of ``ids``, without specials, stopping at the first EOS."""
        words = []
        for index in [int(i) for i in ids]:
            if index == EOS_ID:
                break
            if index >= len(SPECIALS):
                words.append(self.itos[index])
        return " ".join(words)


def pad_batch(sequences: list[list[int]]) -> torch.Tensor:
    """(N, longest) long tensor, right-padded with PAD_ID."""
    longest = max(len(s) for s in sequences)
    return torch.tensor([s + [PAD_ID] * (longest - len(s)) for s in sequences], dtype=torch.long)


def make_batches(pairs, src_vocab: Vocab, tgt_vocab: Vocab, batch_size: int = 64, seed: int = 0):
    """Shuffled batches ``(src (N, S), tgt (N, T))`` of padded ids; both sides are BOS ... EOS."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    batches = []
    for start in range(0, len(order), batch_size):
        chunk = [pairs[i] for i in order[start:start + batch_size]]
        batches.append((pad_batch([src_vocab.encode(f) for f, _ in chunk]),
                        pad_batch([tgt_vocab.encode(e) for _, e in chunk])))
    return batches


# ---------------------------------------------------------------------------------------------
# The tutorial's RNN seq2seq, batched, with forward(src, tgt) -> logits like the Transformer


class BahdanauAttention(nn.Module):
    """Additive attention: score(q, k) = v^T tanh(W_a q + U_a k); padded keys are ignored."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.Wa, self.Ua, self.Va = nn.Linear(hidden_size, hidden_size), nn.Linear(hidden_size, hidden_size), nn.Linear(hidden_size, 1)

    def forward(self, query, keys, key_padding_mask):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(-1)  # (N, S)
        weights = torch.softmax(scores.masked_fill(key_padding_mask, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), keys), weights


class RNNSeq2Seq(nn.Module):
    """The tutorial's EncoderRNN + AttnDecoderRNN (GRUs, Bahdanau attention), batched.

    ``forward(src (N, S), tgt (N, T)) -> logits (N, T, V)``: the logits at position t predict
    tgt[:, t + 1] from tgt[:, :t + 1] (teacher forcing). ``tgt_embeddings`` (V, dim), e.g. from
    GloVe, initialises the decoder's embedding (projected to ``hidden_size`` when dim differs).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, hidden_size: int = 128, dropout: float = 0.1,
                 tgt_embeddings: torch.Tensor | None = None):
        super().__init__()
        self.src_embedding = nn.Embedding(src_vocab_size, hidden_size, padding_idx=PAD_ID)
        self.encoder = nn.GRU(hidden_size, hidden_size, batch_first=True)
        if tgt_embeddings is not None:
            self.tgt_embedding = nn.Embedding.from_pretrained(tgt_embeddings.float(), freeze=False, padding_idx=PAD_ID)
            dim = tgt_embeddings.shape[1]
        else:
            self.tgt_embedding, dim = nn.Embedding(tgt_vocab_size, hidden_size, padding_idx=PAD_ID), hidden_size
        self.tgt_projection = nn.Linear(dim, hidden_size) if dim != hidden_size else nn.Identity()
        self.attention = BahdanauAttention(hidden_size)
        self.decoder = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, tgt_vocab_size)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        padding = src == PAD_ID
        keys, hidden = self.encoder(self.dropout(self.src_embedding(src)))
        embedded = self.dropout(self.tgt_projection(self.tgt_embedding(tgt)))
        outputs = []
        for t in range(tgt.shape[1]):
            context, _ = self.attention(hidden.permute(1, 0, 2), keys, padding)
            output, hidden = self.decoder(torch.cat([embedded[:, t:t + 1], context], dim=2), hidden)
            outputs.append(output)
        return self.out(torch.cat(outputs, dim=1))


# ---------------------------------------------------------------------------------------------
# Training and evaluation, for any model with forward(src, tgt) -> logits (N, T, V)


def train_seq2seq(model: nn.Module, batches, epochs: int, lr: float = 1e-3, device="cpu",
                  max_seconds: float | None = None) -> list[float]:
    """Teacher-forced cross-entropy training with Adam; returns the mean loss of each epoch.

    The model sees tgt[:, :-1] and predicts tgt[:, 1:]; padding is ignored. Stops early once
    ``max_seconds`` have passed (smoke runs)."""
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD_ID)
    history, started = [], time.monotonic()
    for epoch in range(epochs):
        total = 0.0
        for src, tgt in batches:
            src, tgt = src.to(device), tgt.to(device)
            logits = model(src, tgt[:, :-1])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item()
        history.append(total / len(batches))
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    model.eval()
    return history


def step_function(model: nn.Module, src_ids: list[int], device="cpu"):
    """``step_fn(prefix) -> log-probabilities (V,)`` of the next target token, for beam_search."""
    src = torch.tensor([src_ids], dtype=torch.long, device=device)

    @torch.no_grad()
    def step_fn(prefix):
        tgt = torch.tensor([list(prefix)], dtype=torch.long, device=device)
        return torch.log_softmax(model(src, tgt)[0, -1].float(), dim=-1).cpu()

    return step_fn


def greedy_decode(model: nn.Module, src_ids: list[int], max_len: int = MAX_LENGTH + 1, device="cpu") -> list[int]:
    """The most likely next token at every step, from BOS until EOS or ``max_len`` tokens."""
    step_fn, tokens = step_function(model, src_ids, device), [BOS_ID]
    while len(tokens) <= max_len and tokens[-1] != EOS_ID:
        tokens.append(int(step_fn(tokens).argmax()))
    return tokens


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (0-100) computed by sacrebleu, one reference per sentence."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def translate_all(model: nn.Module, pairs, src_vocab: Vocab, tgt_vocab: Vocab, decode) -> list[str]:
    """English translations of the French side of ``pairs``; ``decode(model, src_ids) -> ids``."""
    model.eval()
    return [tgt_vocab.decode(decode(model, src_vocab.encode(fra))[1:]) for fra, _ in pairs]
