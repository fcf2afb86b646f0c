"""Helpers for the generative assignment: Fashion-MNIST as tensors, image grids, loss curves.

The data comes through ``coursekit.data`` (the course's one IDX loader, shared with the MNIST of the
`attention` assignment; it sits beside this file in the handout). Nothing here is graded;
``coursekit.data``, matplotlib and tqdm are imported only when used, so importing this module is cheap.
"""
from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["fashion_mnist", "progress", "show_grid", "plot_losses",
           "save_model", "load_model"]


def fashion_mnist(split: str = "train", smoke: bool = False, root: Path | None = None,
                  smoke_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images ``(N, 1, 28, 28)`` as floats in [0, 1] and labels ``(N,)`` (int64).

    Reads the real IDX files under ``root`` (default ``$KIT_DATA`` or ``./data``), downloading them
    with their checksums when missing. With ``smoke=True`` it first writes a small generated data
    set in the same format (``smoke_size`` training images), for quick runs without internet; it
    lives in its own folder (``<root>/smoke``), so that a real run never reads generated files.
    """
    from coursekit.data import data_root, load_mnist, mnist_folder, write_fake_mnist

    root = Path(root or data_root()) / ("smoke" if smoke else "")
    if smoke and not (mnist_folder("fashion", root) / "train-images-idx3-ubyte.gz").exists():
        write_fake_mnist("fashion", root, n_train=smoke_size, n_test=max(10, smoke_size // 5))
    images, labels = load_mnist("fashion", split, root, download_missing=not smoke, check=not smoke)
    return images.unsqueeze(1).float() / 255.0, labels


def progress(iterable, **options):
    """``tqdm`` progress bar (the notebook flavour inside Jupyter)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, **options)


def show_grid(images: torch.Tensor, nrow: int = 10, title: str = "", row_labels: list[str] | None = None,
              value_range: tuple[float, float] = (0.0, 1.0), path: str | Path | None = None):
    """Show images ``(N, 1, 28, 28)`` in a grid of ``nrow`` columns; ``value_range`` is what maps to
    black and white (use (-1, 1) for tanh outputs). Saves the figure to ``path`` when given.

    The grid is tiled into one picture (as torchvision's ``make_grid`` does) and drawn with one
    ``imshow``: a hundred separate axes took matplotlib about 1.7 s per grid."""
    import matplotlib.pyplot as plt

    low, high = value_range
    tiles = images.detach().float().cpu()[:, 0].clamp(low, high)
    count, height, width = tiles.shape
    rows, gap = (count + nrow - 1) // nrow, 2
    canvas = torch.full((rows * (height + gap) - gap, nrow * (width + gap) - gap), high)  # white between tiles
    for index in range(count):
        top, left = (index // nrow) * (height + gap), (index % nrow) * (width + gap)
        canvas[top:top + height, left:left + width] = tiles[index]
    figure, axis = plt.subplots(figsize=(nrow * 0.9, rows * 0.9 + (0.4 if title else 0)))
    axis.imshow(canvas.numpy(), cmap="gray", vmin=low, vmax=high)
    axis.set_xticks([])
    axis.set_yticks([(height + gap) * row + height / 2 for row in range(len(row_labels or []))])
    axis.set_yticklabels(row_labels or [], fontsize=8)
    axis.tick_params(length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=80)
    plt.show()
    return figure


def plot_losses(history: dict[str, list[float]], title: str = "", path: str | Path | None = None):
    """Plot one curve per entry of ``history`` (loss per training step)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3))
    for name, values in history.items():
        axis.plot(values, label=name, linewidth=1)
    axis.set_xlabel("training step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=80)
    plt.show()
    return figure


def save_model(model: torch.nn.Module, path: str | Path) -> Path:
    """Save ``model``'s weights (its state dict) to ``path``, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def load_model(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load weights saved by :func:`save_model` into ``model`` (on the model's device)."""
    device = next(model.parameters()).device
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model
