"""Data helpers for the transformers assignment: Tiny Shakespeare, characters, batches, tweets.

Tiny Shakespeare (Karpathy's char-rnn corpus, 1,115,394 bytes) is downloaded with its published
SHA-256 (TensorFlow Datasets, ``url_checksums/tiny_shakespeare.txt``) into ``$KIT_DATA`` (or
``./data``). ``write_fake_shakespeare`` writes generated text in the same format, for smoke runs
and tests without internet.
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import torch

from coursekit.data import TINY_SHAKESPEARE, data_root, locate
PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1 in every vocabulary of this assignment


def tiny_shakespeare(root: Path | None = None) -> Path:
    """Path of Tiny Shakespeare's ``input.txt`` (or its .gz, unpacked), downloaded with its SHA-256 if missing."""
    return locate(TINY_SHAKESPEARE, root or data_root(), unpacked=True)


SPEAKERS = ["First Citizen", "MENENIUS", "CORIOLANUS", "ROMEO", "JULIET", "KING RICHARD III", "All", "Nurse"]
WORDS = ["the", "lord", "my", "good", "and", "thou", "art", "speak", "hear", "me", "what", "noble", "king",
         "love", "death", "night", "sweet", "is", "not", "to", "be", "of", "our", "with", "come", "away"]


def write_fake_shakespeare(path: Path, n_speeches: int = 400, seed: int = 0) -> Path:
    """Write generated plain text in Tiny Shakespeare's format: speeches made of a ``NAME:`` line
    and one to three lines of verse, separated by blank lines (ASCII, ``\\n`` line ends).

    Each word is mostly followed by the next word of ``WORDS`` (with some randomness), so a small
    language model can learn something in seconds."""
    rng = random.Random(seed)
    speeches = []
    for _ in range(n_speeches):
        lines = [f"{rng.choice(SPEAKERS)}:"]
        for _ in range(rng.randint(1, 3)):
            index = rng.randrange(len(WORDS))
            words = []
            for _ in range(rng.randint(4, 9)):
                words.append(WORDS[index])
                index = (index + 1) % len(WORDS) if rng.random() < 0.8 else rng.randrange(len(WORDS))
            line = " ".join(words)
            lines.append(line[0].upper() + line[1:] + rng.choice([".", ",", "!", "?", ";"]))
        speeches.append("\n".join(lines))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(speeches) + "\n", encoding="ascii")
    return path


class CharTokenizer:
    """Characters to ids and back; id 0 is padding, the other ids are the text's characters, sorted."""

    def __init__(self, text: str):
        self.itos = [PAD] + sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}
        self.pad_id = 0

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> torch.Tensor:
        """A 1-D int64 tensor of ids (characters never seen in the corpus raise KeyError)."""
        return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids if int(i) != self.pad_id)


def glove_rows(vocab: list[str], path: Path) -> torch.Tensor:
    """An embedding matrix ``(len(vocab), d)`` from a GloVe file, to start a model's embeddings from:
    the word's vector where GloVe has it, random values of GloVe's scale elsewhere, zeros for row 0
    (padding). ``d`` is the file's (50, 100, ...: whichever the data root has)."""
    index = {word: row for row, word in enumerate(vocab)}
    found = {}
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            word, *values = line.rstrip().split(" ")
            if word in index:
                found[index[word]] = torch.tensor([float(v) for v in values])
    if not found:
        raise ValueError(f"{path} has none of the vocabulary's words: is it a GloVe file?")
    vectors = torch.stack(list(found.values()))
    rows = torch.randn(len(vocab), vectors.shape[1]) * vectors.std()
    rows[list(found)] = vectors
    rows[0] = 0.0
    print(f"GloVe ({vectors.shape[1]}d) covers {len(found):,} of {len(vocab):,} vocabulary words")
    return rows


def split_corpus(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 90% of a 1-D id tensor for training, the last 10% for validation (no shuffling:
    neighbouring windows overlap, so a random split would leak validation text into training)."""
    cut = int(len(ids) * (1 - val_fraction))
    return ids[:cut], ids[cut:]


def random_windows(ids: torch.Tensor, batch_size: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``(batch_size, length)`` windows of consecutive ids, starting at random positions."""
    starts = torch.randint(0, len(ids) - length + 1, (batch_size,), generator=generator)
    return torch.stack([ids[s:s + length] for s in starts.tolist()])


def build_vocab(token_lists, max_size: int, min_count: int = 1) -> list[str]:
    """``[PAD, UNK]`` then the ``max_size - 2`` most frequent tokens seen at least ``min_count`` times
    (ties broken alphabetically, so the vocabulary is reproducible)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return [PAD, UNK] + ranked[:max_size - 2]


def encode_tokens(token_lists, index: dict[str, int], max_tokens: int) -> torch.Tensor:
    """``(N, T)`` int64 ids, padded with 0 at the end to the longest list (at most ``max_tokens``).

    Unknown tokens get id 1; an empty list becomes a single ``<unk>``, so no row is all padding."""
    rows = [[index.get(t, 1) for t in tokens[:max_tokens]] or [1] for tokens in token_lists]
    width = max(len(row) for row in rows) if rows else 1
    out = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def plot_positional_encoding(table: torch.Tensor) -> None:
    """Show a (positions, d_model) encoding table as a heat map (matplotlib is imported only here)."""
    import matplotlib.pyplot as plt

    plt.figure(figsize=(7, 3))
    plt.imshow(table.detach().cpu().T, aspect="auto", cmap="RdBu")
    plt.xlabel("position")
    plt.ylabel("dimension")
    plt.colorbar()
    plt.title("sinusoidal positional encoding")
    plt.show()
