"""Self-checks for the generative assignment: run them from the notebook with check("name").

These are the visible tests; the autograder also runs hidden ones on more cases. Every reference
is computed here from torch's built-ins or the closed forms of the notebook.
"""
import torch
import torch.nn.functional as F

from coursekit.testing import as_tensor, call, expect, expect_close, expect_shape, test


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def generator_images(ns, latent_dim, z):
    """Generator(latent_dim)(z), in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["Generator"](latent_dim)
    model.eval()
    with torch.no_grad():
        return model(z)


def discriminator_logits(ns, x):
    """Discriminator()(x), in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["Discriminator"]()
    model.eval()
    with torch.no_grad():
        return model(x)


def conditional_images(ns, latent_dim, num_classes, z, labels):
    """ConditionalGenerator(latent_dim, num_classes)(z, labels), in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["ConditionalGenerator"](latent_dim, num_classes)
    model.eval()
    with torch.no_grad():
        return model(z, labels)


def conditional_logits(ns, num_classes, x, labels):
    """ConditionalDiscriminator(num_classes)(x, labels), in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["ConditionalDiscriminator"](num_classes)
    model.eval()
    with torch.no_grad():
        return model(x, labels)


def vae_outputs(ns, latent_dim, x):
    """VAE(latent_dim): encode, decode and forward"""
    import torch

    torch.manual_seed(0)
    vae = ns["VAE"](latent_dim)
    vae.eval()
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        decoded = vae.decode(torch.randn(len(x), latent_dim))
        forward = vae(x)
    listed = lambda out: list(out) if isinstance(out, tuple) else out
    return {"mu": mu, "logvar": logvar, "decoded": listed(decoded), "forward": listed(forward)}


def zero_model_ddpm_loss(ns, x0, t, noise, alphas_cumprod):
    """ddpm_loss with a model that always predicts 0"""
    import torch

    def model(x, t):
        return torch.zeros_like(x)

    return ns["ddpm_loss"](model, x0, t, noise, alphas_cumprod)


def expect_in_range(images, low, high, what, hint):
    expect(bool(torch.isfinite(images).all()), f"{what}: contains NaN or inf")
    expect(float(images.min()) >= low - 1e-6 and float(images.max()) <= high + 1e-6,
           f"{what}: values range over [{float(images.min()):.3g}, {float(images.max()):.3g}], "
           f"expected within [{low:g}, {high:g}]. {hint}")


@test("Generator", "maps noise (4, 16) to images (4, 1, 28, 28) in [-1, 1]")
def generator_shape(sub):
    z = torch.randn(4, 16, generator=seeded(0))
    images = sub.run(generator_images, 16, z)
    expect_shape(images, (4, 1, 28, 28), "Generator(16)(z) for z of shape (4, 16)")
    expect_in_range(images, -1.0, 1.0, "Generator(16)(z)", "End the generator with tanh.")


@test("Discriminator", "returns one logit per image: shape (4,) for images (4, 1, 28, 28)")
def discriminator_shape(sub):
    x = torch.rand(4, 1, 28, 28, generator=seeded(1)) * 2 - 1
    logits = sub.run(discriminator_logits, x)
    expect(isinstance(logits, torch.Tensor), "Discriminator()(x) should return a tensor of logits")
    expect_shape(logits, (4,), "Discriminator()(x) for x of shape (4, 1, 28, 28)"
                 + (" (squeeze the last dimension: logits.squeeze(1))" if tuple(logits.shape) == (4, 1) else ""))


@test("discriminator_loss", "matches the binary cross-entropy formula on 4 real and 4 fake logits")
def discriminator_loss_small(sub):
    real, fake = torch.tensor([2.0, -1.0, 0.5, 3.0]), torch.tensor([-2.0, 1.0, 0.0, -0.5])
    expected = (F.binary_cross_entropy_with_logits(real, torch.ones(4))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros(4)))
    expect_close(sub.run(call, "discriminator_loss", real, fake), expected, "discriminator_loss(real, fake)",
                 "L_D = -mean log sigmoid(real) - mean log(1 - sigmoid(fake)): real target 1, fake target 0")


@test("generator_loss", "matches -mean log sigmoid(fake_logits) on 4 logits")
def generator_loss_small(sub):
    fake = torch.tensor([-2.0, 1.0, 0.0, -0.5])
    expected = F.binary_cross_entropy_with_logits(fake, torch.ones(4))
    expect_close(sub.run(call, "generator_loss", fake), expected, "generator_loss(fake)",
                 "the non-saturating loss labels the fakes as real: target 1")


@test("ConditionalGenerator", "maps noise (10, 16) and labels 0..9 to images (10, 1, 28, 28) in [-1, 1]")
def conditional_generator_shape(sub):
    z = torch.randn(10, 16, generator=seeded(2))
    images = sub.run(conditional_images, 16, 10, z, torch.arange(10))
    expect_shape(images, (10, 1, 28, 28), "ConditionalGenerator(16)(z, labels)")
    expect_in_range(images, -1.0, 1.0, "ConditionalGenerator(16)(z, labels)", "End the generator with tanh.")


@test("ConditionalDiscriminator", "returns logits of shape (10,) for images and labels 0..9")
def conditional_discriminator_shape(sub):
    x = torch.rand(10, 1, 28, 28, generator=seeded(3)) * 2 - 1
    logits = sub.run(conditional_logits, 10, x, torch.arange(10))
    expect(isinstance(logits, torch.Tensor), "ConditionalDiscriminator()(x, labels) should return a tensor")
    expect_shape(logits, (10,), "ConditionalDiscriminator()(x, labels)")


@test("VAE", "encode gives (mu, logvar); decode gives (x_mean, x_logvar) of shape (3, 1, 28, 28); "
             "forward gives (x_mean, x_logvar, mu, logvar)")
def vae_shapes(sub):
    x = torch.rand(3, 1, 28, 28, generator=seeded(4))
    got = sub.run(vae_outputs, 8, x)
    expect_shape(got["mu"], (3, 8), "mu from encode(x) with latent_dim 8")
    expect_shape(got["logvar"], (3, 8), "logvar from encode(x) with latent_dim 8")
    decoded, forward = got["decoded"], got["forward"]
    expect(isinstance(decoded, list) and len(decoded) == 2,
           "decode(z) should return (x_mean, x_logvar): the mean and log-variance of the Gaussian p(x|z)")
    expect_shape(decoded[0], (3, 1, 28, 28), "x_mean from decode(z) for z of shape (3, 8)")
    expect_shape(decoded[1], (3, 1, 28, 28), "x_logvar from decode(z) for z of shape (3, 8)")
    expect(isinstance(forward, list) and len(forward) == 4, "forward(x) should return (x_mean, x_logvar, mu, logvar)")
    expect_shape(forward[0], (3, 1, 28, 28), "x_mean from forward(x)")


@test("vae_loss", "matches torch.distributions: Gaussian negative log-likelihood plus the closed-form KL, "
                  "averaged over a batch of 2")
def vae_loss_small(sub):
    from torch.distributions import Normal, kl_divergence

    generator = seeded(5)
    x = torch.rand(2, 1, 28, 28, generator=generator)
    x_mean = torch.rand(2, 1, 28, 28, generator=generator)
    x_logvar = torch.randn(2, 1, 28, 28, generator=generator) * 0.5 - 1
    mu, logvar = torch.randn(2, 3, generator=generator), torch.randn(2, 3, generator=generator)
    nll = -Normal(x_mean, (0.5 * x_logvar).exp()).log_prob(x).sum()
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(2, 3), torch.ones(2, 3))).sum()
    expect_close(sub.run(call, "vae_loss", x, x_mean, x_logvar, mu, logvar), (nll + kl) / 2,
                 "vae_loss(x, x_mean, x_logvar, mu, logvar)", rtol=1e-4,
                 hint="per image: 1/2 sum over pixels of [log(2 pi) + x_logvar + (x - x_mean)^2 / exp(x_logvar)] plus "
                      "the KL summed over latent dims; then the mean over the batch")


@test("linear_beta_schedule", "has T = 10 values from beta_start to beta_end")
def beta_schedule_small(sub):
    betas = sub.run(call, "linear_beta_schedule", 10)
    expect_shape(betas, (10,), "linear_beta_schedule(10)")
    expect_close(as_tensor(betas, "betas")[[0, -1]], torch.tensor([1e-4, 0.02]), "first and last beta",
                 "the schedule includes both end points")


@test("q_sample", "matches sqrt(abar_t) x0 + sqrt(1 - abar_t) noise on a batch of 2")
def q_sample_small(sub):
    generator = seeded(6)
    x0, noise = torch.randn(2, 1, 28, 28, generator=generator), torch.randn(2, 1, 28, 28, generator=generator)
    alphas_cumprod = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), dim=0)
    t = torch.tensor([10, 900])
    abar = alphas_cumprod[t].view(-1, 1, 1, 1)
    expected = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    expect_close(sub.run(call, "q_sample", x0, t, noise, alphas_cumprod), expected, "q_sample(x0, t, noise, abar)",
                 "item i uses alphas_cumprod[t[i]], square roots of abar and of 1 - abar")


@test("ddpm_loss", "is mean(noise^2) for a model that always predicts 0")
def ddpm_loss_zero_model(sub):
    generator = seeded(7)
    x0, noise = torch.randn(2, 1, 28, 28, generator=generator), torch.randn(2, 1, 28, 28, generator=generator)
    alphas_cumprod = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), dim=0)
    got = sub.run(zero_model_ddpm_loss, x0, torch.tensor([3, 500]), noise, alphas_cumprod)
    expect_close(got, (noise**2).mean(), "ddpm_loss with a model predicting 0",
                 "the target is the noise, and the error is averaged over every entry")
