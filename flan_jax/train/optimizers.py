"""Adafactor as t5x sets it, learning-rate schedules, and gradient accumulation.

FLAN-T5 was fine-tuned with Adafactor (Shazeer & Stern 2018) at a constant learning rate
(Chung et al. 2022, Appendix E / Table 22); T5 pre-training used the same optimizer with an
inverse-square-root decay. Both are pure functions over optax so the trainer composes them
without knowing which was picked.
"""
import dataclasses
from typing import Any, Callable, Mapping, NamedTuple, Protocol

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from flan_jax.models import layer_stacking, losses

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
    """optax Adafactor with t5x's settings, stepping `schedule` with its own update count.

    The same chain as `optax.adafactor` with the same state (so checkpoints and the partitioning
    rules for its state are unchanged), with two of its links replaced by the equivalent
    transforms below, which XLA:CPU compiles to a fraction of optax's time (T5-small's update:
    see `scale_by_factored_rms`). Each layer of a scanned stack is updated on its own, as if
    unrolled (`per_layer`).
    """
    chain = [scale_by_factored_rms(config.factored, config.decay_rate, config.min_dim_size_to_factor, config.epsilon)]
    if config.clipping_threshold is not None:
        chain.append(optax.clip_by_block_rms(config.clipping_threshold))
    chain.append(optax.scale_by_learning_rate(schedule, flip_sign=False))
    if config.multiply_by_parameter_scale:
        chain.append(scale_by_param_block_rms())
    if config.momentum is not None:
        chain.append(optax.ema(config.momentum, debias=False, accumulator_dtype=jnp.float32))
    chain.append(optax.scale(-1))
    return per_layer(optax.chain(*chain))


def _factored_dims(shape: tuple[int, ...], factored: bool, min_dim_size_to_factor: int) -> tuple[int, int] | None:
    """(second largest, largest) axis of a parameter whose second moment is factored, else None
    (optax's and t5x's rule: both at least `min_dim_size_to_factor`)."""
    if not factored or len(shape) < 2:
        return None
    second, largest = (int(d) for d in np.argsort(shape)[-2:])  # optax's (unstable) order for ties
    return (second, largest) if shape[second] >= min_dim_size_to_factor else None


def _mean_of_squares(grad: jax.Array, axis: int, epsilon: float) -> jax.Array:
    """mean(grad ** 2 + epsilon, axis).

    On CPU a mean over the leading axis is summed row by row in a loop: XLA:CPU compiles a
    reduction over the leading axis of a wide matrix into a strided walk, 106-270 ms for T5-small's
    [512, 32128] logits kernel against 9-12 ms for the loop (2 cores). Accelerators keep the
    plain reduction, where a loop would launch one kernel per row.
    """

    def plain(grad):
        return jnp.mean(jnp.square(grad) + epsilon, axis=axis)

    if axis != 0:
        return plain(grad)

    def by_rows(grad):
        def add_row(i, total):
            row = jax.lax.dynamic_index_in_dim(grad, i, 0, keepdims=False)
            return total + (jnp.square(row) + epsilon)

        total = jax.lax.fori_loop(0, grad.shape[0], add_row, jnp.zeros(grad.shape[1:], grad.dtype), unroll=4)
        return total / grad.shape[0]

    return jax.lax.platform_dependent(grad, cpu=by_rows, default=plain)


def scale_by_factored_rms(
    factored: bool = True, decay_rate: float = 0.8, min_dim_size_to_factor: int = 128, epsilon: float = 1e-30,
) -> optax.GradientTransformation:
    """`optax.scale_by_factored_rms` (Shazeer & Stern 2018): the same numbers and the same state.

    Written here because optax's transform compiles badly on XLA:CPU: the mean of the squared
    gradient over the leading axis of a wide matrix (T5's [emb, vocab] logits kernel) becomes a
    strided reduction ~10-20x slower than a row loop (`_mean_of_squares`).
    """

    def init(params):
        def statistics(param):
            dims = _factored_dims(param.shape, factored, min_dim_size_to_factor)
            placeholder = jnp.zeros((1,), param.dtype)
            if dims is None:
                return placeholder, placeholder, jnp.zeros_like(param)
            second, largest = dims
            without = lambda axis: jnp.zeros(param.shape[:axis] + param.shape[axis + 1:], param.dtype)  # noqa: E731
            return without(largest), without(second), placeholder

        stats = jax.tree.map(statistics, params)
        pick = lambda i: jax.tree.map(lambda _, s: s[i], params, stats)  # noqa: E731
        return optax.FactoredState(count=jnp.zeros([], jnp.int32), v_row=pick(0), v_col=pick(1), v=pick(2))

    def update(grads, state, params=None):
        del params
        decay = 1.0 - (state.count.astype(jnp.float32) + 1.0) ** -decay_rate

        def one(grad, v_row, v_col, v):
            dims = _factored_dims(grad.shape, factored, min_dim_size_to_factor)
            if dims is None:
                v = (decay * v + (1.0 - decay) * (jnp.square(grad) + epsilon)).astype(v.dtype)
                return grad * jax.lax.rsqrt(v), v_row, v_col, v
            second, largest = dims
            v_row = (decay * v_row + (1.0 - decay) * _mean_of_squares(grad, largest, epsilon)).astype(v_row.dtype)
            v_col = (decay * v_col + (1.0 - decay) * _mean_of_squares(grad, second, epsilon)).astype(v_col.dtype)
            row_axis = second - 1 if second > largest else second  # `second` in v_row, which lacks `largest`
            row_factor = jax.lax.rsqrt(v_row / jnp.mean(v_row, axis=row_axis, keepdims=True))
            update = grad * jnp.expand_dims(row_factor, largest) * jnp.expand_dims(jax.lax.rsqrt(v_col), second)
            return update, v_row, v_col, v

        out = jax.tree.map(one, grads, state.v_row, state.v_col, state.v)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)  # noqa: E731
        count = optax.safe_increment(state.count)
        return pick(0), optax.FactoredState(count=count, v_row=pick(1), v_col=pick(2), v=pick(3))

    return optax.GradientTransformation(init, update)


def per_layer(inner: optax.GradientTransformation, stack_key: str = layer_stacking.SCANNED) -> optax.GradientTransformation:
    """`inner` with every `stack_key` subtree (a scanned layer stack, its leaves stacked on a
    leading axis) updated one layer at a time (`jax.vmap` over that axis), the rest as usual.

    Adafactor's parameter scale and update clipping take the root mean square of a whole leaf:
    over a stacked leaf that would mix the layers, so a scanned model would train differently
    from the unrolled one. t5x's own Adafactor treats the "layers" axis as a batch axis for the
    same reason. A tree without such subtrees gets `inner`'s own state, so the unrolled layout's
    optimizer state (and its checkpoints) is unchanged.
    """

    def split(tree) -> dict[str, PyTree]:
        """{"encoder/layers": that stack's subtree (full paths kept), ..., "": everything else}."""
        groups: dict[str, dict] = {}
        for path, leaf in flax.traverse_util.flatten_dict(tree, keep_empty_nodes=True).items():
            stack = "/".join(path[: path.index(stack_key) + 1]) if stack_key in path else ""
            groups.setdefault(stack, {})[path] = leaf
        return {stack: flax.traverse_util.unflatten_dict(flat) for stack, flat in groups.items()}

    def merge(groups: dict[str, PyTree]) -> PyTree:
        flat = {}
        for tree in groups.values():
            flat.update(flax.traverse_util.flatten_dict(tree, keep_empty_nodes=True))
        return flax.traverse_util.unflatten_dict(flat)

    def init(params):
        groups = split(params)
        if set(groups) <= {""}:
            return inner.init(params)
        return PerLayerState(
            stacks={stack: jax.vmap(inner.init)(tree) for stack, tree in groups.items() if stack},
            rest=inner.init(groups.get("", {})),
        )

    def update(updates, state, params=None):
        if not isinstance(state, PerLayerState):
            return inner.update(updates, state, params)
        groups = split(updates)
        param_groups = split(params) if params is not None else {}
        new_updates, stacks = {}, {}
        for stack, stack_state in state.stacks.items():
            new_updates[stack], stacks[stack] = jax.vmap(inner.update)(groups[stack], stack_state, param_groups.get(stack))
        new_updates[""], rest = inner.update(groups.get("", {}), state.rest, param_groups.get(""))
        return merge(new_updates), PerLayerState(stacks=stacks, rest=rest)

    return optax.GradientTransformation(init, update)


def scale_by_param_block_rms(min_scale: float = 1e-3) -> optax.GradientTransformation:
    """`optax.scale_by_param_block_rms`: updates times max(rms(param), min_scale), per parameter.

    The same numbers without optax's `safe_root_mean_squares`, whose `where` (there for a
    gradient at zero that an optimizer never takes) XLA:CPU materializes as a copy of every
    parameter: 31 ms for T5-small's embedding alone.
    """

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_param_block_rms needs the parameters: call update(grads, state, params)")
        scale = lambda u, p: u * jnp.maximum(jnp.sqrt(jnp.mean(jnp.square(p))), min_scale)  # noqa: E731
        return jax.tree.map(scale, updates, params), state

    return optax.GradientTransformation(optax.init_empty_state, update)


class PerLayerState(NamedTuple):
    """`per_layer`'s state: each stack's (one per layer, stacked) by its path, and the rest's."""

    stacks: dict[str, optax.OptState]
    rest: optax.OptState


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
