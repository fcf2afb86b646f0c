"""The generative tests catch realistic mistakes and accept other correct answers (other
architectures included); the data helper reads Fashion-MNIST's IDX files."""
import pytest
import torch

from conftest import handout_on_path
from variants import coverage_gaps, messages, points

from autograder.suite import load_suite

SLUG = "generative"


def gaussian_loss(nll: str = "0.5 * torch.sum(math.log(2 * math.pi) + x_logvar + (x - x_mean) ** 2 / x_logvar.exp())",
                  kl: str = "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())") -> str:
    """A Gaussian-decoder vae_loss; the bugs below replace its negative log-likelihood or its KL."""
    return f"""
def vae_loss(x, x_mean, x_logvar, mu, logvar):
    nll = {nll}
    kl = {kl}
    return (nll + kl) / x.shape[0]"""


# Each bug is what a student plausibly writes; the graded name it breaks must lose points.
BUGS = {
    "discriminator_loss": {
        "labels swapped": """
def discriminator_loss(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.zeros_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits)))""",
        "sigmoid before BCE-with-logits": """
def discriminator_loss(real_logits, fake_logits):
    real, fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))""",
        "log(sigmoid) overflows": """
def discriminator_loss(real_logits, fake_logits):
    return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()""",
    },
    "generator_loss": {
        "saturating loss": """
def generator_loss(fake_logits):
    return torch.log(1 - torch.sigmoid(fake_logits)).mean()""",
        "fakes labelled fake": """
def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))""",
        "probabilities where logits are expected (BCE on sigmoid twice)": """
def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(torch.sigmoid(fake_logits), torch.ones_like(fake_logits))""",
        "summed instead of averaged": """
def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits), reduction="sum")""",
    },
    "Generator": {
        "no tanh at the end": """
class Generator(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784))
    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)""",
        "flat images (N, 784)": """
class Generator(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())
    def forward(self, z):
        return self.net(z)""",
        "sigmoid at the end (pixels in [0, 1], never negative)": """
class Generator(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())
    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)""",
    },
    "Discriminator": {
        "logits of shape (N, 1)": """
class Discriminator(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784 * in_channels, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    def forward(self, x):
        return self.net(x)""",
        "detaches its input": """
class Discriminator(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784 * in_channels, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    def forward(self, x):
        return self.net(x.detach()).squeeze(1)""",
        "squeeze() drops the batch dimension at N = 1": """
class Discriminator(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784 * in_channels, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    def forward(self, x):
        return self.net(x).squeeze()""",
        "sigmoid at the end (probabilities where logits are expected)": """
class Discriminator(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784 * in_channels, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1),
                                 nn.Sigmoid())
    def forward(self, x):
        return self.net(x).squeeze(1)""",
    },
    "ConditionalGenerator": {
        "ignores the labels": """
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim, num_classes=10):
        super().__init__()
        self.body = Generator(latent_dim)
    def forward(self, z, labels):
        return self.body(z)""",
        "every item uses labels[0]": """
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim, num_classes=10):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 16)
        self.body = Generator(latent_dim + 16)
    def forward(self, z, labels):
        return self.body(torch.cat([z, self.embed(labels[:1]).expand(len(z), -1)], dim=1))""",
        "F.one_hot without num_classes": """
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(nn.Linear(latent_dim + num_classes, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())
    def forward(self, z, labels):
        one_hot = F.one_hot(labels).float()  # as wide as the largest label in this batch
        return self.net(torch.cat([z, one_hot], dim=1)).view(-1, 1, 28, 28)""",
    },
    "ConditionalDiscriminator": {
        "ignores the labels": """
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.body = Discriminator()
    def forward(self, x, labels):
        return self.body(x)""",
        "the label embedding broadcast from labels[0]": """
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 784)
        self.body = Discriminator(in_channels=2)
    def forward(self, x, labels):
        maps = self.embed(labels[0]).view(1, 1, 28, 28).expand(len(x), -1, -1, -1)
        return self.body(torch.cat([x, maps], dim=1))""",
        "F.one_hot without num_classes": """
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    def forward(self, x, labels):
        return self.net(torch.cat([x.flatten(1), F.one_hot(labels).float()], dim=1)).squeeze(1)""",
    },
    "VAE": {
        "exp(logvar) used as the std": """
class VAE(VAE):
    def reparameterize(self, mu, logvar):
        return mu + torch.exp(logvar) * torch.randn_like(mu)""",
        "reparameterize detached from mu": """
class VAE(VAE):
    def reparameterize(self, mu, logvar):
        return mu.detach() + torch.exp(0.5 * logvar) * torch.randn_like(mu)""",
        "torch.normal instead of the trick": """
class VAE(VAE):
    def reparameterize(self, mu, logvar):
        return torch.normal(mu, torch.exp(0.5 * logvar))""",
        "noise drawn once": """
class VAE(VAE):
    def reparameterize(self, mu, logvar):
        if not hasattr(self, "eps"):
            self.eps = torch.randn_like(mu)
        return mu + torch.exp(0.5 * logvar) * self.eps""",
        "uniform noise": """
class VAE(VAE):
    def reparameterize(self, mu, logvar):
        return mu + torch.exp(0.5 * logvar) * (torch.rand_like(mu) - 0.5) * 12 ** 0.5""",
        "Bernoulli decoder (pixel probabilities only)": """
class VAE(VAE):
    def decode(self, z):
        return torch.sigmoid(self.to_x_mean(self.decoder(z))).view(-1, 1, 28, 28)
    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar""",
        "flat decoder outputs (N, 784)": """
class VAE(VAE):
    def decode(self, z):
        hidden = self.decoder(z)
        return torch.sigmoid(self.to_x_mean(hidden)), self.to_x_logvar(hidden)""",
        "decoder mean ignores z": """
class VAE(VAE):
    def decode(self, z):
        hidden = self.decoder(torch.zeros_like(z))
        return torch.sigmoid(self.to_x_mean(hidden)).view(-1, 1, 28, 28), self.to_x_logvar(hidden).view(-1, 1, 28, 28)""",
    },
    "vae_loss": {
        "KL with the wrong sign": gaussian_loss(kl="0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
        "KL without the 1/2": gaussian_loss(kl="-torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
        "not averaged over the batch": gaussian_loss().replace("return (nll + kl) / x.shape[0]", "return nll + kl"),
        "still the Bernoulli loss": gaussian_loss(nll='F.binary_cross_entropy(x_mean, x, reduction="sum")'),
        "the decoder variance ignored (summed squared error)": gaussian_loss(nll="0.5 * torch.sum((x - x_mean) ** 2)"),
        "exp(x_logvar) used as the standard deviation": gaussian_loss(
            nll="torch.sum(0.5 * math.log(2 * math.pi) + x_logvar + (x - x_mean) ** 2 / (2 * (2 * x_logvar).exp()))"),
        "NLL averaged over pixels": gaussian_loss(
            nll="0.5 * torch.mean(math.log(2 * math.pi) + x_logvar + (x - x_mean) ** 2 / x_logvar.exp()) * x.shape[0]"),
        "the constant 1/2 log(2 pi) left out": gaussian_loss(
            nll="0.5 * torch.sum(x_logvar + (x - x_mean) ** 2 / x_logvar.exp())"),
    },
    "linear_beta_schedule": {
        "end point left out": """
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return beta_start + (beta_end - beta_start) * torch.arange(T) / T""",
        "fixed end points": """
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(1e-4, 0.02, T)""",
        "T + 1 values (an off-by-one)": """
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, T + 1)""",
        "arange with the end point excluded": """
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return torch.arange(beta_start, beta_end, (beta_end - beta_start) / (T - 1))""",
    },
    "q_sample": {
        "alpha instead of the cumulative product": """
def q_sample(x0, t, noise, alphas_cumprod):
    alphas = alphas_cumprod / torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])  # alpha_t = 1 - beta_t
    a = alphas[t].view(-1, 1, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise""",
        "no square roots": """
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].view(-1, 1, 1, 1)
    return a * x0 + (1 - a) * noise""",
        "1-based t": """
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[(t - 1).clamp(min=0)].view(-1, 1, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise""",
    },
    "ddpm_loss": {
        "predicts x0 instead of the noise": """
def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), x0)""",
        "model sees x0": """
def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    return F.mse_loss(model(x0, t), noise)""",
        "returns a float": """
def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    return F.mse_loss(model(q_sample(x0, t, noise, alphas_cumprod), t), noise).item()""",
    },
}

# Correct answers that differ from the master's (other architectures, other formulas); each keeps
# every point of its graded name.
ALTERNATIVES = {
    "Generator": {
        "an MLP with BatchNorm1d": """
class Generator(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512),
                                 nn.BatchNorm1d(512), nn.LeakyReLU(0.2), nn.Linear(512, 784), nn.Tanh())
    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)""",
        "an MLP without normalisation, unflatten": """
class Generator(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 400), nn.ReLU(), nn.Linear(400, 784), nn.Tanh(),
                                 nn.Unflatten(1, (1, 28, 28)))
    def forward(self, z):
        return self.net(z)""",
    },
    "Discriminator": {
        "an MLP with dropout, .view(-1)": """
class Discriminator(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784 * in_channels, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                 nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
    def forward(self, x):
        return self.net(x).view(-1)""",
        "convolutional, flatten(0) of an (N, 1) output": """
class Discriminator(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 32, 3, 2, 1), nn.LeakyReLU(0.2),
                                      nn.Conv2d(32, 64, 3, 2, 1), nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(64, 1)
    def forward(self, x):
        return self.head(self.features(x)).flatten(0)""",
    },
    "discriminator_loss": {
        "F.logsigmoid": """
def discriminator_loss(real_logits, fake_logits):
    return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()""",
        "a module-level criterion = nn.BCEWithLogitsLoss()": """
criterion = nn.BCEWithLogitsLoss()


def discriminator_loss(real_logits, fake_logits):
    return criterion(real_logits, torch.ones_like(real_logits)) + criterion(fake_logits, torch.zeros_like(fake_logits))""",
    },
    "generator_loss": {
        "F.softplus": """def generator_loss(fake_logits):
    return F.softplus(-fake_logits).mean()""",
        "a module-level criterion = nn.BCEWithLogitsLoss()": """
bce_loss = nn.BCEWithLogitsLoss()


def generator_loss(fake_logits):
    return bce_loss(fake_logits, torch.ones_like(fake_logits))""",
    },
    "ConditionalGenerator": {
        "one-hot labels concatenated to z": """
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(nn.Linear(latent_dim + num_classes, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())
    def forward(self, z, labels):
        one_hot = F.one_hot(labels, self.num_classes).float()
        return self.net(torch.cat([z, one_hot], dim=1)).view(-1, 1, 28, 28)""",
        "a label embedding multiplied into z": """
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim, num_classes=10):
        super().__init__()
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.net = nn.Sequential(nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 784), nn.Tanh())
    def forward(self, z, labels):
        return self.net(z * self.embed(labels)).view(len(z), 1, 28, 28)""",
    },
    "ConditionalDiscriminator": {
        "a projection discriminator": """
class ConditionalDiscriminator(nn.Module):
    # a projection discriminator (Miyato & Koyama, 2018): logit = psi(phi(x)) + <embed(y), phi(x)>
    def __init__(self, num_classes=10):
        super().__init__()
        self.phi = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(32, 64, 4, 2, 1),
                                 nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.LeakyReLU(0.2))
        self.psi = nn.Linear(128, 1)
        self.embed = nn.Embedding(num_classes, 128)
    def forward(self, x, labels):
        features = self.phi(x)
        return self.psi(features).squeeze(-1) + (self.embed(labels) * features).sum(dim=1)""",
        "one-hot labels with num_classes, concatenated to the flat image": """
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(nn.Linear(784 + num_classes, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
    def forward(self, x, labels):
        one_hot = F.one_hot(labels, num_classes=self.num_classes).to(x.dtype)
        return self.net(torch.cat([x.flatten(1), one_hot], dim=1)).squeeze(1)""",
    },
    "VAE": {
        "convolutional, fixed decoder variance": """
class VAE(nn.Module):
    # convolutional, with a fixed decoder variance of 0.1 (allowed: x_logvar is that constant everywhere)
    def __init__(self, latent_dim):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.stats = nn.Linear(32 * 7 * 7, 2 * latent_dim)
        self.dec_in = nn.Linear(latent_dim, 32 * 7 * 7)
        self.dec = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(16, 1, 4, 2, 1))
    def encode(self, x):
        mu, logvar = self.stats(self.enc(x)).chunk(2, dim=1)
        return mu, logvar
    def reparameterize(self, mu, logvar):
        eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device)
        return eps.mul(logvar.mul(0.5).exp()).add(mu)
    def decode(self, z):
        mean = self.dec(self.dec_in(z).view(-1, 32, 7, 7))
        return mean, torch.full_like(mean, math.log(0.1))
    def forward(self, x):
        mu, logvar = self.encode(x)
        return (*self.decode(self.reparameterize(mu, logvar)), mu, logvar)""",
        "a learned per-pixel log-variance": """
class VAE(VAE):
    def __init__(self, latent_dim):
        super().__init__(latent_dim)
        self.pixel_logvar = nn.Parameter(torch.full((1, 1, 28, 28), -2.0))
    def decode(self, z):
        x_mean = torch.sigmoid(self.to_x_mean(self.decoder(z))).view(-1, 1, 28, 28)
        return x_mean, self.pixel_logvar.expand_as(x_mean)""",
    },
    "vae_loss": {
        "torch.distributions": """
def vae_loss(x, x_mean, x_logvar, mu, logvar):
    p_x = torch.distributions.Normal(x_mean, torch.exp(0.5 * x_logvar))
    q_z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    per_image = -p_x.log_prob(x).flatten(1).sum(1) + torch.distributions.kl_divergence(q_z, prior).sum(1)
    return per_image.mean()""",
        "F.gaussian_nll_loss": """
def vae_loss(x, x_mean, x_logvar, mu, logvar):
    nll = F.gaussian_nll_loss(x_mean, x, x_logvar.exp(), full=True, reduction="sum")
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum()
    return (nll + kl) / len(x)""",
    },
    "linear_beta_schedule": {
        "arange over T - 1 steps": """
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    return beta_start + (beta_end - beta_start) * torch.arange(T, dtype=torch.float32) / (T - 1)""",
        "a list comprehension": """
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    step = (beta_end - beta_start) / (T - 1)
    return torch.tensor([beta_start + k * step for k in range(T)])""",
    },
    "q_sample": {
        "gather and None-indexing": """
def q_sample(x0, t, noise, alphas_cumprod):
    abar = alphas_cumprod.gather(0, t)[:, None, None, None]
    return torch.sqrt(abar) * x0 + torch.sqrt(1.0 - abar) * noise""",
        "a loop over the images": """
def q_sample(x0, t, noise, alphas_cumprod):
    out = torch.empty_like(x0)
    for i in range(len(x0)):
        abar = alphas_cumprod[t[i]]
        out[i] = abar.sqrt() * x0[i] + (1 - abar).sqrt() * noise[i]
    return out""",
    },
    "ddpm_loss": {
        "the squared error written out": """
def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    return ((model(x_t, t) - noise) ** 2).mean()""",
        "a module-level criterion = nn.MSELoss()": """
mse = nn.MSELoss()


def ddpm_loss(model, x0, t, noise, alphas_cumprod):
    return mse(model(q_sample(x0, t, noise, alphas_cumprod), t), noise)""",
    },
}

REQUIRED_BUGS = [  # the issue's list: each must lose points
    ("discriminator_loss", "labels swapped"), ("vae_loss", "KL with the wrong sign"),
    ("vae_loss", "KL without the 1/2"), ("VAE", "exp(logvar) used as the std"),
    ("VAE", "reparameterize detached from mu"), ("q_sample", "alpha instead of the cumulative product"),
    ("VAE", "Bernoulli decoder (pixel probabilities only)"), ("vae_loss", "still the Bernoulli loss"),
]


def test_the_master_earns_every_point():
    for name in load_suite(SLUG).graded_names:
        got, possible = points(SLUG, "", name)
        assert possible > 0 and got == possible, (name, messages(SLUG, "", name))


def test_the_issue_bugs_are_listed():
    assert all(bug in BUGS[name] for name, bug in REQUIRED_BUGS)


def test_every_graded_name_has_three_bugs_and_two_alternatives():
    assert not coverage_gaps(SLUG, BUGS, ALTERNATIVES), coverage_gaps(SLUG, BUGS, ALTERNATIVES)


@pytest.mark.parametrize("name,bug", [(n, b) for n, bugs in BUGS.items() for b in bugs])
def test_a_realistic_bug_loses_points(name, bug):
    got, possible = points(SLUG, BUGS[name][bug], name)
    assert got < possible, f"{name} with the bug '{bug}' kept all {possible} points"


@pytest.mark.parametrize("name,alternative", [(n, a) for n, alts in ALTERNATIVES.items() for a in alts])
def test_an_alternative_correct_answer_keeps_full_marks(name, alternative):
    source = ALTERNATIVES[name][alternative]
    got, possible = points(SLUG, source, name)
    assert got == possible, messages(SLUG, source, name)


@pytest.mark.parametrize("name,bug,expected", [
    ("discriminator_loss", "labels swapped", "targets are swapped"),
    ("generator_loss", "saturating loss", "saturating"),
    ("discriminator_loss", "log(sigmoid) overflows", "logsigmoid"),
    ("VAE", "exp(logvar) used as the std", "exp(logvar / 2)"),
    ("VAE", "reparameterize detached from mu", "mu.grad is None"),
    ("VAE", "uniform noise", "68.3%"),
    ("vae_loss", "KL with the wrong sign", "wrong sign"),
    ("vae_loss", "KL without the 1/2", "factor 1/2"),
    ("vae_loss", "NLL averaged over pixels", "784 pixels"),
    ("vae_loss", "still the Bernoulli loss", "diagonal Gaussian"),
    ("vae_loss", "exp(x_logvar) used as the standard deviation", "std = exp(x_logvar / 2)"),
    ("vae_loss", "the constant 1/2 log(2 pi) left out", "log(2 pi)"),
    ("VAE", "Bernoulli decoder (pixel probabilities only)", "diagonal Gaussian"),
    ("q_sample", "alpha instead of the cumulative product", "cumulative product"),
    ("q_sample", "no square roots", "square roots"),
    ("ddpm_loss", "predicts x0 instead of the noise", "not x0"),
    ("ConditionalGenerator", "every item uses labels[0]", "its own label"),
])
def test_failure_messages_say_where_to_look(name, bug, expected):
    found = messages(SLUG, BUGS[name][bug], name)
    assert any(expected in m for m in found), found


# ----------------------------------------------------------------------------------------------
# The data helper: the real IDX reader on small files written in the real format


handout_on_path(SLUG)


def test_fashion_mnist_reads_idx_files_as_floats_in_0_1(tmp_path, monkeypatch):
    from coursekit.data import write_fake_mnist

    monkeypatch.setenv("KIT_DATA_UNCHECKED", "1")  # generated files: no known checksum

    from generative_helpers import fashion_mnist

    write_fake_mnist("fashion", tmp_path, n_train=30, n_test=10)
    images, labels = fashion_mnist("train", root=tmp_path)
    assert images.shape == (30, 1, 28, 28) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0 and float(images.max()) > 0.9
    assert labels.dtype == torch.int64 and set(labels.tolist()) <= set(range(10))
    test_images, _ = fashion_mnist("test", root=tmp_path)
    assert test_images.shape == (10, 1, 28, 28)


def test_fashion_mnist_reads_unpacked_idx_files(tmp_path, monkeypatch):
    import gzip
    import shutil

    from coursekit.data import mnist_folder, write_fake_mnist

    from generative_helpers import fashion_mnist

    monkeypatch.setenv("KIT_DATA_UNCHECKED", "1")  # generated files: no known checksum
    folder = write_fake_mnist("fashion", tmp_path, n_train=12, n_test=10)
    for packed in list(folder.glob("*.gz")):
        with gzip.open(packed, "rb") as source, open(packed.with_suffix(""), "wb") as target:
            shutil.copyfileobj(source, target)
        packed.unlink()
    images, labels = fashion_mnist("train", root=tmp_path)
    assert images.shape == (12, 1, 28, 28) and len(labels) == 12
    assert folder == mnist_folder("fashion", tmp_path)


def test_smoke_data_is_generated_apart_from_the_real_files(tmp_path):
    from generative_helpers import fashion_mnist

    images, _ = fashion_mnist("train", smoke=True, root=tmp_path, smoke_size=40)
    assert images.shape == (40, 1, 28, 28)
    assert (tmp_path / "smoke" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()
    assert not (tmp_path / "FashionMNIST").exists()  # a later real run never reads generated files
