"""Loss math against a numpy reference (t5x's cross entropy, z-loss and label smoothing)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flan_jax.models import losses


def _reference(logits, targets, weights, z_loss, smoothing):
    vocab = logits.shape[-1]
    log_z = np.log(np.exp(logits).sum(-1))
    log_softmax = logits - log_z[..., None]
    confidence, low = 1 - smoothing, smoothing / (vocab - 1)
    soft = np.full(logits.shape, low)
    np.put_along_axis(soft, targets[..., None], confidence, -1)
    constant = -(confidence * np.log(confidence) + (vocab - 1) * low * np.log(low + 1e-20))
    ce = -(soft * log_softmax).sum(-1) - constant
    z = z_loss * log_z**2
    correct = (logits.argmax(-1) == targets)
    return {
        "cross_entropy_sum": (ce * weights).sum(), "z_loss_sum": (z * weights).sum(),
        "correct_tokens": (correct * weights).sum(), "weight_sum": weights.sum(),
    }


@pytest.mark.parametrize("z_loss, smoothing", [(0.0, 0.0), (1e-4, 0.0), (1e-2, 0.1)])
def test_weighted_token_losses_match_numpy(z_loss, smoothing):
    rng = np.random.RandomState(0)
    logits = (3 * rng.normal(size=(2, 5, 11))).astype(np.float64)
    targets = rng.randint(0, 11, (2, 5))
    weights = (rng.uniform(size=(2, 5)) > 0.3).astype(np.float64)
    got = losses.weighted_token_losses(logits.astype(np.float32), targets, weights.astype(np.float32),
                                       z_loss=z_loss, label_smoothing=smoothing)
    expected = _reference(logits, targets, weights, z_loss, smoothing)
    for key, value in expected.items():
        np.testing.assert_allclose(float(got[key]), value, rtol=1e-4, atol=1e-5, err_msg=key)


def test_smoothing_constant_makes_smoothed_targets_zero_loss():
    vocab, smoothing = 7, 0.2
    confidence, low, _ = losses.label_smoothing_constants(vocab, smoothing)
    probs = np.full((1, 1, vocab), low)
    probs[0, 0, 3] = confidence
    got = losses.weighted_token_losses(np.log(probs).astype(np.float32), np.array([[3]]), None, label_smoothing=smoothing)
    assert abs(float(got["cross_entropy_sum"])) < 1e-5


def test_z_loss_is_log_z_squared():
    logits = np.array([[[2.0, 0.0, -1.0]]], np.float32)
    got = losses.weighted_token_losses(logits, np.array([[0]]), None, z_loss=0.5)
    log_z = np.log(np.exp(logits).sum())
    np.testing.assert_allclose(float(got["z_loss_sum"]), 0.5 * log_z**2, rtol=1e-6)
    total = float(got["cross_entropy_sum"]) + float(got["z_loss_sum"])
    np.testing.assert_allclose(total, (log_z - 2.0) + 0.5 * log_z**2, rtol=1e-6)


def test_token_log_likelihoods():
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], np.float32))
    np.testing.assert_allclose(losses.token_log_likelihoods(logits, np.array([[1, 2]])), np.log([[0.25, 0.8]]), rtol=1e-6)


@pytest.mark.parametrize("z_loss, smoothing", [(1e-4, 0.0), (1e-2, 0.1)])
def test_loss_gradient_matches_autodiff_of_the_plain_formula(z_loss, smoothing):
    """log_normalizer_and_target_logit's own backward against autodiff of logsumexp and a one-hot sum."""
    rng = np.random.RandomState(1)
    logits = jnp.asarray(3 * rng.normal(size=(2, 5, 11)), jnp.float32)
    targets = jnp.asarray(rng.randint(0, 11, (2, 5)))
    weights = jnp.asarray(rng.uniform(size=(2, 5)) > 0.3, jnp.float32)
    confidence, low, _ = losses.label_smoothing_constants(11, smoothing)

    def plain(logits):
        log_z = jax.nn.logsumexp(logits, axis=-1)
        target = jnp.sum(jax.nn.one_hot(targets, 11) * logits, axis=-1)
        per_token = log_z - (confidence - low) * target - low * jnp.sum(logits, axis=-1) + z_loss * log_z**2
        return jnp.sum(per_token * weights)

    def ours(logits):
        sums = losses.weighted_token_losses(logits, targets, weights, z_loss=z_loss, label_smoothing=smoothing)
        return sums["cross_entropy_sum"] + sums["z_loss_sum"]

    np.testing.assert_allclose(jax.grad(ours)(logits), jax.grad(plain)(logits), rtol=1e-5, atol=1e-6)
    scores = jax.grad(lambda l: jnp.sum(losses.token_log_likelihoods(l, targets) * weights))(logits)
    expected = jax.grad(lambda l: jnp.sum((jnp.sum(jax.nn.one_hot(targets, 11) * l, -1) - jax.nn.logsumexp(l, -1)) * weights))(logits)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
