"""A simple sample-quality yardstick for the generative models: a small Fashion-MNIST classifier.

The script trains the classifier itself, on the real training images, and reports its test
accuracy so that the yardstick can be judged too. With it:

* **classifier score**: exp(E_x KL(p(y|x) || p(y))) over the samples, the Inception Score with a
  Fashion-MNIST classifier in place of Inception. It is high (at most 10) when each sample is
  confidently one class and the samples cover the classes evenly; real test images give the
  ceiling to compare with.
* **label agreement** (conditional GAN): how often the classifier names the class that the
  generator was asked for.

Images are ``(N, 1, 28, 28)`` floats in [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FashionClassifier(nn.Module):
    """Two conv blocks and a linear layer; the script reports its test accuracy beside the scores."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(64 * 7 * 7, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images * 2 - 1))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int, device: torch.device,
                     batch_size: int = 256, seed: int = 0) -> FashionClassifier:
    """Adam on shuffled mini-batches; returns the model in eval mode on ``device``."""
    torch.manual_seed(seed)
    model = FashionClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(images)).split(batch_size):
            loss = F.cross_entropy(model(images[batch].to(device)), labels[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def class_probabilities(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    device = next(model.parameters()).device
    return torch.cat([F.softmax(model(chunk.to(device)), dim=1).cpu() for chunk in images.split(batch_size)])


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((class_probabilities(model, images).argmax(1) == labels).float().mean())


def classifier_score(model: nn.Module, images: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))): 1 for samples that say nothing, 10 for ten sharp, even classes."""
    p_y_given_x = class_probabilities(model, images).clamp_min(1e-12)
    p_y = p_y_given_x.mean(0, keepdim=True)
    kl = (p_y_given_x * (p_y_given_x.log() - p_y.log())).sum(1)
    return float(kl.mean().exp())


def label_agreement(model: nn.Module, images: torch.Tensor, asked_for: torch.Tensor) -> float:
    """The fraction of conditional samples that the classifier puts in the class asked for."""
    return accuracy(model, images, asked_for)
