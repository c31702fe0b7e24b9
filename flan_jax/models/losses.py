"""Token-level losses with t5x semantics (`t5x/losses.py`), as pure functions.

The z-loss (Chung et al. 2022 use t5x's default 1e-4) adds z_loss * log(Z)^2 per token, where Z
is the softmax normaliser: it keeps the logits from drifting, which matters in bfloat16.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp


def label_smoothing_constants(vocab_size: int, label_smoothing: float) -> tuple[float, float, float]:
    """(confidence, low_confidence, normalizing_constant) as t5x computes them.

    The normalizing constant is the entropy of the smoothed target distribution, subtracted so a
    perfect prediction of the smoothed targets has zero loss.
    """
    confidence = 1.0 - label_smoothing
    low_confidence = (1.0 - confidence) / (vocab_size - 1)
    normalizing_constant = -(
        confidence * jnp.log(confidence) + (vocab_size - 1) * low_confidence * jnp.log(low_confidence + 1e-20)
    )
    return confidence, low_confidence, normalizing_constant


def weighted_token_losses(logits: jax.Array, targets: jax.Array, weights: Optional[jax.Array], *,
                          z_loss: float = 0.0, label_smoothing: float = 0.0) -> dict[str, jax.Array]:
    """Raw sums over weighted tokens, so averages stay honest across micro-batches and hosts.

    Args:
      logits: [batch, length, vocab].
      targets: int [batch, length].
      weights: [batch, length] loss weights (None: every token counts).
      z_loss: z-loss coefficient.
      label_smoothing: t5x label smoothing (0 for none).
    Returns:
      float32 scalars: "cross_entropy_sum" (smoothed cross entropy minus its normalizing constant,
      WITHOUT the z-loss), "z_loss_sum", "correct_tokens" (argmax hits), "weight_sum".
    """
    vocab_size = logits.shape[-1]
    confidence, low_confidence, normalizing_constant = label_smoothing_constants(vocab_size, label_smoothing)
    # The same value as t5x's cross_entropy_with_logits against the smoothed one-hot targets,
    # which sum to 1: -sum(soft * (logits - log_z)) = log_z - (confidence - low) * logits[target]
    # - low * sum(logits), so no [batch, length, vocab] target tensor is built.
    logits = logits.astype(jnp.float32)
    log_z, target_logit = log_normalizer_and_target_logit(logits, targets)
    cross_entropy = log_z - (confidence - low_confidence) * target_logit - normalizing_constant
    if label_smoothing:
        cross_entropy = cross_entropy - low_confidence * jnp.sum(logits, axis=-1)
    total_z = z_loss * jnp.square(log_z)
    if weights is None:
        weights = jnp.ones(targets.shape, jnp.float32)
    weights = weights.astype(jnp.float32)
    # The target is the argmax when its logit is the largest; this differs from t5x's argmax (the
    # first largest) only where two logits tie exactly. XLA:CPU ran the argmax's (value, index)
    # reduction over [batch, length, vocab] as slowly as the logsumexp's two passes together,
    # where this reuses the logsumexp's maximum.
    correct = (target_logit >= jnp.max(logits, axis=-1)).astype(jnp.float32)
    return {
        "cross_entropy_sum": jnp.sum(cross_entropy * weights),
        "z_loss_sum": jnp.sum(total_z * weights),
        "correct_tokens": jnp.sum(correct * weights),
        "weight_sum": jnp.sum(weights),
    }


def token_log_likelihoods(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """log p(target) per position: [batch, length] float32."""
    log_z, target_logit = log_normalizer_and_target_logit(logits.astype(jnp.float32), targets)
    return target_logit - log_z


@jax.custom_vjp
def log_normalizer_and_target_logit(logits: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(logsumexp(logits), logits[target]), each [...], of float32 logits [..., vocab] and int targets [...].

    Written with its own backward, softmax * d_log_z + one_hot(target) * d_target in one
    elementwise pass over [..., vocab]: autodiff's kept the shifted exponentials and a selected
    one-hot gradient as two more [..., vocab] arrays (each a full pass over the 32,000-wide logits
    of a Llama-vocabulary batch). The target logit is a comparison with an iota summed over the
    vocabulary, not a gather: XLA fuses it into one reduction, and logits sharded over the
    vocabulary (model parallelism) stay sharded, where a gather along that axis would collect
    them on every device.
    """
    maximum = jnp.max(logits, axis=-1)
    maximum = jnp.where(jnp.isfinite(maximum), maximum, 0.0)  # as jax.nn.logsumexp: rows of -inf give -inf
    log_z = maximum + jnp.log(jnp.sum(jnp.exp(logits - maximum[..., None]), axis=-1))
    target_logit = jnp.sum(jnp.where(_is_target(logits, targets), logits, 0.0), axis=-1)
    return log_z, target_logit


def _is_target(logits: jax.Array, targets: jax.Array) -> jax.Array:
    return targets[..., None].astype(jnp.int32) == jnp.arange(logits.shape[-1], dtype=jnp.int32)


def _log_normalizer_and_target_logit_fwd(logits, targets):
    log_z, target_logit = log_normalizer_and_target_logit(logits, targets)
    return (log_z, target_logit), (logits, targets, log_z)


def _log_normalizer_and_target_logit_bwd(residuals, grads):
    logits, targets, log_z = residuals
    d_log_z, d_target_logit = grads
    d_logits = (jnp.exp(logits - log_z[..., None]) * d_log_z[..., None]
                + jnp.where(_is_target(logits, targets), d_target_logit[..., None], 0.0))
    return d_logits, None


log_normalizer_and_target_logit.defvjp(_log_normalizer_and_target_logit_fwd, _log_normalizer_and_target_logit_bwd)


def loss_normalizer(weight_sum: jax.Array, loss_normalizing_factor: Optional[float]) -> jax.Array:
    """What the summed token loss is divided by: the factor when set, else the batch's summed weights.

    t5x's rule: None averages over the batch's weighted tokens (at least 1, so an all-padding
    batch gives loss 0, not NaN); a number is a fixed normaliser (e.g. batch x target length).
    The model's loss and micro-batch accumulation both call this, so they agree by construction.
    """
    if loss_normalizing_factor is None:
        return jnp.maximum(weight_sum, 1.0)
    return jnp.float32(loss_normalizing_factor)
