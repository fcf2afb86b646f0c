"""Data sets of the course, in their real formats: download (with a checksum) and read.

Shared by several handouts (MNIST for `attention`, Fashion-MNIST for `generative`, sentiment140 for
`rnn` and `transformers`) and by the kit's tests. Each ``write_fake_*`` function writes a small
generated data set in exactly the real format, so that the real loaders are what smoke runs and
tests exercise when there is no internet.

Files go under ``data_root()``: the ``KIT_DATA`` environment variable, or ``./data``.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import os
import random
import struct
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import torch


def data_root() -> Path:
    """Where data sets live: $KIT_DATA, or ./data beside the notebook."""
    return Path(os.environ.get("KIT_DATA", "data"))


class DataUnavailable(RuntimeError):
    """A data set is missing and could not be downloaded; the message says how to get it."""


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """The hex digest of a file, read in blocks (data sets are large)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, path: Path, expected: str | None, algorithm: str = "md5") -> Path:
    """``path``, downloading it from ``url`` first if it is missing, and checking it against the
    checksum its publisher gives (MD5, SHA-1 or SHA-256: ``algorithm``). With ``expected=None`` the
    digest is printed, to be pinned."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        try:
            print(f"Downloading {url} ...")
            urllib.request.urlretrieve(url, partial)
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            raise DataUnavailable(f"could not download {url} ({error}); download it by hand and put it at "
                                  f"{path.resolve()}") from None
        partial.rename(path)
    digest = file_digest(path, algorithm)
    if expected is None:
        print(f"{path.name}: {algorithm} {digest} (pin it to check later loads)")
    elif digest != expected:
        name = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}.get(algorithm, algorithm)
        raise DataUnavailable(f"{path} is corrupt or not the expected file ({name} mismatch); "
                              "delete it and download it again")
    return path


# ---------------------------------------------------------------------------------------------
# IDX: the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/)

IDX_DTYPES = {0x08: torch.uint8, 0x09: torch.int8, 0x0B: torch.int16, 0x0C: torch.int32,
              0x0D: torch.float32, 0x0E: torch.float64}


def read_idx(path: Path) -> torch.Tensor:
    """Read an IDX file, gzipped (``.gz``) or raw, into a tensor of its stored dtype and shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = IDX_DTYPES[dtype_code]
    flat = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=dtype)
    if dtype.itemsize > 1:  # IDX is big-endian
        flat = torch.from_numpy(flat.numpy().byteswap())
    return flat.reshape(shape)


def write_idx(tensor: torch.Tensor, path: Path) -> Path:
    """Write a uint8 tensor as an IDX file (gzipped when ``path`` ends in .gz)."""
    tensor = tensor.to(torch.uint8).contiguous()
    header = struct.pack(">HBB", 0, 0x08, tensor.dim()) + struct.pack(f">{tensor.dim()}I", *tensor.shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(header + tensor.numpy().tobytes())
    return path


MNIST_FILES = {  # split -> (images, labels)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_SOURCES = {  # the official files and the MD5s torchvision checks
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def mnist_folder(kind: str, root: Path | None = None) -> Path:
    return Path(root or data_root()) / {"mnist": "MNIST", "fashion": "FashionMNIST"}[kind] / "raw"


def load_mnist(kind: str = "mnist", split: str = "train", root: Path | None = None,
               download_missing: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 of MNIST (``kind="mnist"``) or
    Fashion-MNIST (``kind="fashion"``), read from the IDX files (``.gz`` or unpacked), downloading
    the official files with their checksums when missing."""
    images, labels = (read_idx(mnist_file(kind, name, root, download_missing)) for name in MNIST_FILES[split])
    return images, labels.long()


def mnist_file(kind: str, name: str, root: Path | None = None, download_missing: bool = True) -> Path:
    """One IDX file (a name of ``MNIST_FILES``), unpacked or gzipped; downloaded with its MD5 when missing."""
    folder = mnist_folder(kind, root)
    base_url, md5s = MNIST_SOURCES[kind]
    present = [p for p in (folder / name.removesuffix(".gz"), folder / name) if p.exists()]
    if present:
        return present[0]
    if download_missing:
        return download(base_url + name, folder / name, md5s[name])
    raise DataUnavailable(f"{folder / name} not found; download it from {base_url + name}")


def write_fake_mnist(kind: str = "mnist", root: Path | None = None, n_train: int = 600, n_test: int = 100,
                     seed: int = 0) -> Path:
    """Write a small generated MNIST-format data set (gzipped IDX) that a model can learn: each
    class is a bright bar at its own position plus noise. Returns the folder."""
    generator = torch.Generator().manual_seed(seed)
    folder = mnist_folder(kind, root)
    for split, count in (("train", n_train), ("test", n_test)):
        labels = torch.arange(count) % 10
        labels = labels[torch.randperm(count, generator=generator)]
        images = (torch.rand(count, 28, 28, generator=generator) * 60).to(torch.uint8)
        for index, label in enumerate(labels.tolist()):
            row = 3 + 2 * label
            images[index, row:row + 3, 4:24] = 255 - (torch.rand(3, 20, generator=generator) * 40).to(torch.uint8)
        images_name, labels_name = MNIST_FILES[split]
        write_idx(images, folder / images_name)
        write_idx(labels, folder / labels_name)
    return folder


# ---------------------------------------------------------------------------------------------
# sentiment140 (http://help.sentiment140.com/for-students/)

SENTIMENT140_URL = "https://cs.stanford.edu/people/alecmgo/trainingandtestdata.zip"
SENTIMENT140_MD5 = "1647eb110dd2492512e27b9a70d5d1bc"  # the zip's published MD5
SENTIMENT140_TRAIN = "training.1600000.processed.noemoticon.csv"
SENTIMENT140_TEST = "testdata.manual.2009.06.14.csv"


def sentiment140_csv(root: Path | None = None, test: bool = False) -> Path:
    """Path of sentiment140's training (or test) CSV, downloading and unzipping it when missing."""
    folder = Path(root or data_root()) / "sentiment140"
    target = folder / (SENTIMENT140_TEST if test else SENTIMENT140_TRAIN)
    if not target.exists():
        archive = download(SENTIMENT140_URL, folder / "trainingandtestdata.zip", SENTIMENT140_MD5)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(folder)
    return target


POSITIVE_WORDS = ["love", "great", "happy", "awesome", "good", "fun", "amazing", "thanks", "best", "nice", "yay", "cool"]
NEGATIVE_WORDS = ["hate", "sad", "awful", "bad", "sick", "tired", "worst", "miss", "ugh", "sorry", "boring", "hurts"]
NEUTRAL_WORDS = ["today", "work", "going", "the", "my", "just", "now", "home", "lunch", "time", "again", "with",
                 "this", "weekend", "phone", "movie", "night", "morning", "school", "friends"]


def fake_tweet(label: int, rng: random.Random) -> str:
    """A tweet whose sentiment words match ``label`` (0 negative, 2 neutral, 4 positive), with the
    noise of real tweets: @mentions, URLs, HTML entities, commas and "quotes"."""
    words = [rng.choice(NEUTRAL_WORDS) for _ in range(rng.randint(3, 8))]
    pool = {0: NEGATIVE_WORDS, 4: POSITIVE_WORDS}.get(label, [])
    for _ in range(rng.randint(1, 2) if pool else 0):
        words.insert(rng.randrange(len(words) + 1), rng.choice(pool))
    if rng.random() < 0.5:
        words.insert(0, f"@user{rng.randint(1, 999)}")
    if rng.random() < 0.3:
        words.append(f"http://bit.ly/{rng.randint(1000, 9999)}")
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(["&amp;", "&lt;3", "&quot;so&quot;", "caf\u00e9,"]))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), "well,")
    return " ".join(words)


def write_fake_sentiment140(path: Path, n: int = 2000, seed: int = 0, neutral_fraction: float = 0.0) -> Path:
    """Write ``n`` generated tweets in sentiment140's exact format: no header, six quoted columns
    (target, id, date, flag, user, text), latin-1 bytes. ``neutral_fraction`` adds label-2 rows, as
    the real test file has."""
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="latin-1", newline="") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
        for index in range(n):
            label = 2 if rng.random() < neutral_fraction else rng.choice([0, 4])
            writer.writerow([label, 1467810369 + index, "Mon Apr 06 22:19:45 PDT 2009", "NO_QUERY",
                             f"user{rng.randint(1, 500)}", fake_tweet(label, rng)])
    return path
