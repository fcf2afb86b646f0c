"""What `benchmarks/reference.py` measures for each assignment with trained models.

A spec says which data files the master needs (each with the handout's own fetch function, which
downloads where there is internet and otherwise says where to put the file), which cell trains
which model (the cell that assigns a variable) and which share of the time budget it had (the
name the master gives its ``coursekit.budget`` deadline), the metrics to record (expressions in
the master's namespace, recorded after every cell as soon as they can be evaluated, so a run that
dies keeps what it measured), and how those metrics become rows of the results table. The models
are the masters' own: nothing here re-implements them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# A data requirement: (what it is, fetch(data_root) that returns its path or raises with a message).
Requirement = tuple[str, Callable[[Path], object]]


@dataclass(frozen=True)
class Row:
    model: str
    metric: str
    result: str
    compare_with: str = ""
    trained_by: str = ""  # the variable whose cell trains the model; its wall time is reported
    loop: str = ""  # the training loop's name in the master's coursekit.budget deadline: its share of the budget


@dataclass(frozen=True)
class ReferenceSpec:
    slug: str
    requirements: Callable[[], list[Requirement]]  # imported lazily: the helpers import torch
    metrics: dict[str, str]  # name -> expression in the master's namespace, recorded after every cell
    rows: Callable[[dict], list[Row]]  # the rows whose metrics were recorded (all of them when the master ran through)
    samples: str = ""  # code run after the master that saves generated images (samples.pt) for the script to judge


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def idx_files(kind: str, what: str) -> list[Requirement]:
    """The four IDX files of MNIST (``kind="mnist"``) or Fashion-MNIST (``"fashion"``), one by one."""
    from coursekit.data import MNIST_FILES, mnist_file

    return [(f"{what} {name}", lambda root, name=name: mnist_file(kind, name, root))
            for split in ("train", "test") for name in MNIST_FILES[split]]


# --- rnn: the LSTM on sentiment140 ------------------------------------------------------------

def sentiment140_files() -> list[Requirement]:
    """The training file the master learns from and the official test file the 85% test uses."""
    from coursekit.data import sentiment140_csv

    return [("sentiment140's training file", sentiment140_csv),
            ("sentiment140's official test file (the 85% test)", lambda root: sentiment140_csv(root, test=True))]


def glove_file() -> list[Requirement]:
    from coursekit.data import glove_path

    return [("GloVe 6B (any dimension)", glove_path)]


def rnn_requirements() -> list[Requirement]:
    return sentiment140_files() + glove_file()


def rnn_rows(m: dict) -> list[Row]:
    if "test_accuracy" not in m:
        return []
    return [Row("LSTM (SentimentRNN)", "test accuracy on a 20% split of the training file", percent(m["test_accuracy"]),
                "bar: 85%", trained_by="history", loop="SentimentRNN")]


RNN = ReferenceSpec(
    "rnn", rnn_requirements,
    metrics={"test_accuracy": "test_accuracy", "epochs": 'len(history["val_acc"])'},
    rows=rnn_rows)


# --- attention: Transformer against the tutorial's RNN seq2seq, BLEU ----------------------------

def attention_requirements() -> list[Requirement]:
    from coursekit.data import eng_fra_path

    return idx_files("mnist", "MNIST") + [("the tutorial's English-French pairs", eng_fra_path)] + glove_file()


def attention_rows(m: dict) -> list[Row]:
    if "bleu" not in m:
        return []
    rows = []
    for model, trained_by, loop in (("Transformer", "transformer_losses", "Transformer"),
                                    ("RNN + attention (tutorial)", "rnn_losses", "RNN + attention")):
        for decoding in ("greedy", "beam 4"):
            rows.append(Row(f"{model}, {decoding}", f"BLEU on {m['sentences']} held-out pairs",
                            f"{m['bleu'][f'{model}|{decoding}']:.2f}",
                            "the RNN rows" if model == "Transformer" else "", trained_by, loop))
    return rows


ATTENTION = ReferenceSpec(
    "attention", attention_requirements,
    metrics={"sentences": "len(eval_pairs)",
             "bleu": '{f"{name}|{decoding}": bleu for (name, decoding), (bleu, _) in results.items()}'},
    rows=attention_rows)


# --- transformers: Transformer sentiment, its LSTM comparison, the language model ---------------

def transformers_requirements() -> list[Requirement]:
    from transformers_data import tiny_shakespeare

    return [("Tiny Shakespeare (input.txt)", tiny_shakespeare)] + sentiment140_files() + glove_file()


def transformers_rows(m: dict) -> list[Row]:
    rows = []
    if "transformer_accuracy" in m:
        rows.append(Row("Transformer encoder classifier", "test accuracy on a 20% split of the training file",
                        percent(m["transformer_accuracy"]), "bar: 85%", "classifier_seconds", "Transformer classifier"))
    if "lstm_accuracy" in m:
        rows.append(Row("LSTM, same data and budget", "test accuracy on a 20% split of the training file",
                        percent(m["lstm_accuracy"]), "the Transformer row", "lstm_seconds", "LSTM classifier"))
    if "decoder_val_ppl" in m:
        rows.append(Row("decoder-only language model", "Tiny Shakespeare validation perplexity (characters)",
                        f"{m['decoder_val_ppl']:.2f}", f"uniform guess: {m['vocabulary'] - 1}", "decoder_losses",
                        "decoder-only LM"))
    return rows


TRANSFORMERS = ReferenceSpec(
    "transformers", transformers_requirements,
    metrics={"transformer_accuracy": "transformer_accuracy", "lstm_accuracy": "lstm_accuracy",
             "decoder_val_ppl": "decoder_val_ppl", "vocabulary": "len(tokenizer)"},
    rows=transformers_rows)


# --- gnn: GNN against the features-only MLP on chameleon ---------------------------------------

def gnn_requirements() -> list[Requirement]:
    from gnn_data import fetch_raw

    return [("WikipediaNetwork chameleon (chameleon.npz, its SHA-256 pinned in gnn_data.py)", lambda root: fetch_raw(root / "wikipedia", "chameleon"))]


def gnn_rows(m: dict) -> list[Row]:
    rows = []
    if "gnn_mae" in m and "constant_mae" in m:
        rows.append(Row("GNN regressor", "MAE on the notebook's test split of its 80% of chameleon", f"{m['gnn_mae']:.3f}",
                        f"constant: {m['constant_mae']:.3f}", "gnn_history"))
    if "mlp_mae" in m:
        rows.append(Row("features-only MLP", "MAE on the notebook's test split of its 80% of chameleon", f"{m['mlp_mae']:.3f}", "the GNN row",
                        "mlp_history"))
    return rows


GNN = ReferenceSpec(
    "gnn", gnn_requirements,
    metrics={"gnn_mae": 'gnn_history["test"][-1]', "mlp_mae": 'mlp_history["test"][-1]',
             "constant_mae": "float(constant_mae)"},
    rows=gnn_rows)


# --- generative: samples of the four models, judged by a classifier the script trains ------------

def generative_requirements() -> list[Requirement]:
    return idx_files("fashion", "Fashion-MNIST")


GENERATIVE_SAMPLES = '''
import os as _os
from coursekit.budget import budget_minutes as _budget_minutes
_count = 100 if SMOKE else 1000
# 1000 reverse steps for 1000 images take over an hour on a 2-core CPU (for 50, 3 min): with a time budget there, 50
_ddpm_count = 50 if _budget_minutes() is not None and device.type == "cpu" and not SMOKE else _count
torch.manual_seed(0)
_asked_for = torch.arange(10, device=device).repeat_interleave(_count // 10)
with torch.no_grad():
    generator.eval(), cond_generator.eval(), vae.eval()
    _samples = {
        "GAN": (generator(torch.randn(_count, LATENT_DIM, device=device)) + 1) / 2,
        "conditional GAN": (cond_generator(torch.randn(len(_asked_for), LATENT_DIM, device=device), _asked_for) + 1) / 2,
        "VAE": vae.decode(torch.randn(_count, VAE_LATENT_DIM, device=device))[0],  # the means of p(x|z)
        "DDPM": torch.cat([(ddpm_sample(noise_model, betas, count=n, snapshots=1)[0] + 1) / 2
                           for n in [250] * (_ddpm_count // 250) + [_ddpm_count % 250] if n]),
    }
_samples = {name: images.float().clamp(0, 1).cpu() for name, images in _samples.items()}
torch.save({"images": _samples, "asked_for": _asked_for.cpu()}, _os.path.join(_os.environ["KIT_REFERENCE_OUT"], "samples.pt"))
'''


def generative_rows(m: dict) -> list[Row]:
    """Filled in by the script after it has scored the samples (see ``sample_quality``)."""
    if "quality" not in m:
        return []
    quality = m["quality"]
    rows = [Row("Fashion-MNIST classifier (the yardstick)", "test accuracy", percent(quality["classifier_accuracy"])),
            Row("real test images", "classifier score", f"{quality['real']:.2f}", "at most 10")]
    trained_by = {"GAN": "gan_history", "conditional GAN": "cgan_history", "VAE": "vae_history",
                  "DDPM": "ddpm_history"}
    for model, variable in trained_by.items():
        count = m["ddpm_samples"] if model == "DDPM" else m["samples"]
        rows.append(Row(model, f"classifier score of {count} samples", f"{quality[model]:.2f}",
                        "real test images", variable, model))
    rows.append(Row("conditional GAN", "label agreement (class asked for = class seen)",
                    percent(quality["agreement"]), "chance: 10%", loop="conditional GAN"))
    return rows


GENERATIVE = ReferenceSpec("generative", generative_requirements,
                           metrics={"samples": "_count", "ddpm_samples": "_ddpm_count"}, rows=generative_rows,
                           samples=GENERATIVE_SAMPLES)

SPECS = {spec.slug: spec for spec in (RNN, ATTENTION, TRANSFORMERS, GNN, GENERATIVE)}
