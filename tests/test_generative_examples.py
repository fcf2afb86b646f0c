"""The sample submissions of examples/generative/ grade as expected through the real `grade` command."""

import pytest
from conftest import KIT_ROOT, grade

EXAMPLES = KIT_ROOT / "examples" / "generative"

# The partial submission's bugs: the tests each one must fail, and nothing else.
PARTIAL_FAILS = {
    # discriminator_loss with the targets swapped
    "discriminator_loss: matches the binary cross-entropy formula on 4 real and 4 fake logits",
    "discriminator_loss: matches BCE-with-logits(real, 1) + BCE-with-logits(fake, 0) on random logits",
    # reparameterize with exp(logvar) as the standard deviation
    "VAE: reparameterize: the gradient with respect to logvar is eps * exp(logvar / 2) / 2",
    "VAE: reparameterize: 20 000 draws have mean mu and standard deviation exp(logvar / 2)",
    # the KL without its 1/2
    "vae_loss: matches torch.distributions: Gaussian negative log-likelihood plus the closed-form KL, "
    "averaged over a batch of 2",
    "vae_loss: KL term: -1/2 sum(1 + logvar - mu^2 - exp(logvar)), averaged over the batch",
    "vae_loss: back-propagates the gradients of torch.distributions' negative ELBO into x_mean, x_logvar, mu "
    "and logvar",
    # q_sample with one step's alpha_t instead of the cumulative product (ddpm_loss calls it)
    "q_sample: matches sqrt(abar_t) x0 + sqrt(1 - abar_t) noise on a batch of 2",
    "q_sample: matches sqrt(abar_t) x0 + sqrt(1 - abar_t) noise with a different t per image",
    "q_sample: works for images of another shape: (3, 3, 8, 8)",
    "ddpm_loss: equals mean((model(x_t, t) - noise)^2) for a stand-in model",
    "ddpm_loss: back-propagates into the model's parameters",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("generative-examples")
    return {path.stem: grade("generative", path, out / f"{path.stem}.json") for path in sorted(EXAMPLES.glob("*.ipynb"))}


def test_the_examples_are_there():
    assert {p.stem for p in EXAMPLES.glob("*.ipynb")} == {"full_credit", "partial_credit"}


def test_other_architectures_and_formulas_get_full_credit(results):
    result = results["full_credit"]
    total = sum(t["max_score"] for t in result["tests"])
    assert result["score"] == total, [t["name"] for t in result["tests"] if t["score"] < t["max_score"]]


def test_the_partial_submission_loses_exactly_its_bugs(results):
    result = results["partial_credit"]
    failed = {t["name"] for t in result["tests"] if t["score"] < t["max_score"]}
    assert failed == PARTIAL_FAILS
    lost = sum(t["max_score"] for t in result["tests"] if t["name"] in PARTIAL_FAILS)
    assert result["score"] == sum(t["max_score"] for t in result["tests"]) - lost == 25.25
