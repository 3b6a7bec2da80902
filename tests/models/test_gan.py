"""The GAN's critic and loss terms (f-CLSWGAN) against hand-computed and brute-force values."""
import math

import pytest
import torch
import torch.nn.functional as F

from zs3core.models.gan import Critic, classification_loss, critic_loss, generator_loss, gradient_penalty


def linear_critic(w, bias):
    """D(x, e) = fc2(LeakyReLU(w . x + 0 * e + bias)) with fc2 the identity: linear in x on either
    side of the kink, so grad_x D is w (bias > 0) or 0.2 w (bias < 0) everywhere we look."""
    critic = Critic(len(w), 1, hidden=1)
    with torch.no_grad():
        critic.fc1.weight.copy_(torch.tensor([[*w, 0.0]]))
        critic.fc1.bias.fill_(bias)
        critic.fc2.weight.fill_(1.0)
        critic.fc2.bias.zero_()
    return critic


REAL = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
FAKE = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
E = torch.zeros(2, 1)
ALPHA = torch.tensor([[0.25], [0.7]])


@pytest.mark.parametrize("w, bias, expected", [
    ((3.0, 4.0), 100.0, (5.0 - 1.0) ** 2),      # ||grad|| = 5
    ((0.6, 0.8), 100.0, 0.0),                   # ||grad|| = 1: no penalty
    ((3.0, 4.0), -100.0, 0.0),                  # LeakyReLU's 0.2 slope: ||grad|| = 0.2 * 5 = 1
    ((0.3, 0.4), 100.0, (0.5 - 1.0) ** 2),      # below 1 is penalised too (two-sided)
])
def test_gradient_penalty_of_a_linear_critic(w, bias, expected):
    assert gradient_penalty(linear_critic(w, bias), REAL, FAKE, E, ALPHA).item() == pytest.approx(expected, abs=1e-6)


def test_critic_loss_by_hand():
    critic = linear_critic((3.0, 4.0), 100.0)
    d_real, d_fake = critic(REAL, E), critic(FAKE, E)
    assert d_real.tolist() == pytest.approx([103.0, 104.0]) and d_fake.tolist() == pytest.approx([100.0, 106.0])
    penalty = gradient_penalty(critic, REAL, FAKE, E, ALPHA)
    # E[D(fake)] - E[D(real)] + 10 * (5 - 1)^2 = 103 - 103.5 + 160
    assert critic_loss(d_real, d_fake, penalty, 10.0).item() == pytest.approx(159.5)


def test_classification_and_generator_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    labels = torch.tensor([0, 1, 1])
    # -log softmax of the true class: log(1 + e^-2), log(1 + e^-1), log 2
    cls = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1)) + math.log(2)) / 3
    assert classification_loss(logits, labels).item() == pytest.approx(cls)
    d_fake = torch.tensor([100.0, 106.0])
    assert generator_loss(d_fake, torch.tensor(cls), 0.01).item() == pytest.approx(-103.0 + 0.01 * cls)


def test_gradient_penalty_matches_finite_differences_at_the_interpolates():
    torch.manual_seed(0)
    critic = Critic(3, 2, hidden=8).double()
    with torch.no_grad():  # weights large enough for the kinks and norms to matter
        for p in critic.parameters():
            p.normal_(0.0, 1.0)
    real, fake, e = torch.randn(5, 3).double(), torch.randn(5, 3).double(), torch.randn(5, 2).double()
    alpha = torch.rand(5, 1).double()
    x_hat = alpha * real + (1 - alpha) * fake
    h = 1e-6
    step = h * torch.eye(3, dtype=torch.float64)
    grads = torch.stack([(critic(x_hat + step[j], e) - critic(x_hat - step[j], e)) / (2 * h) for j in range(3)], 1)
    expected = ((grads.norm(dim=1) - 1) ** 2).mean()
    assert gradient_penalty(critic, real, fake, e, alpha).item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_penalty_trains_the_critic():
    critic = linear_critic((3.0, 4.0), 100.0)
    gradient_penalty(critic, REAL, FAKE, E, ALPHA).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * (0.6, 0.8)
    assert critic.fc1.weight.grad[0, :2].tolist() == pytest.approx([4.8, 6.4])


def test_critic_shapes_and_seeded_initialisation():
    a = Critic(6, 3, hidden=16, init_generator=torch.Generator().manual_seed(1))
    b = Critic(6, 3, hidden=16, init_generator=torch.Generator().manual_seed(1))
    assert a.fc1.weight.shape == (16, 9) and a.fc2.weight.shape == (1, 16)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.fc1.bias.abs().sum() == 0 and 0.01 < a.fc1.weight.std() < 0.03  # N(0, 0.02)
    x, e = torch.randn(7, 6), torch.randn(7, 3)
    assert a(x, e).shape == (7,)
    h = F.leaky_relu(torch.cat([x, e], 1) @ a.fc1.weight.T + a.fc1.bias, 0.2)
    assert torch.allclose(a(x, e), (h @ a.fc2.weight.T + a.fc2.bias).squeeze(1))
    assert a.config() == {"feature_dim": 6, "embed_dim": 3, "hidden": 16}
