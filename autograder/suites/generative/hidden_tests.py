"""Hidden tests for the generative assignment (only in the Gradescope autograder.zip).

Architectures are the student's choice, so models are checked by their contracts (shapes,
ranges, dependence on the input and the label, gradients), freshly built from the student's
classes. Losses and the diffusion process are checked against torch's built-ins (the VAE's
negative ELBO against torch.distributions) and the closed forms, computed here from seeded inputs.
"""
import math

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from coursekit.testing import (CheckFailed, StudentCodeError, as_tensor, call, describe, expect, expect_close, expect_shape,
                               tensor_of, test)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(a, b, atol=1e-5, rtol=1e-4) -> bool:
    a, b = as_tensor(a, "value"), as_tensor(b, "value")
    return a.shape == b.shape and bool(torch.isclose(a, b, atol=atol, rtol=rtol).all())


def diagnose(got, candidates: dict, default: str) -> str:
    """The hint of the first known mistake whose value ``got`` matches, else ``default``."""
    for hint, value in candidates.items():
        if isinstance(got, torch.Tensor) and close(got, value):
            return hint
    return default


def expect_in_range(images, low, high, what, hint):
    expect(bool(torch.isfinite(images).all()), f"{what}: contains NaN or inf")
    expect(float(images.min()) >= low - 1e-6 and float(images.max()) <= high + 1e-6,
           f"{what}: values range over [{float(images.min()):.3g}, {float(images.max()):.3g}], "
           f"expected within [{low:g}, {high:g}]. {hint}")


def max_change(a, b) -> float:
    return float((as_tensor(a, "images") - as_tensor(b, "images")).abs().max())


# ----------------------------------------------------------------------------------------------
# Probes: they run where the student's code lives and return plain data


def generator_batches(ns, cases):
    """Generator(latent_dim)(z) for several latent sizes, in eval mode"""
    import torch

    torch.manual_seed(0)
    outputs = []
    for latent_dim, z in cases:
        model = ns["Generator"](latent_dim)
        model.eval()
        with torch.no_grad():
            outputs.append(model(z))
    return outputs


def generator_input_gradient(ns, z):
    """Generator: backpropagating from the images to z"""
    import torch

    torch.manual_seed(0)
    model = ns["Generator"](z.shape[1])
    z = z.clone().requires_grad_(True)
    images = model(z)
    if isinstance(images, torch.Tensor) and images.requires_grad:
        (images * torch.linspace(-1, 1, images.numel()).view(images.shape)).sum().backward()
    return z.grad


def discriminator_batches(ns, batches):
    """Discriminator()(x) on batches of several sizes, in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["Discriminator"]()
    model.eval()
    with torch.no_grad():
        return [model(x) for x in batches]


def discriminator_input_gradient(ns, x):
    """Discriminator: backpropagating from the logits to the images"""
    import torch

    torch.manual_seed(0)
    model = ns["Discriminator"]()
    x = x.clone().requires_grad_(True)
    logits = model(x)
    if isinstance(logits, torch.Tensor) and logits.requires_grad:
        logits.sum().backward()
    return {"logits": logits, "grad": x.grad}


def conditional_generator_runs(ns, latent_dim, num_classes, z, label_sets):
    """ConditionalGenerator(latent_dim, num_classes)(z, labels) for several label sets, in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["ConditionalGenerator"](latent_dim, num_classes)
    model.eval()
    with torch.no_grad():
        return [model(z, labels) for labels in label_sets]


def conditional_discriminator_runs(ns, num_classes, x, label_sets):
    """ConditionalDiscriminator(num_classes)(x, labels) for several label sets, in eval mode"""
    import torch

    torch.manual_seed(0)
    model = ns["ConditionalDiscriminator"](num_classes)
    model.eval()
    with torch.no_grad():
        return [model(x, labels) for labels in label_sets]


def vae_parts(ns, latent_dim, x, zs):
    """VAE(latent_dim): encode(x), decode(z) and forward(x)"""
    import torch

    torch.manual_seed(0)
    vae = ns["VAE"](latent_dim)
    vae.eval()
    listed = lambda out: list(out) if isinstance(out, tuple) else out
    with torch.no_grad():
        encoded = vae.encode(x)
        decoded = [listed(vae.decode(z)) for z in zs]
        forward = vae(x)
    return {"encoded": listed(encoded), "decoded": decoded, "forward": listed(forward)}


def reparameterize_gradients(ns, mu, logvar):
    """VAE.reparameterize, backpropagated from sum(z)"""
    import torch

    torch.manual_seed(0)
    vae = ns["VAE"](mu.shape[1])
    mu = mu.clone().requires_grad_(True)
    logvar = logvar.clone().requires_grad_(True)
    z = vae.reparameterize(mu, logvar)
    if isinstance(z, torch.Tensor) and z.requires_grad:
        z.sum().backward()
    return {"z": z, "grad_mu": mu.grad, "grad_logvar": logvar.grad}


def reparameterize_draws(ns, mu, logvar, seed):
    """VAE.reparameterize: two draws after torch.manual_seed, and a third after seeding again"""
    import torch

    vae = ns["VAE"](mu.shape[1])
    with torch.no_grad():
        torch.manual_seed(seed)
        first = vae.reparameterize(mu, logvar)
        second = vae.reparameterize(mu, logvar)
        torch.manual_seed(seed)
        again = vae.reparameterize(mu, logvar)
    return {"first": first, "second": second, "again": again}


def vae_loss_gradients(ns, x, x_mean, x_logvar, mu, logvar):
    """vae_loss, backpropagated to x_mean, x_logvar, mu and logvar"""
    import torch

    x_mean, x_logvar, mu, logvar = (v.clone().requires_grad_(True) for v in (x_mean, x_logvar, mu, logvar))
    loss = ns["vae_loss"](x, x_mean, x_logvar, mu, logvar)
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        loss.backward()
    return {"loss": loss, "x_mean": x_mean.grad, "x_logvar": x_logvar.grad, "mu": mu.grad, "logvar": logvar.grad}


def ddpm_loss_with_stand_in(ns, x0, t, noise, alphas_cumprod, scale, shift):
    """ddpm_loss with a stand-in model eps(x, t) = scale * x + shift * t"""
    import torch

    class StandIn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(scale))

        def forward(self, x, t):
            return self.scale * x + shift * t.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))

    model = StandIn()
    loss = ns["ddpm_loss"](model, x0, t, noise, alphas_cumprod)
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        loss.backward()
    return {"loss": loss, "grad": model.scale.grad}


# ----------------------------------------------------------------------------------------------
# GAN


@test("Generator", "maps (N, latent_dim) noise to (N, 1, 28, 28) images in [-1, 1] for latent sizes 16 and 100")
def generator_shapes_and_range(sub):
    generator = seeded(10)
    cases = [(16, torch.randn(5, 16, generator=generator)), (100, 10 * torch.randn(2, 100, generator=generator))]
    outputs = sub.run(generator_batches, cases)
    for (latent_dim, z), images in zip(cases, outputs):
        what = f"Generator({latent_dim})(z) for z of shape {tuple(z.shape)}"
        expect_shape(images, (len(z), 1, 28, 28), what)
        expect_in_range(images, -1.0, 1.0, what, "End the generator with tanh (large z included).")


@test("Generator", "uses the whole range [-1, 1]: some pixels are negative (tanh, not a sigmoid)")
def generator_negative_pixels(sub):
    z = torch.randn(8, 16, generator=seeded(16))
    (images,) = sub.run(generator_batches, [(16, z)])
    expect_shape(images, (8, 1, 28, 28), "Generator(16)(z)")
    expect(float(images.min()) < 0, f"Generator: every pixel of 8 images is >= 0 (min {float(images.min()):.3g}); "
                                    "the real images are scaled to [-1, 1], so end with tanh, not a sigmoid")


@test("Generator", "different noise vectors give different images")
def generator_uses_noise(sub):
    z = torch.randn(3, 16, generator=seeded(11))
    (images,) = sub.run(generator_batches, [(16, z)])
    expect_shape(images, (3, 1, 28, 28), "Generator(16)(z)")
    expect(max_change(images[0], images[1]) > 1e-4 and max_change(images[1], images[2]) > 1e-4,
           "Generator: three different z gave the same image; the output must be computed from z")


@test("Generator", "is differentiable: gradients reach the noise z")
def generator_gradients(sub):
    grad = sub.run(generator_input_gradient, torch.randn(4, 16, generator=seeded(12)))
    expect(isinstance(grad, torch.Tensor), "Generator: z.grad is None after backward; the images must be a "
                                           "differentiable function of z (no .detach(), numpy or torch.no_grad)")
    expect(bool(torch.isfinite(grad).all()) and float(grad.abs().max()) > 0,
           "Generator: the gradient with respect to z is zero or not finite")


@test("Discriminator", "returns one logit per image, shape (N,), for N = 1 and N = 5")
def discriminator_shapes(sub):
    generator = seeded(13)
    batches = [torch.rand(1, 1, 28, 28, generator=generator) * 2 - 1, torch.rand(5, 1, 28, 28, generator=generator) * 2 - 1]
    for x, logits in zip(batches, sub.run(discriminator_batches, batches)):
        expect(isinstance(logits, torch.Tensor), "Discriminator()(x) should return a tensor of logits")
        squeeze = " (squeeze the last dimension)" if tuple(logits.shape) == (len(x), 1) else ""
        expect_shape(logits, (len(x),), f"Discriminator()(x) for x of shape {tuple(x.shape)}{squeeze}")


@test("Discriminator", "is differentiable: the logits depend on the images and gradients reach them")
def discriminator_gradients(sub):
    got = sub.run(discriminator_input_gradient, torch.rand(4, 1, 28, 28, generator=seeded(14)) * 2 - 1)
    expect(isinstance(got["grad"], torch.Tensor),
           "Discriminator: x.grad is None after backward; the generator learns through these gradients, "
           "so the logits must be a differentiable function of the images")
    expect(float(got["grad"].abs().max()) > 0, "Discriminator: the gradient with respect to the images is zero")


@test("Discriminator", "returns raw logits, not probabilities: the outputs are not all inside (0, 1)")
def discriminator_logits_not_probabilities(sub):
    generator = seeded(17)
    x = torch.rand(16, 1, 28, 28, generator=generator) * 2 - 1
    outputs = sub.run(discriminator_batches, [x, 20 * x])
    logits = torch.cat([tensor_of(o, "Discriminator()(x)").reshape(-1) for o in outputs])
    expect(bool(((logits < 0) | (logits > 1)).any()),
           f"Discriminator: all {len(logits)} outputs lie in [0, 1], also for images scaled by 20; it looks like a "
           "sigmoid at the end. Return raw logits: discriminator_loss applies BCE-with-logits")


REAL = torch.tensor([2.0, -1.0, 0.5, 3.0, -0.2, 1.5, -2.5, 0.1])
FAKE = torch.tensor([-2.0, 1.0, 0.0, -0.5, 2.2, -1.4, 0.3, -3.0])


def bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@test("discriminator_loss", "matches BCE-with-logits(real, 1) + BCE-with-logits(fake, 0) on random logits", points=2)
def discriminator_loss_formula(sub):
    generator = seeded(15)
    for real, fake in ((REAL, FAKE), (3 * torch.randn(16, generator=generator), 3 * torch.randn(16, generator=generator))):
        got = sub.run(call, "discriminator_loss", real, fake)
        expected = bce(real, 1.0) + bce(fake, 0.0)
        hint = diagnose(got, {
            "the targets are swapped: real images have target 1, generated ones target 0": bce(real, 0.0) + bce(fake, 1.0),
            "this is the average of the two terms; L_D is their sum": expected / 2,
            "the sign is flipped: minimise the negative log-likelihood": -expected,
            "the inputs are logits: do not apply a sigmoid before binary_cross_entropy_with_logits":
                bce(torch.sigmoid(real), 1.0) + bce(torch.sigmoid(fake), 0.0),
        }, "L_D = -mean log sigmoid(real) - mean log(1 - sigmoid(fake))")
        expect_close(got, expected, f"discriminator_loss on {len(real)} real and {len(fake)} fake logits", hint,
                     rtol=1e-4)


@test("discriminator_loss", "stays exact for extreme logits (±200): computed from logits, without overflow")
def discriminator_loss_extreme(sub):
    real, fake = torch.tensor([-200.0, 200.0]), torch.tensor([200.0, -200.0])
    got = sub.run(call, "discriminator_loss", real, fake)
    expect_close(got, bce(real, 1.0) + bce(fake, 0.0), "discriminator_loss for logits ±200",
                 "log(sigmoid(x)) underflows to -inf and F.binary_cross_entropy clamps the log at -100: "
                 "use F.binary_cross_entropy_with_logits or F.logsigmoid", rtol=1e-4)


@test("generator_loss", "matches the non-saturating BCE-with-logits(fake, 1) on random logits", points=2)
def generator_loss_formula(sub):
    generator = seeded(16)
    for fake in (FAKE, 3 * torch.randn(16, generator=generator)):
        got = sub.run(call, "generator_loss", fake)
        expected = bce(fake, 1.0)
        hint = diagnose(got, {
            "this is the saturating loss mean log(1 - sigmoid(fake)); use the non-saturating -mean log sigmoid(fake)":
                -bce(fake, 0.0),
            "the generator labels its fakes as real: target 1, not 0": bce(fake, 0.0),
            "the sign is flipped: minimise -mean log sigmoid(fake)": -expected,
            "the inputs are logits: do not apply a sigmoid first": bce(torch.sigmoid(fake), 1.0),
        }, "L_G = -mean log sigmoid(fake_logits)")
        expect_close(got, expected, f"generator_loss on {len(fake)} logits", hint, rtol=1e-4)


@test("generator_loss", "stays exact for extreme logits (±200): computed from logits, without overflow")
def generator_loss_extreme(sub):
    fake = torch.tensor([-200.0, 200.0])
    expect_close(sub.run(call, "generator_loss", fake), bce(fake, 1.0), "generator_loss for logits ±200",
                 "log(sigmoid(x)) underflows to -inf for very negative x: use F.binary_cross_entropy_with_logits "
                 "or F.logsigmoid", rtol=1e-4)


# ----------------------------------------------------------------------------------------------
# Conditional GAN


@test("ConditionalGenerator", "maps noise and labels to (N, 1, 28, 28) images in [-1, 1], for 10 and 3 classes")
def conditional_generator_shapes(sub):
    generator = seeded(20)
    for num_classes, labels in ((10, torch.arange(10)), (3, torch.tensor([0, 1, 2, 1]))):
        z = torch.randn(len(labels), 16, generator=generator)
        (images,) = sub.run(conditional_generator_runs, 16, num_classes, z, [labels])
        what = f"ConditionalGenerator(16, num_classes={num_classes})(z, labels) for {len(labels)} items"
        expect_shape(images, (len(labels), 1, 28, 28), what)
        expect_in_range(images, -1.0, 1.0, what, "End the generator with tanh.")


@test("ConditionalGenerator", "works on batches that miss some classes: labels [0, 2, 1] and a single label 4, of 10")
def conditional_generator_classes_absent(sub):
    generator = seeded(25)
    for labels in (torch.tensor([0, 2, 1]), torch.tensor([4])):
        z = torch.randn(len(labels), 16, generator=generator)
        what = f"ConditionalGenerator(16, num_classes=10)(z, labels={labels.tolist()})"
        try:
            (images,) = sub.run(conditional_generator_runs, 16, 10, z, [labels])
        except StudentCodeError as error:
            raise CheckFailed(f"{what} raised {error}. A batch need not contain every class: encode the labels "
                              "with num_classes (F.one_hot(labels, num_classes=self.num_classes) or nn.Embedding)") from None
        expect_shape(images, (len(labels), 1, 28, 28), what)


@test("ConditionalGenerator", "depends on the label: one z with each of the 10 labels gives 10 different images", points=2)
def conditional_generator_uses_label(sub):
    z = torch.randn(1, 16, generator=seeded(21)).repeat(10, 1)
    (images,) = sub.run(conditional_generator_runs, 16, 10, z, [torch.arange(10)])
    expect_shape(images, (10, 1, 28, 28), "ConditionalGenerator(16)(z, labels)")
    same = [(a, b) for a in range(10) for b in range(a + 1, 10) if max_change(images[a], images[b]) <= 1e-5]
    expect(not same, f"ConditionalGenerator: the same z with labels {same[0][0]} and {same[0][1]} gave the same "
                     f"image ({len(same)} such pairs); feed the label to the generator (e.g. an nn.Embedding "
                     "concatenated to z)" if same else "")


@test("ConditionalGenerator", "item k follows its own label: changing labels[0] changes image 0 only", points=2)
def conditional_generator_per_item(sub):
    z = torch.randn(4, 16, generator=seeded(22))
    labels = torch.tensor([3, 7, 1, 9])
    changed = labels.clone()
    changed[0] = 5
    before, after = sub.run(conditional_generator_runs, 16, 10, z, [labels, changed])
    expect_shape(before, (4, 1, 28, 28), "ConditionalGenerator(16)(z, labels)")
    expect(max_change(before[0], after[0]) > 1e-5,
           "ConditionalGenerator: changing labels[0] from 3 to 5 left image 0 unchanged; item k must use labels[k]")
    expect(max_change(before[1:], after[1:]) <= 1e-5,
           f"ConditionalGenerator: changing labels[0] changed images 1..3 (by up to {max_change(before[1:], after[1:]):.3g}) "
           "in eval mode; each item must depend on its own label only (check how the labels are reshaped)")


@test("ConditionalDiscriminator", "returns logits of shape (N,) for 10 and 3 classes")
def conditional_discriminator_shapes(sub):
    generator = seeded(23)
    for num_classes, labels in ((10, torch.arange(10)), (3, torch.tensor([2, 0, 1]))):
        x = torch.rand(len(labels), 1, 28, 28, generator=generator) * 2 - 1
        (logits,) = sub.run(conditional_discriminator_runs, num_classes, x, [labels])
        expect(isinstance(logits, torch.Tensor), "ConditionalDiscriminator()(x, labels) should return a tensor")
        expect_shape(logits, (len(labels),), f"ConditionalDiscriminator(num_classes={num_classes})(x, labels)")


@test("ConditionalDiscriminator", "depends on the label: the same image with labels 0..9 gets different logits", points=2)
def conditional_discriminator_uses_label(sub):
    x = (torch.rand(1, 1, 28, 28, generator=seeded(24)) * 2 - 1).repeat(10, 1, 1, 1)
    (logits,) = sub.run(conditional_discriminator_runs, 10, x, [torch.arange(10)])
    expect_shape(logits, (10,), "ConditionalDiscriminator()(x, labels)")
    spread = float(logits.max() - logits.min())
    expect(spread > 1e-6, "ConditionalDiscriminator: one image with each of the 10 labels got the same logit; "
                          "feed the label to the discriminator (e.g. an embedding as an extra image channel)")
    changed = sub.run(conditional_discriminator_runs, 10, x[:2], [torch.tensor([0, 0]), torch.tensor([9, 0])])
    expect(abs(float(changed[0][0] - changed[1][0])) > 1e-6,
           "ConditionalDiscriminator: changing labels[0] left logit 0 unchanged; item k must use labels[k]")


# ----------------------------------------------------------------------------------------------
# VAE


def expect_pair(got, what: str, hint: str):
    expect(isinstance(got, list) and len(got) == 2, f"{what} should return a pair (x_mean, x_logvar), got "
                                                    f"{describe(got)}. {hint}")


@test("VAE", "encode gives (mu, logvar) of shape (N, latent_dim); decode gives the mean and log-variance "
             "(N, 1, 28, 28) of a Gaussian p(x|z); forward gives (x_mean, x_logvar, mu, logvar)", points=2)
def vae_contract(sub):
    generator = seeded(30)
    x, z = torch.rand(5, 1, 28, 28, generator=generator), 3 * torch.randn(5, 12, generator=generator)
    got = sub.run(vae_parts, 12, x, [z])
    encoded, forward, decoded = got["encoded"], got["forward"], got["decoded"][0]
    expect(isinstance(encoded, list) and len(encoded) == 2, "VAE.encode(x) should return a tuple (mu, logvar)")
    expect_shape(encoded[0], (5, 12), "mu from VAE(12).encode(x) for 5 images")
    expect_shape(encoded[1], (5, 12), "logvar from VAE(12).encode(x) for 5 images")
    gaussian = ("p(x|z) is a diagonal Gaussian (HW5-2022 P3(c)): decode returns its mean and its log-variance, "
                "not Bernoulli probabilities alone")
    expect_pair(decoded, "VAE(12).decode(z)", gaussian)
    for value, what in zip(decoded, ("x_mean", "x_logvar")):
        expect_shape(value, (5, 1, 28, 28), f"{what} from VAE(12).decode(z) for z of shape (5, 12)")
        expect(bool(torch.isfinite(value).all()), f"{what} from VAE.decode(z) contains NaN or inf")
    expect(isinstance(forward, list) and len(forward) == 4,
           f"VAE.forward(x) should return a tuple (x_mean, x_logvar, mu, logvar), got {describe(forward)}")
    expect_shape(forward[0], (5, 1, 28, 28), "x_mean from VAE.forward(x)")
    expect_shape(forward[1], (5, 1, 28, 28), "x_logvar from VAE.forward(x)")
    expect_close(forward[2], encoded[0], "mu from VAE.forward(x)", "forward returns the mu of encode(x)", atol=1e-5)
    expect_close(forward[3], encoded[1], "logvar from VAE.forward(x)", "forward returns the logvar of encode(x)", atol=1e-5)


@test("VAE", "decode: the mean of p(x|z) depends on z", points=2)
def vae_decoder_uses_z(sub):
    generator = seeded(34)
    z = torch.randn(3, 6, generator=generator)
    got = sub.run(vae_parts, 6, torch.rand(3, 1, 28, 28, generator=generator), [z, z.flip(0)])
    for decoded in got["decoded"]:
        expect_pair(decoded, "VAE(6).decode(z)", "return (x_mean, x_logvar)")
    first, flipped = (as_tensor(d[0], "x_mean") for d in got["decoded"])
    expect_shape(first, (3, 1, 28, 28), "x_mean from VAE(6).decode(z)")
    expect(max_change(first[0], first[1]) > 1e-5, "VAE.decode: two different z gave the same x_mean; the mean of "
                                                  "p(x|z) must be computed from z")
    expect_close(flipped, first.flip(0), "x_mean for the batch of z in reverse order",
                 "each image's mean depends on its own z only", atol=1e-5)


GRAD_MU = torch.tensor([[0.5, -1.0, 2.0]]).repeat(64, 1)
GRAD_LOGVAR = torch.tensor([[0.0, 1.0, -2.0]]).repeat(64, 1)


def reparameterized(sub):
    got = sub.run(reparameterize_gradients, GRAD_MU, GRAD_LOGVAR)
    z = tensor_of(got["z"], "VAE.reparameterize(mu, logvar)")
    expect_shape(z, tuple(GRAD_MU.shape), "VAE.reparameterize(mu, logvar) for mu of shape (64, 3)")
    return got, z


@test("VAE", "reparameterize: the gradient with respect to mu is 1", points=2)
def reparameterize_grad_mu(sub):
    got, _ = reparameterized(sub)
    expect(isinstance(got["grad_mu"], torch.Tensor),
           "VAE.reparameterize: mu.grad is None after z.sum().backward(); z must be a differentiable function of mu "
           "(no .detach(), no torch.normal(mu, std), no torch.no_grad): z = mu + std * eps")
    expect_close(got["grad_mu"], torch.ones_like(GRAD_MU), "d sum(z) / d mu",
                 "z = mu + exp(logvar / 2) * eps has dz/dmu = 1")


@test("VAE", "reparameterize: the gradient with respect to logvar is eps * exp(logvar / 2) / 2", points=2)
def reparameterize_grad_logvar(sub):
    got, z = reparameterized(sub)
    expect(isinstance(got["grad_logvar"], torch.Tensor),
           "VAE.reparameterize: logvar.grad is None after z.sum().backward(); the standard deviation "
           "exp(logvar / 2) must be computed from logvar without detaching it")
    std = torch.exp(GRAD_LOGVAR / 2)
    eps = (z.to(torch.float64) - GRAD_MU) / std  # the noise this call drew, recovered from z
    expected = eps * std / 2
    ratio = float((got["grad_logvar"] * expected).sum() / (expected * expected).sum())
    hint = "the standard deviation is exp(logvar / 2), so dz/dlogvar = eps * exp(logvar / 2) / 2"
    if abs(ratio - 2) < 0.05:
        hint = "the gradient is twice the expected one: is exp(logvar) used as the standard deviation? " \
               "logvar is log sigma^2, so sigma = exp(logvar / 2)"
    expect_close(got["grad_logvar"], expected, "d sum(z) / d logvar (with eps recovered as (z - mu) / std)", hint,
                 rtol=1e-4, atol=1e-5)


DRAW_MU = torch.tensor([[0.5, -1.0, 2.0]]).repeat(20000, 1)
DRAW_LOGVAR = torch.tensor([[0.0, 1.0, -2.0]]).repeat(20000, 1)


def draws(sub):
    got = sub.run(reparameterize_draws, DRAW_MU, DRAW_LOGVAR, 0)
    for key in ("first", "second", "again"):
        expect_shape(tensor_of(got[key], "VAE.reparameterize(mu, logvar)"), tuple(DRAW_MU.shape),
                     "VAE.reparameterize(mu, logvar) for mu of shape (20000, 3)")
    return got


@test("VAE", "reparameterize: 20 000 draws have mean mu and standard deviation exp(logvar / 2)", points=2)
def reparameterize_statistics(sub):
    z = draws(sub)["first"].to(torch.float64)
    std = torch.exp(DRAW_LOGVAR[0] / 2)
    expect_close(z.mean(0), DRAW_MU[0], "the mean of z over 20 000 draws, per latent dimension",
                 "z = mu + std * eps with eps of mean 0", atol=float(0.03 * std.max()), rtol=0)
    got_std = z.std(0)
    hint = "z = mu + exp(logvar / 2) * eps with eps ~ N(0, 1)"
    if torch.allclose(got_std, torch.exp(DRAW_LOGVAR[0]).double(), rtol=0.03):
        hint = "the spread is exp(logvar): logvar is log sigma^2, so the standard deviation is exp(logvar / 2)"
    expect_close(got_std, std, "the standard deviation of z over 20 000 draws (logvar = 0, 1, -2)", hint, rtol=0.03)


@test("VAE", "reparameterize: the noise is standard normal, fresh at each call, and fixed by torch.manual_seed")
def reparameterize_noise(sub):
    got = draws(sub)
    z = got["first"].to(torch.float64)
    standardized = (z - z.mean(0)) / z.std(0)  # the noise's shape, whatever the scale (tested above)
    inside = float((standardized.abs() < 1).double().mean())
    expect(abs(inside - 0.6827) < 0.02, f"VAE.reparameterize: {inside:.1%} of the standardised draws lie within ±1 "
                                        "standard deviation, a normal distribution has 68.3%: draw eps with "
                                        "torch.randn_like(std)")
    expect(max_change(got["first"], got["second"]) > 0.1,
           "VAE.reparameterize: two calls returned the same z; draw new noise eps at every call")
    expect(max_change(got["first"], got["again"]) <= 1e-6,
           "VAE.reparameterize: after torch.manual_seed with the same seed, z differed; draw eps with torch's "
           "generator (torch.randn_like), not numpy or Python's random")


def vae_loss_inputs(seed, batch=4, latent=5, kl=True, fixed_variance=None):
    """x in [0, 1]; a decoder mean and a per-pixel log-variance (or a fixed one); q's mu and logvar."""
    generator = seeded(seed)
    x = torch.rand(batch, 1, 28, 28, generator=generator)
    x_mean = torch.rand(batch, 1, 28, 28, generator=generator) * 0.9 + 0.05
    if fixed_variance is None:
        x_logvar = torch.randn(batch, 1, 28, 28, generator=generator) * 0.7 - 1.5
    else:
        x_logvar = torch.full((batch, 1, 28, 28), math.log(fixed_variance))
    if kl:
        mu, logvar = torch.randn(batch, latent, generator=generator), torch.randn(batch, latent, generator=generator)
    else:
        mu, logvar = torch.zeros(batch, latent), torch.zeros(batch, latent)
    return x, x_mean, x_logvar, mu, logvar


def gaussian_nll(x, x_mean, x_logvar):
    """-log p(x|z) summed over the whole batch, from torch.distributions."""
    return -Normal(x_mean, (0.5 * x_logvar).exp()).log_prob(x).sum()


def kl_sum(mu, logvar):
    """KL(q(z|x) || N(0, I)) summed over the batch and the latent dimensions, from torch.distributions."""
    return kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum()


def reconstruction_mistakes(x, x_mean, x_logvar):
    """What common mistakes of the reconstruction term give (per image), with the hint for each."""
    n, pixels = len(x), x[0].numel()
    nll = gaussian_nll(x, x_mean, x_logvar) / n
    squared = ((x - x_mean) ** 2).sum() / n
    constant = 0.5 * math.log(2 * math.pi) * pixels
    return {
        "this is the mean over pixels: sum the negative log-likelihood over the 784 pixels of each image": nll / pixels,
        "this is the sum over the whole batch: divide by the batch size": nll * n,
        "the constant 1/2 log(2 pi) of each pixel is missing: the loss must be the exact negative log-likelihood "
        "(torch.distributions.Normal(x_mean, std).log_prob(x) includes it)": nll - constant,
        "this is the Bernoulli (binary cross-entropy) loss; p(x|z) is a diagonal Gaussian with mean x_mean and "
        "variance exp(x_logvar)": F.binary_cross_entropy(x_mean, x, reduction="sum") / n,
        "the decoder's variance is ignored: divide the squared error by exp(x_logvar) and add 1/2 x_logvar per pixel":
            0.5 * squared + constant,
        "exp(x_logvar) is used as the standard deviation; x_logvar is the log-variance, so std = exp(x_logvar / 2)":
            gaussian_nll(x, x_mean, 2 * x_logvar) / n,
        "the factor 1/2 of the Gaussian log-density is missing": 2 * nll,
    }


@test("vae_loss", "reconstruction term: the Gaussian negative log-likelihood of x under N(x_mean, exp(x_logvar)), "
                  "summed over pixels, averaged over the batch (KL = 0 here)", points=2)
def vae_loss_reconstruction(sub):
    x, x_mean, x_logvar, mu, logvar = vae_loss_inputs(31, kl=False)
    got = sub.run(call, "vae_loss", x, x_mean, x_logvar, mu, logvar)
    expected = gaussian_nll(x, x_mean, x_logvar) / len(x)
    hint = diagnose(got, reconstruction_mistakes(x, x_mean, x_logvar),
                    "with mu = 0 and logvar = 0 the KL is 0, so this is -Normal(x_mean, exp(x_logvar / 2)).log_prob(x)"
                    ".sum() / N; check the argument order vae_loss(x, x_mean, x_logvar, mu, logvar)")
    expect_close(got, expected, "vae_loss with a per-pixel decoder variance, mu = 0, logvar = 0 (batch of 4)", hint,
                 rtol=1e-4)


@test("vae_loss", "reconstruction term with a fixed decoder variance (x_logvar = log 0.1 everywhere)", points=2)
def vae_loss_fixed_variance(sub):
    x, x_mean, x_logvar, mu, logvar = vae_loss_inputs(35, kl=False, fixed_variance=0.1)
    got = sub.run(call, "vae_loss", x, x_mean, x_logvar, mu, logvar)
    expected = gaussian_nll(x, x_mean, x_logvar) / len(x)
    hint = diagnose(got, reconstruction_mistakes(x, x_mean, x_logvar),
                    "with a fixed variance s^2 the term is 1/2 sum [log(2 pi s^2) + (x - x_mean)^2 / s^2] per image")
    expect_close(got, expected, "vae_loss with x_logvar = log 0.1, mu = 0, logvar = 0 (batch of 4)", hint, rtol=1e-4)


@test("vae_loss", "KL term: -1/2 sum(1 + logvar - mu^2 - exp(logvar)), averaged over the batch", points=2)
def vae_loss_kl(sub):
    x, x_mean, x_logvar, mu, logvar = vae_loss_inputs(32)
    nll_part = gaussian_nll(x, x_mean, x_logvar) / len(x)
    kl = kl_sum(mu, logvar) / len(x)
    got = sub.run(call, "vae_loss", x, x_mean, x_logvar, mu, logvar)
    hint = diagnose(got, {
        "the KL has the wrong sign: KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) is >= 0 and is added": nll_part - kl,
        "the KL is twice the expected one: the closed form has a factor 1/2": nll_part + 2 * kl,
        "the KL is averaged over latent dimensions: sum it over them": nll_part + kl / mu.shape[1],
        "the KL is summed over the batch but not divided by the batch size": nll_part + kl * len(x),
        "the KL uses exp(logvar / 2) where the closed form has the variance exp(logvar)":
            nll_part - 0.5 * torch.sum(1 + logvar - mu**2 - (logvar / 2).exp()) / len(x),
    }, "KL(q || N(0, I)) = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)) per image (Kingma & Welling, App. B); "
       "if the reconstruction tests fail, fix that term first")
    expect_close(got, nll_part + kl, "vae_loss with random mu and logvar (batch of 4, 5 latent dims)", hint, rtol=1e-4)


@test("vae_loss", "back-propagates the gradients of torch.distributions' negative ELBO into x_mean, x_logvar, mu "
                  "and logvar")
def vae_loss_gradients_match(sub):
    x, x_mean, x_logvar, mu, logvar = vae_loss_inputs(33, batch=3, latent=4)
    got = sub.run(vae_loss_gradients, x, x_mean, x_logvar, mu, logvar)
    reference = [v.clone().requires_grad_(True) for v in (x_mean, x_logvar, mu, logvar)]
    loss = (gaussian_nll(x, reference[0], reference[1]) + kl_sum(reference[2], reference[3])) / len(x)
    loss.backward()
    for name, expected in zip(("x_mean", "x_logvar", "mu", "logvar"), reference):
        expect(isinstance(got[name], torch.Tensor), f"vae_loss: {name}.grad is None; the loss must be computed "
                                                    f"from {name} with torch operations (no .item() or .detach())")
        expect_close(got[name], expected.grad, f"d vae_loss / d {name}",
                     "the tests of the loss value say which term differs",
                     rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# DDPM


@test("linear_beta_schedule", "matches torch.linspace(1e-4, 0.02, T) for T = 1000")
def beta_schedule_default(sub):
    betas = sub.run(call, "linear_beta_schedule", 1000)
    expect_close(tensor_of(betas, "linear_beta_schedule(1000)"), torch.linspace(1e-4, 0.02, 1000),
                 "linear_beta_schedule(1000)", "T evenly spaced values, both end points included", atol=1e-7, rtol=1e-5)


@test("linear_beta_schedule", "honours T, beta_start and beta_end: T = 7 from 0.001 to 0.05")
def beta_schedule_custom(sub):
    betas = sub.run(call, "linear_beta_schedule", 7, 0.001, 0.05)
    expect_close(tensor_of(betas, "linear_beta_schedule(7, 0.001, 0.05)"), torch.linspace(0.001, 0.05, 7),
                 "linear_beta_schedule(7, 0.001, 0.05)", "use the arguments, not fixed numbers", atol=1e-7, rtol=1e-5)


ALPHAS_CUMPROD = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), dim=0)


def q_sample_reference(x0, t, noise, alphas_cumprod):
    shape = (-1,) + (1,) * (x0.dim() - 1)
    abar = alphas_cumprod[t].view(shape)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_sample_mistakes(x0, t, noise):
    """What common mistakes would return, with the hint for each."""
    shape = (-1,) + (1,) * (x0.dim() - 1)
    alphas = ALPHAS_CUMPROD / torch.cat([torch.ones(1), ALPHAS_CUMPROD[:-1]])
    abar = ALPHAS_CUMPROD[t].view(shape)
    return {
        "this uses alpha_t = 1 - beta_t of one step; use the cumulative product abar_t = alphas_cumprod[t]":
            q_sample_reference(x0, t, noise, alphas),
        "take square roots: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise": abar * x0 + (1 - abar) * noise,
        "t is 0-based: item i uses alphas_cumprod[t[i]], not t[i] - 1":
            q_sample_reference(x0, (t - 1).clamp(min=0), noise, ALPHAS_CUMPROD),
        "every item used the step of item 0: index alphas_cumprod with the whole tensor t":
            q_sample_reference(x0, t[:1].expand(len(t)), noise, ALPHAS_CUMPROD),
    }


@test("q_sample", "matches sqrt(abar_t) x0 + sqrt(1 - abar_t) noise with a different t per image", points=2)
def q_sample_formula(sub):
    generator = seeded(40)
    x0, noise = torch.randn(6, 1, 28, 28, generator=generator), torch.randn(6, 1, 28, 28, generator=generator)
    t = torch.tensor([0, 10, 250, 500, 750, 999])
    got = sub.run(call, "q_sample", x0, t, noise, ALPHAS_CUMPROD)
    expected = q_sample_reference(x0, t, noise, ALPHAS_CUMPROD)
    hint = diagnose(got, q_sample_mistakes(x0, t, noise),
                    "x_t = sqrt(alphas_cumprod[t]) * x0 + sqrt(1 - alphas_cumprod[t]) * noise, per image")
    expect_close(got, expected, "q_sample(x0, t, noise, alphas_cumprod) for t = 0, 10, 250, 500, 750, 999", hint)


@test("q_sample", "works for images of another shape: (3, 3, 8, 8)")
def q_sample_other_shape(sub):
    generator = seeded(41)
    x0, noise = torch.randn(3, 3, 8, 8, generator=generator), torch.randn(3, 3, 8, 8, generator=generator)
    t = torch.tensor([999, 5, 400])
    got = sub.run(call, "q_sample", x0, t, noise, ALPHAS_CUMPROD)
    expected = q_sample_reference(x0, t, noise, ALPHAS_CUMPROD)
    hint = diagnose(got, q_sample_mistakes(x0, t, noise),
                    "reshape abar to (N, 1, 1, 1) so that it broadcasts over channels and pixels; do not assume 1x28x28")
    expect_close(got, expected, "q_sample on (3, 3, 8, 8) images", hint)


SCALE, SHIFT = 0.5, 0.001


def ddpm_case(seed):
    generator = seeded(seed)
    x0, noise = torch.randn(5, 1, 28, 28, generator=generator), torch.randn(5, 1, 28, 28, generator=generator)
    return x0, torch.tensor([0, 99, 400, 777, 999]), noise


def stand_in_loss(x0, t, noise, scale):
    """The closed form of ddpm_loss for the stand-in model eps(x, t) = scale * x + SHIFT * t."""
    x_t = q_sample_reference(x0, t, noise, ALPHAS_CUMPROD)
    prediction = scale * x_t + SHIFT * t.float().view(-1, 1, 1, 1)
    return ((prediction - noise) ** 2).mean(), x_t, prediction


@test("ddpm_loss", "equals mean((model(x_t, t) - noise)^2) for a stand-in model", points=2)
def ddpm_loss_formula(sub):
    x0, t, noise = ddpm_case(42)
    got = sub.run(ddpm_loss_with_stand_in, x0, t, noise, ALPHAS_CUMPROD, SCALE, SHIFT)
    expected, x_t, prediction = stand_in_loss(x0, t, noise, SCALE)
    hint = diagnose(got["loss"], {
        "the target is the noise, not x0": ((prediction - x0) ** 2).mean(),
        "the model must see the noisy x_t = q_sample(x0, t, noise, ...), not x0":
            ((SCALE * x0 + SHIFT * t.float().view(-1, 1, 1, 1) - noise) ** 2).mean(),
        "average the squared error over every entry (F.mse_loss), do not sum it": ((prediction - noise) ** 2).sum(),
    }, "loss = mean((model(q_sample(x0, t, noise, alphas_cumprod), t) - noise)^2); if q_sample fails its tests, "
       "fix it first")
    expect_close(got["loss"], expected, "ddpm_loss with the stand-in model eps(x, t) = 0.5 x + 0.001 t", hint,
                 rtol=1e-4)


@test("ddpm_loss", "back-propagates into the model's parameters")
def ddpm_loss_gradient(sub):
    x0, t, noise = ddpm_case(43)
    got = sub.run(ddpm_loss_with_stand_in, x0, t, noise, ALPHAS_CUMPROD, SCALE, SHIFT)
    expect(isinstance(got["grad"], torch.Tensor),
           "ddpm_loss: the model's parameter got no gradient; return the loss tensor itself (no .item(), "
           ".detach() or torch.no_grad)")
    scale = torch.tensor(SCALE, requires_grad=True)
    stand_in_loss(x0, t, noise, scale)[0].backward()
    expect_close(got["grad"], scale.grad, "d ddpm_loss / d scale for the stand-in model",
                 "the loss must be the mean squared error between model(x_t, t) and noise; if q_sample fails its "
                 "tests, fix it first", rtol=1e-4)
