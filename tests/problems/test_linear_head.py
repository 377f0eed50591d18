"""LinearHead: loss/grad against finite differences and torch; Prop. 4.10 exactly (THEORY §8.5)."""
import numpy as np
import pytest
import torch

from hetquad import sims
from hetquad.problems.linear_head import LinearHead, linear_head


@pytest.fixture(scope="module")
def small():
    return linear_head(n_samples=30, n_classes=4, n_features=3, seed=1)


def test_structure(small):
    p = small
    assert p.sizes == (12, 4) and p.d == 16 and p.n_samples == 30 and p.n_features == 3
    W, b = p.split(np.arange(p.d, dtype=float))
    np.testing.assert_array_equal(W, np.arange(12.0).reshape(4, 3))  # row-major W (C, k)
    np.testing.assert_array_equal(b, np.arange(12.0, 16.0))
    assert p.class_counts.sum() == 30 and p.class_counts.max() - p.class_counts.min() <= 1


def test_loss_at_zero_is_log_c(small):
    assert small.loss(np.zeros(small.d)) == pytest.approx(np.log(4), rel=1e-14)


def test_loss_and_grad_match_torch(small):
    p = small
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, p.d))
    for samples in (None, np.array([4, 0, 17])):
        for row in w:
            t = torch.tensor(row, dtype=torch.float64, requires_grad=True)
            W, b = t[:12].reshape(4, 3), t[12:]
            idx = np.arange(p.n_samples) if samples is None else samples
            z = torch.tensor(p.features[idx])
            y = torch.tensor(p.labels[idx])
            loss = torch.nn.functional.cross_entropy(z @ W.T + b, y)
            loss.backward()
            assert p.loss(row, samples=samples) == pytest.approx(loss.item(), rel=1e-13)
            np.testing.assert_allclose(p.grad(row, samples=samples), t.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_grad_matches_finite_differences(small):
    p = small
    w = np.random.default_rng(3).standard_normal(p.d)
    h = 1e-6
    fd = np.array([(p.loss(w + h * e) - p.loss(w - h * e)) / (2 * h) for e in np.eye(p.d)])
    np.testing.assert_allclose(p.grad(w), fd, rtol=1e-7, atol=1e-9)


def test_batch_equals_rows_and_stability(small):
    p = small
    w = np.random.default_rng(4).standard_normal((5, p.d)) * 1e3  # huge logits: log-softmax must stay finite
    loss, grad = p.loss(w), p.grad(w, samples=np.array([1, 2]))
    assert loss.shape == (5,) and grad.shape == (5, p.d)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    for i in range(5):
        assert loss[i] == pytest.approx(p.loss(w[i]), rel=1e-14)
        np.testing.assert_allclose(grad[i], p.grad(w[i], samples=np.array([1, 2])), rtol=1e-14)


def test_mean_of_samplewise_grads_is_full_grad(small):
    p = small
    w = np.random.default_rng(5).standard_normal(p.d)
    per = np.mean([p.grad(w, samples=np.array([i])) for i in range(p.n_samples)], axis=0)
    np.testing.assert_allclose(per, p.grad(w), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("balanced", [True, False])
def test_prop_4_10_samplewise_signsgd_epoch(balanced):
    """One sample-wise epoch of SignSGD: Δb_c = η(2N_c − N), ΔW_ck = −η Σ_i (1−2y_ic) sign(z_ik)."""
    p = linear_head(n_samples=60, n_classes=5, n_features=4, balanced=balanced, seed=2)
    N, eta = p.n_samples, 0.01
    w0 = np.zeros(p.d)
    res = sims.run(p, sims.SignSGD(lr=eta), 2 * N, w0=w0, noise=sims.MiniBatch(size=1, order="cyclic"),
                   engine="numpy", record_every=N)
    one = sims.run(p, sims.SignSGD(lr=eta), N, w0=w0, noise=sims.MiniBatch(size=1, order="cyclic"),
                   engine="numpy")
    Y = np.eye(p.n_classes)[p.labels]                                  # (N, C) one-hot
    db = eta * (2 * p.class_counts - N)
    dW = -eta * np.einsum("ic,ik->ck", 1 - 2 * Y, np.sign(p.features))
    W1, b1 = p.split(one.w_final[0])
    np.testing.assert_allclose(b1, db, atol=1e-12)
    np.testing.assert_allclose(W1, dW, atol=1e-12)
    W2, b2 = p.split(res.w_final[0])  # the same update again in the second epoch: linear growth
    np.testing.assert_allclose(b2, 2 * db, atol=1e-12)
    np.testing.assert_allclose(W2, 2 * dW, atol=1e-12)
    if not balanced:
        assert np.ptp(p.class_counts) > 1


def test_validation():
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="labels must be in"):
        LinearHead(z, np.array([0, 1, 3]), 3)
    with pytest.raises(ValueError, match="one entry per feature row"):
        LinearHead(z, np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="integer array"):
        LinearHead(z, np.array([0.0, 1.0, 1.0]), 3)
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        linear_head(n_classes=1)
    with pytest.raises(TypeError, match="balanced must be a bool"):
        linear_head(balanced="yes")
    p = linear_head(n_samples=5, n_classes=2, n_features=1)
    with pytest.raises(ValueError, match="samples must index"):
        p.grad(np.zeros(p.d), samples=np.array([5]))
    with pytest.raises(ValueError, match="w must have shape"):
        p.loss(np.zeros(p.d + 1))
