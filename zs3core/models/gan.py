"""The GAN variant of ZS3Net's generator: a conditional WGAN-GP with f-CLSWGAN's classification loss.

The paper mentions "a variant of ZS3Net based on GAN [45]", [45] being f-CLSWGAN (Xian, Lorenz,
Schiele, Akata, "Feature Generating Networks for Zero-Shot Learning", CVPR 2018). Its pieces:

- Generator G(e, z): the GMMN's network (`zs3core.models.gmmn.GMMN`) unchanged: the class
  embedding e and noise z concatenated, one hidden layer with LeakyReLU(0.2) (and the GMMN's
  optional dropout), a linear output (ReLU with `output_relu`), as f-CLSWGAN's MLP_G. It is built
  with `zs3core.models.gmmn.build_gmmn` from the `gan:` section's MODEL_KEYS, so a GAN
  checkpoint's generator rebuilds, generates and writes banks exactly like a GMMN's.
- Critic D(x, e) (`Critic`): concat(x, e) -> Linear(hidden) -> LeakyReLU(0.2) -> Linear(1), a
  scalar per row, no output activation (f-CLSWGAN's MLP_CRITIC; weights N(0, 0.02), biases 0 as
  in their `weights_init`).
- The seen-class classifier of L_CLS: a linear softmax over the seen classes (`torch.nn.Linear`,
  logits out), trained first on real seen features, then frozen (`zs3core.train.gan`).

The loss terms (f-CLSWGAN, Section 3.1) are pure functions of tensors, one per term:
`gradient_penalty`, `critic_loss` (Eq. 2, the critic's side, minimised), `classification_loss`
(Eq. 3) and `generator_loss` (Eq. 4, the generator's side). `zs3core.train.gan` trains with them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Critic(nn.Module):
    """D(x, e): concat(x (D), e (E)) -> Linear(hidden) -> LeakyReLU(0.2) -> Linear(1); (N,) scores."""

    def __init__(self, feature_dim: int, embed_dim: int, *, hidden: int = 256,
                 init_generator: torch.Generator | None = None):
        super().__init__()
        if min(feature_dim, embed_dim, hidden) < 1:
            raise ValueError("feature_dim, embed_dim and hidden must be positive")
        self.feature_dim, self.embed_dim, self.hidden = int(feature_dim), int(embed_dim), int(hidden)
        self.fc1 = nn.Linear(self.feature_dim + self.embed_dim, self.hidden)
        self.fc2 = nn.Linear(self.hidden, 1)
        for layer in (self.fc1, self.fc2):  # f-CLSWGAN's weights_init: N(0, 0.02), bias 0
            nn.init.normal_(layer.weight, 0.0, 0.02, generator=init_generator)
            nn.init.zeros_(layer.bias)

    def config(self) -> dict:
        """The constructor's keyword arguments (stored in checkpoints to rebuild the network)."""
        return {"feature_dim": self.feature_dim, "embed_dim": self.embed_dim, "hidden": self.hidden}

    def forward(self, features: Tensor, embeddings: Tensor) -> Tensor:
        return self.fc2(F.leaky_relu(self.fc1(torch.cat([features, embeddings], dim=1)), 0.2)).squeeze(1)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, embeddings: Tensor,
                     alpha: Tensor) -> Tensor:
    """E[(||grad_x D(x_hat, e)||_2 - 1)^2] at x_hat = alpha * real + (1 - alpha) * fake.

    The penalty term of f-CLSWGAN's Eq. 2 (Gulrajani et al.'s WGAN-GP): `alpha` (N, 1) holds one
    uniform [0, 1) draw per row, given by the caller so that the term is a pure function. The
    graph is kept (`create_graph`) so that the penalty trains the critic.
    """
    x_hat = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, embeddings).sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def critic_loss(d_real: Tensor, d_fake: Tensor, penalty: Tensor, gp_weight: float) -> Tensor:
    """E[D(x_fake, e)] - E[D(x_real, e)] + lambda * penalty: the negative of f-CLSWGAN's Eq. 2
    (L_WGAN, which the critic maximises), so the critic minimises it."""
    return d_fake.mean() - d_real.mean() + gp_weight * penalty


def classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """L_CLS = -E[log P(y | x_fake; theta)] (f-CLSWGAN's Eq. 3): the frozen seen-class
    classifier's cross-entropy on generated features, `logits` (N, C) against `labels` (N,)."""
    return F.cross_entropy(logits, labels)


def generator_loss(d_fake: Tensor, cls_loss: Tensor, cls_weight: float) -> Tensor:
    """-E[D(x_fake, e)] + beta * L_CLS: the generator's side of f-CLSWGAN's Eq. 4
    (min_G max_D L_WGAN + beta L_CLS; only L_WGAN's fake term depends on G)."""
    return -d_fake.mean() + cls_weight * cls_loss
