"""Adafactor as t5x sets it, learning-rate schedules, and gradient accumulation.

FLAN-T5 was fine-tuned with Adafactor (Shazeer & Stern 2018) at a constant learning rate
(Chung et al. 2022, Appendix E / Table 22); T5 pre-training used the same optimizer with an
inverse-square-root decay. Both are pure functions over optax so the trainer composes them
without knowing which was picked.
"""
import dataclasses
from typing import Any, Callable, Mapping, Protocol

import jax
import jax.numpy as jnp
import optax

from flan_jax.models import losses

PyTree = Any


class LearningRateSchedule(Protocol):
    """step -> learning rate (a jnp scalar), traceable inside jit."""

    def __call__(self, step: jax.Array | int) -> jax.Array: ...


@dataclasses.dataclass(frozen=True)
class AdafactorConfig:
    """Adafactor hyper-parameters; the defaults are t5x's `adafactor.Adafactor` defaults.

    Attributes:
      decay_rate: exponent of the second-moment decay 1 - (step + 1) ** -decay_rate.
      clipping_threshold: clip each update to this root-mean-square (Shazeer & Stern, sec. 6).
      multiply_by_parameter_scale: scale updates by max(rms(param), 1e-3), so the learning rate
        is relative to the parameter's size.
      momentum: None: no first moment, as in T5/FLAN-T5 (saves one copy of the parameters).
      min_dim_size_to_factor: factor the second moment of a matrix only when its two largest
        dimensions are at least this size; smaller tensors keep the full second moment.
      epsilon: added to squared gradients (t5x's epsilon1 = 1e-30).
      factored: keep row and column statistics instead of the full second moment.
    """

    decay_rate: float = 0.8
    clipping_threshold: float | None = 1.0
    multiply_by_parameter_scale: bool = True
    momentum: float | None = None
    min_dim_size_to_factor: int = 128
    epsilon: float = 1e-30
    factored: bool = True


def constant_schedule(learning_rate: float) -> LearningRateSchedule:
    """The same learning rate at every step (FLAN-T5 fine-tuning, Chung et al. 2022 Table 22)."""

    def schedule(step):
        del step
        return jnp.asarray(learning_rate, jnp.float32)

    return schedule


def rsqrt_schedule(learning_rate: float, warmup_steps: int = 10_000) -> LearningRateSchedule:
    """t5x's `constant * rsqrt_decay`: lr = learning_rate / sqrt(max(step, warmup_steps)).

    The rate is flat at learning_rate / sqrt(warmup_steps) for the first warmup_steps steps,
    then decays as 1/sqrt(step). T5 pre-training used learning_rate 1.0 with 10,000 warmup
    steps, i.e. 0.01 for the first 10k steps (Raffel et al. 2020, sec. 3.1.2).
    """
    if warmup_steps < 1:
        raise ValueError(f"rsqrt_schedule needs warmup_steps >= 1 (got {warmup_steps}) to avoid 1/sqrt(0)")

    def schedule(step):
        step = jnp.asarray(step, jnp.float32)
        return learning_rate / jnp.sqrt(jnp.maximum(step, float(warmup_steps)))

    return schedule


def adafactor(
    schedule: LearningRateSchedule, config: AdafactorConfig = AdafactorConfig()
) -> optax.GradientTransformation:
    """optax Adafactor with t5x's settings, stepping `schedule` with its own update count."""
    return optax.adafactor(
        learning_rate=schedule,
        min_dim_size_to_factor=config.min_dim_size_to_factor,
        decay_rate=config.decay_rate,
        multiply_by_parameter_scale=config.multiply_by_parameter_scale,
        clipping_threshold=config.clipping_threshold,
        momentum=config.momentum,
        eps=config.epsilon,
        factored=config.factored,
    )


# loss_fn(params, batch, dropout_rng) -> (loss, aux): the model's contract
# (`EncoderDecoderModel.loss_fn`), where aux holds raw sums over the batch.
LossFn = Callable[[PyTree, Mapping[str, jax.Array], jax.Array | None], tuple[jax.Array, Mapping[str, jax.Array]]]


def split_microbatches(batch: Mapping[str, jax.Array], num_microbatches: int) -> dict[str, jax.Array]:
    """[B, ...] -> [num_microbatches, B // num_microbatches, ...], micro-batch i = rows i::n.

    Strided rows (not contiguous blocks) keep every micro-batch spread over all data-parallel
    shards of the batch, so no micro-batch lives on only some devices.
    """
    def split(x):
        batch_size = x.shape[0]
        if batch_size % num_microbatches:
            raise ValueError(
                f"The batch of {batch_size} rows does not split into NUM_MICROBATCHES="
                f"{num_microbatches} equal micro-batches; choose a divisor of BATCH_SIZE."
            )
        x = x.reshape((batch_size // num_microbatches, num_microbatches) + x.shape[1:])
        return jnp.swapaxes(x, 0, 1)

    return {k: split(v) for k, v in batch.items()}


def accumulate_gradients(
    loss_fn: LossFn,
    params: PyTree,
    batch: Mapping[str, jax.Array],
    dropout_rng: jax.Array | None,
    num_microbatches: int = 1,
    loss_normalizing_factor: float | None = None,
) -> tuple[jax.Array, PyTree, dict[str, jax.Array]]:
    """Loss, gradients and raw-sum aux of `batch`, computed over micro-batches.

    With one micro-batch this is `value_and_grad(loss_fn)`. With several, each micro-batch's
    gradient is taken of its RAW summed token loss (aux "cross_entropy_sum" + "z_loss_sum",
    which add up over examples), the sums and gradients are added over micro-batches, and the
    totals are divided once by the whole batch's normaliser: `loss_normalizing_factor`, or the
    whole batch's "weight_sum" when it is None (the model's own rule, t5x's). So the result
    equals the unsplit batch's even when the model averages over its batch's tokens.
    Micro-batch i draws dropout from fold_in(dropout_rng, i).

    Args:
      loss_fn: the model's loss function (params, batch, dropout_rng) -> (loss, aux).
      params: plain (unboxed) parameters.
      batch: the global batch, leading dimension = batch size.
      dropout_rng: base key for dropout, or None for no dropout.
      num_microbatches: 1 computes the whole batch at once.
      loss_normalizing_factor: the model's constant normaliser, None = tokens of the batch.

    Returns:
      (loss, grads, aux) for the whole batch; aux holds the summed raw sums.
    """
    if num_microbatches <= 1:
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, dropout_rng)
        return loss, grads, dict(aux)

    def summed_loss(params, microbatch, rng):
        _, aux = loss_fn(params, microbatch, rng)
        return aux["cross_entropy_sum"] + aux["z_loss_sum"], dict(aux)

    grad_fn = jax.value_and_grad(summed_loss, has_aux=True)
    microbatches = split_microbatches(batch, num_microbatches)

    def microbatch_grads(index, microbatch):
        rng = None if dropout_rng is None else jax.random.fold_in(dropout_rng, index)
        (total, aux), grads = grad_fn(params, microbatch, rng)
        return total, grads, aux

    def body(carry, xs):
        index, microbatch = xs
        return jax.tree.map(jnp.add, carry, microbatch_grads(index, microbatch)), None

    zeros = jax.tree.map(
        lambda shape: jnp.zeros(shape.shape, shape.dtype),
        jax.eval_shape(microbatch_grads, 0, jax.tree.map(lambda x: x[0], microbatches)),
    )
    (total, grads, aux), _ = jax.lax.scan(body, zeros, (jnp.arange(num_microbatches), microbatches))
    normaliser = losses.loss_normalizer(aux["weight_sum"], loss_normalizing_factor)
    return total / normaliser, jax.tree.map(lambda g: g / normaliser, grads), aux
