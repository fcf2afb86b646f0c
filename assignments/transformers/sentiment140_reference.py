"""Reference implementations of the `rnn` assignment's sentiment140 pipeline.

``clean_tweet``, ``load_sentiment140`` and ``split_indices`` exactly as SPEC.md defines them for
`rnn`. This module is graded work in `rnn`: it ships only in later handouts (`transformers`), after
the `rnn` deadline, so that those assignments start from a correct pipeline. The `rnn` hidden tests
may also use it as an oracle.
"""
from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import torch

MENTION = re.compile(r"@\w+")
URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
WORD = re.compile(r"[\w']+|[^\w\s]")
LABELS = {0: 0, 4: 1}  # sentiment140's polarity: 0 negative, 4 positive (2, neutral, is dropped)


def clean_tweet(text: str) -> str:
    """``text`` with HTML entities decoded, @mentions and URLs removed, lower-cased and its
    whitespace collapsed to single spaces (no leading or trailing space); the words are kept."""
    text = html.unescape(text)  # first, so that an encoded "&#64;user" is removed as a mention too
    text = URL.sub(" ", text)
    text = MENTION.sub(" ", text)
    return " ".join(text.lower().split())


def tweet_words(text: str) -> list[str]:
    """The words and punctuation marks of a cleaned tweet, as the rnn assignment's model reads them:
    "@bob I LOVE it!!" -> ["i", "love", "it", "!", "!"]. Splitting off punctuation lets "it." and
    "it" share one embedding (and one GloVe vector)."""
    return WORD.findall(clean_tweet(text))


def load_sentiment140(path: str | Path) -> tuple[list[str], list[int]]:
    """Raw tweet texts and labels (0 negative, 1 positive) of a sentiment140 CSV: no header, six
    quoted columns (target, ids, date, flag, user, text), latin-1 bytes. Rows whose target is not
    0 or 4 (the test file's neutral 2s) are dropped."""
    texts: list[str] = []
    labels: list[int] = []
    with open(path, encoding="latin-1", newline="") as stream:
        for row in csv.reader(stream):
            if len(row) != 6:
                continue
            try:
                target = int(row[0])
            except ValueError:
                continue
            if target in LABELS:
                texts.append(row[5])
                labels.append(LABELS[target])
    return texts, labels


def split_indices(n: int, seed: int = 0) -> tuple[list[int], list[int], list[int]]:
    """A seeded random 60/20/20 partition of ``range(n)`` into (train, val, test) index lists:
    disjoint, covering, each size within one of 0.6n, 0.2n and 0.2n."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_train, n_val = round(0.6 * n), round(0.2 * n)
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
