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
import shutil
import struct
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch


def data_root() -> Path:
    """Where data sets live: $KIT_DATA (what ``--data`` sets), or ./data beside the notebook."""
    return Path(os.environ.get("KIT_DATA", "data"))


def cache_root() -> Path:
    """Where unpacked copies go when the data root is read-only: $KIT_CACHE, or ~/.cache/coursekit."""
    return Path(os.environ.get("KIT_CACHE", Path.home() / ".cache" / "coursekit"))


class DataUnavailable(RuntimeError):
    """A data set is missing and could not be downloaded; the message says how to get it."""


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """The hex digest of a file, read in blocks (data sets are large); of its content when it ends in .gz
    and ``algorithm`` is given as ``"content-md5"``."""
    digest = hashlib.new(algorithm.removeprefix("content-"), usedforsecurity=False)
    opener = gzip.open if algorithm.startswith("content-") and str(path).endswith(".gz") else open
    with opener(path, "rb") as stream:
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
                                  f"{shown(path)}") from None
        partial.rename(path)
    return checked(path, expected, algorithm)


def checked(path: Path, expected: str | None, algorithm: str = "md5") -> Path:
    """``path``, after checking it against its publisher's checksum (printed when ``expected`` is None)."""
    digest = file_digest(path, algorithm)
    if expected is None:
        print(f"{path.name}: {algorithm} {digest} (pin it to check later loads)")
    elif digest != expected:
        name = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}.get(algorithm, algorithm)
        raise DataUnavailable(f"{shown(path)} is corrupt or not the expected file ({name} mismatch); "
                              "delete it and download it again")
    return path


def shown(path: Path) -> str:
    """A path as messages and reports show it: under the data root as ``<data root>/...``, so that no
    machine's absolute folders are written into shared files."""
    path = Path(path)
    for root, label in ((data_root(), "<data root>"), (cache_root(), "<cache>")):
        try:
            return f"{label}/{path.resolve().relative_to(root.resolve()).as_posix()}"
        except ValueError:
            continue
    return str(path)


# ---------------------------------------------------------------------------------------------
# A data file as users have it: unpacked, gzip-compressed, or inside its publisher's archive


@dataclass(frozen=True)
class Archive:
    """The publisher's download: a zip holding the file (``member``), or the file gzip-compressed
    (``member=None``), with the checksum the publisher gives."""

    url: str
    name: str
    checksum: str | None
    algorithm: str = "md5"
    member: str | None = None


@dataclass(frozen=True)
class DataFile:
    """One file of a data set. ``contents`` maps the MD5 of known copies of the unpacked file to what
    each is (the official file, or a known subset). A copy with another MD5 is refused when the
    official file's MD5 is among them (``strict``); otherwise no content checksum is published, the
    copy is used, and its reader checks the format."""

    what: str
    folder: str  # under the data root
    name: str  # the unpacked file's name
    contents: dict[str, str] = field(default_factory=dict)
    archive: Archive | None = None
    strict: bool = True


def locate(file: DataFile, root: Path | None = None, download_missing: bool = True, unpacked: bool = False,
           check: bool = True) -> Path:
    """The file from whichever form is under ``<root>/<file.folder>``: unpacked, ``.gz``, or the
    archive (downloaded when missing and ``download_missing``). ``unpacked=True`` returns a plain
    file, decompressing a ``.gz`` beside it (or under ``cache_root()`` when the data root is read-only).
    ``check=False`` skips the content check: for the generated stand-ins of smoke runs and tests."""
    folder = Path(root or data_root()) / file.folder
    for candidate in (folder / file.name, folder / f"{file.name}.gz", cached_copy(folder / file.name)):
        if candidate.exists():
            if check:
                check_copy(file, candidate)
            return unpack(candidate) if unpacked and candidate.suffix == ".gz" else candidate
    if file.archive is None:
        raise DataUnavailable(f"{file.what} is missing: put {file.name} (or {file.name}.gz) in {shown(folder)}")
    archive = folder / file.archive.name
    if not archive.exists() and not download_missing:
        raise DataUnavailable(f"{file.what} is missing: put {file.name} or {file.archive.name} in {shown(folder)} "
                              f"(from {file.archive.url})")
    download(file.archive.url, archive, file.archive.checksum, file.archive.algorithm)
    if file.archive.member is None:  # the publisher's .gz of the file itself: checked by its own checksum
        return unpack(archive) if unpacked else archive
    return extract(archive, file.archive.member, writable_folder(folder) / file.name)


def check_copy(file: DataFile, path: Path) -> str:
    """What copy of ``file`` is at ``path`` (``file.contents``' words); a DataUnavailable with what to do
    when it is a copy nobody knows (a partial download, another file under the same name)."""
    archive = file.archive
    if archive and archive.member is None and path.name == archive.name and archive.checksum \
            and file_digest(path, archive.algorithm) == archive.checksum:
        return "the official archive"
    digest = file_digest(path, "content-md5")
    if digest in file.contents:
        return file.contents[digest]
    if not file.strict:
        return "a copy without a published checksum to check"
    if os.environ.get("KIT_DATA_UNCHECKED") == "1":
        print(f"warning: {shown(path)} is not a copy of {file.what} the kit knows (MD5 {digest}); used as it is")
        return f"an unknown copy (MD5 {digest})"
    raise DataUnavailable(f"{shown(path)} is not a copy of {file.what} the kit knows (content MD5 {digest}): "
                          "delete it and download it again, or set KIT_DATA_UNCHECKED=1 to use it as it is")


def identify(path: Path) -> str:
    """Which known copy of which data set ``path`` is, for reports ("a 44k real subset ..."), or ""."""
    known = {**GLOVE_KNOWN, **{md5: what for kind in MNIST_CONTENTS.values() for files in kind.values()
                               for md5, what in files.items()}}
    for file in [*SENTIMENT140_FILES.values(), FRA_ENG, TINY_SHAKESPEARE]:
        known.update(file.contents)
    return known.get(file_digest(Path(path), "content-md5"), "")


def describe(file: DataFile, root: Path | None = None) -> str:
    """Which copy of ``file`` the data root holds, for reports: "the official file", "a 44k real subset"."""
    return check_copy(file, locate(file, root, download_missing=False))


def writable_folder(folder: Path) -> Path:
    """``folder`` if files may be written there, else its place under ``cache_root()``. A folder whose
    mode has no write bit counts as read-only even for root, who could write it anyway: a shared,
    read-only data root is never written into."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK) and folder.stat().st_mode & 0o222:
            return folder
    except OSError:
        pass
    return cached_copy(folder)


def cached_copy(path: Path) -> Path:
    """Where an unpacked copy of a file of the read-only data root lives under ``cache_root()``."""
    return cache_root() / Path(path).resolve().relative_to(Path(path).resolve().anchor)


def unpack(gz_path: Path) -> Path:
    """A plain copy of a ``.gz`` file (made once, beside it or under the cache)."""
    target = writable_folder(gz_path.parent) / gz_path.name.removesuffix(".gz")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with gzip.open(gz_path, "rb") as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        partial.rename(target)
    return target


def extract(archive: Path, member: str, target: Path) -> Path:
    """``member`` of the zip ``archive`` (a name, or a suffix of one), extracted once to ``target``."""
    if not target.exists():
        with zipfile.ZipFile(archive) as zipped:
            name = next((n for n in zipped.namelist() if n == member or n.endswith("/" + member)), None)
            if name is None:
                raise DataUnavailable(f"{shown(archive)} has no {member}: delete it and download it again")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(name) as source, open(target.with_name(target.name + ".part"), "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            target.with_name(target.name + ".part").rename(target)
    return target


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


MNIST_FILES = {  # split -> (images, labels), as the publishers name the files
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
# MD5s of the unpacked IDX files: the official ones, and the known rebuilt copies of Fashion-MNIST's
# images (from Zalando's PNGs; the official unpacked images' MD5 is not published, so those are not strict).
MNIST_CONTENTS = {
    "mnist": {"train-images-idx3-ubyte": {"6bbc9ace898e44ae57da46a324031adb": "the official file"},
              "train-labels-idx1-ubyte": {"a25bea736e30d166cdddb491f175f624": "the official file"},
              "t10k-images-idx3-ubyte": {"2646ac647ad5339dbf082846283269ea": "the official file"},
              "t10k-labels-idx1-ubyte": {"27ae3e4e09519cfbb04c329615203637": "the official file"}},
    "fashion": {"train-images-idx3-ubyte": {"f4a8712d7a061bf5bd6d2ca38dc4d50a": "rebuilt from Zalando's PNGs"},
                "train-labels-idx1-ubyte": {"9018921c3c673c538a1fc5bad174d6f9": "the official file"},
                "t10k-images-idx3-ubyte": {"8181f5470baa50b63fa0f6fddb340f0a": "rebuilt from Zalando's PNGs"},
                "t10k-labels-idx1-ubyte": {"15d484375f8d13e6eb1aabb0c3f46965": "the official file"}},
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def mnist_folder(kind: str, root: Path | None = None) -> Path:
    return Path(root or data_root()) / mnist_subfolder(kind)


def mnist_subfolder(kind: str) -> str:
    return {"mnist": "MNIST", "fashion": "FashionMNIST"}[kind] + "/raw"


def mnist_data_file(kind: str, name: str) -> DataFile:
    """One IDX file of MNIST or Fashion-MNIST (``name`` as published, with or without ``.gz``)."""
    plain = name.removesuffix(".gz")
    base_url, md5s = MNIST_SOURCES[kind]
    contents = MNIST_CONTENTS[kind][plain]
    return DataFile(f"{'Fashion-MNIST' if kind == 'fashion' else 'MNIST'} {plain}", mnist_subfolder(kind), plain,
                    contents, Archive(base_url + plain + ".gz", plain + ".gz", md5s[plain + ".gz"]),
                    strict="the official file" in contents.values())


def load_mnist(kind: str = "mnist", split: str = "train", root: Path | None = None,
               download_missing: bool = True, check: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 of MNIST (``kind="mnist"``) or
    Fashion-MNIST (``kind="fashion"``), read from the IDX files (``.gz`` or unpacked), downloading
    the official files with their checksums when missing. ``check=False``: generated files (smoke runs)."""
    images, labels = (read_idx(mnist_file(kind, name, root, download_missing, check)) for name in MNIST_FILES[split])
    return images, labels.long()


def mnist_file(kind: str, name: str, root: Path | None = None, download_missing: bool = True,
               check: bool = True) -> Path:
    """One IDX file (a name of ``MNIST_FILES``), unpacked or gzipped, checked; downloaded when missing."""
    return locate(mnist_data_file(kind, name), root, download_missing, check=check)


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
SENTIMENT140_FILES = {
    # No MD5 of the unpacked 1.6 M-row file is published: any copy is used (the loader checks the
    # format); the known subset is named so that figures measured on it say so.
    SENTIMENT140_TRAIN: DataFile(
        "sentiment140's training file", "sentiment140", SENTIMENT140_TRAIN,
        {"88f67e721153f8bb7eeb04cdea350e62": "a 44k real subset (44,113 tweets, 2.8% of the 1.6 M)"},
        Archive(SENTIMENT140_URL, "trainingandtestdata.zip", SENTIMENT140_MD5, member=SENTIMENT140_TRAIN),
        strict=False),
    SENTIMENT140_TEST: DataFile(
        "sentiment140's test file", "sentiment140", SENTIMENT140_TEST,
        {"44464826a4d60db268e13fcd3cfebfe1": "the official test file (498 tweets, 359 positive or negative)"},
        Archive(SENTIMENT140_URL, "trainingandtestdata.zip", SENTIMENT140_MD5, member=SENTIMENT140_TEST)),
}


def sentiment140_csv(root: Path | None = None, test: bool = False, download_missing: bool = True) -> Path:
    """Path of sentiment140's training (or test) CSV, unpacked: from the CSV, its ``.gz``, or the
    official zip (downloaded with its MD5 when missing)."""
    file = SENTIMENT140_FILES[SENTIMENT140_TEST if test else SENTIMENT140_TRAIN]
    return locate(file, root, download_missing, unpacked=True)


# ---------------------------------------------------------------------------------------------
# GloVe 6B (https://nlp.stanford.edu/projects/glove/), in any of its dimensions

GLOVE_DIMS = (100, 50, 200, 300)  # the order a dimension is looked for when none is asked for
D2L_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"
GLOVE_D2L_SHA1 = {  # d2l.ai's zips of GloVe 6B and the SHA-1s d2l publishes (d2l-en, DATA_HUB)
    50: "0b8703943ccdb6eb788e6f091b8946e82231bc4d", 100: "cd43bfb07e44e6f27cbcc7bc9ae3d80284fdaf5a"}
GLOVE_KNOWN = {"c6999d5cbc3107097e0e1531222604b6": "GloVe 6B 50d, its 100,000 most frequent words"}


def glove_path(root: Path | None = None, dim: int | None = None, download_missing: bool = True) -> Path:
    """GloVe 6B vectors in GloVe's text format ("word v1 ... vd" per line), unpacked, in dimension
    ``dim`` or (``None``) whichever the data root has: ``glove.6B.<d>d.txt`` (or a file named
    ``glove.6B.<d>d.<anything>.txt``, e.g. a top-100k cut), its ``.gz``, d2l's ``glove.6B.<d>d.zip``
    or Stanford's ``glove.6B.zip``. When none is there, d2l's 100d zip is downloaded (SHA-1 checked)."""
    folder = Path(root or data_root()) / "glove"
    for size in [dim] if dim else GLOVE_DIMS:
        found = glove_in(folder, size)
        if found:
            check_glove(found)
            return found
    size = dim or 100
    if not download_missing or size not in GLOVE_D2L_SHA1:
        raise DataUnavailable(f"GloVe 6B vectors are missing: put glove.6B.{size}d.txt (or its .gz, or glove.6B.zip) "
                              f"in {shown(folder)} (from https://nlp.stanford.edu/projects/glove/)")
    archive = download(f"{D2L_URL}glove.6B.{size}d.zip", folder / f"glove.6B.{size}d.zip", GLOVE_D2L_SHA1[size], "sha1")
    return extract(archive, "vec.txt", writable_folder(folder) / f"glove.6B.{size}d.txt")


def glove_in(folder: Path, size: int) -> Path | None:
    """The ``size``-dimensional GloVe file of ``folder`` in any of its forms, unpacked; None if absent."""
    for pattern in (f"glove.6B.{size}d.txt", f"glove.6B.{size}d.*txt", f"glove.6B.{size}d.txt.gz",
                    f"glove.6B.{size}d.*txt.gz"):
        for path in sorted(folder.glob(pattern)) + sorted(cached_copy(folder).glob(pattern)):
            return unpack(path) if path.suffix == ".gz" else path
    d2l_zip, stanford_zip = folder / f"glove.6B.{size}d.zip", folder / "glove.6B.zip"
    if d2l_zip.exists():
        checked(d2l_zip, GLOVE_D2L_SHA1.get(size), "sha1")
        return extract(d2l_zip, "vec.txt", writable_folder(folder) / f"glove.6B.{size}d.txt")
    if stanford_zip.exists() and f"glove.6B.{size}d.txt" in zipfile.ZipFile(stanford_zip).namelist():
        return extract(stanford_zip, f"glove.6B.{size}d.txt", writable_folder(folder) / f"glove.6B.{size}d.txt")
    return None


def check_glove(path: Path) -> str:
    """What GloVe copy ``path`` is; a DataUnavailable when its first line is not "word v1 ... vd"."""
    with open(path, encoding="utf-8") as stream:
        parts = stream.readline().rstrip().split(" ")
    try:
        [float(value) for value in parts[1:]]
    except ValueError:
        parts = []
    if len(parts) < 2:
        raise DataUnavailable(f"{shown(path)} is not in GloVe's text format (\"word v1 v2 ... vd\" per line): "
                              "delete it and download it again")
    return GLOVE_KNOWN.get(file_digest(path), f"GloVe 6B {len(parts) - 1}d")


# ---------------------------------------------------------------------------------------------
# The English-French pairs of the PyTorch translation tutorial, as d2l.ai packs them

FRA_ENG = DataFile("the English-French pairs (fra.txt)", "fra-eng", "fra.txt",
                   {"cebd8a015c7f8c813d2c7f52716ea2dd": "d2l's fra.txt (167,130 pairs)"},
                   Archive(D2L_URL + "fra-eng.zip", "fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5", "sha1",
                           member="fra.txt"))


def eng_fra_path(root: Path | None = None, download_missing: bool = True) -> Path:
    """The English-French pairs ("English<TAB>French" lines), unpacked: ``fra.txt``, its ``.gz``, or
    d2l's ``fra-eng.zip`` (downloaded with its SHA-1 when missing)."""
    return locate(FRA_ENG, root, download_missing, unpacked=True)


# ---------------------------------------------------------------------------------------------
# Tiny Shakespeare (Karpathy's char-rnn corpus; SHA-256 from TensorFlow Datasets' url_checksums)

TINY_SHAKESPEARE = DataFile(
    "Tiny Shakespeare (input.txt)", "tinyshakespeare", "input.txt",
    {"6fb458f1232090904fb40fe944165e91": "char-rnn's input.txt (1,115,394 characters)"},
    Archive("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", "sha256"))


# ---------------------------------------------------------------------------------------------
# Generated tweets in sentiment140's format, for smoke runs and tests

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
