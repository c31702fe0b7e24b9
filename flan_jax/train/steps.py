"""The train state and the pure, jittable train / eval steps (t5x's `train_state.py` +
`trainer.train_with_lr`), apart from the loop.

Nothing here reads data or writes files, so this module imports neither seqio/TensorFlow nor
clu: a machine with only jax, flax and optax (a GPU box, a benchmark) can build the exact step
that training runs. `flan_jax.train.trainer` holds the loop around it.
"""
import dataclasses
import functools
from typing import Any, Callable, Mapping, Protocol

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from flan_jax.train import optimizers, partitioning

PyTree = Any
Batch = Mapping[str, jax.Array]


class StepModel(Protocol):
    """What the step needs from `flan_jax.models.model.EncoderDecoderModel`."""

    loss_normalizing_factor: float | None  # None: the loss is averaged over the batch's tokens

    def get_initial_variables(self, rng: jax.Array, input_shapes: Mapping[str, tuple], input_types=None) -> PyTree: ...

    def loss_fn(self, params: PyTree, batch: Batch, dropout_rng: jax.Array | None) -> tuple[jax.Array, Mapping[str, jax.Array]]: ...


@flax.struct.dataclass
class TrainState:
    """Everything that changes during training; an immutable pytree.

    Attributes:
      step: number of updates applied so far (int32 scalar).
      params: plain (unboxed) parameter arrays.
      opt_state: the optax optimizer state.
    """

    step: jax.Array
    params: PyTree
    opt_state: optax.OptState


def train_step(
    state: TrainState,
    batch: Batch,
    dropout_base_rng: jax.Array,
    *,
    loss_fn: optimizers.LossFn,
    optimizer: optax.GradientTransformation,
    learning_rate_schedule: optimizers.LearningRateSchedule,
    num_microbatches: int = 1,
    loss_normalizing_factor: float | None = None,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One update. The dropout key is fold_in(base, step), so a resumed run draws the same keys.

    Returns:
      (new state, metrics): the model's raw sums (cross_entropy_sum, z_loss_sum,
      correct_tokens, weight_sum), its loss, the learning rate used, and the global norms of the
      gradients and the new parameters (their finiteness is checked on the host).
    """
    dropout_rng = jax.random.fold_in(dropout_base_rng, state.step)
    loss, grads, aux = optimizers.accumulate_gradients(
        loss_fn, state.params, batch, dropout_rng, num_microbatches, loss_normalizing_factor
    )
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {
        "loss": loss,
        **aux,
        "learning_rate": learning_rate_schedule(state.step),
        "grad_norm": optax.global_norm(grads),
        "param_norm": optax.global_norm(params),
    }
    return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics


def eval_step(params: PyTree, batch: Batch, *, loss_fn: optimizers.LossFn) -> dict[str, jax.Array]:
    """Loss and raw sums of one batch without dropout."""
    loss, aux = loss_fn(params, batch, None)
    return {"loss": loss, **aux}


def summarize_metrics(sums: Mapping[str, float]) -> dict[str, float]:
    """Raw sums (over steps, micro-batches and hosts) -> per-token averages."""
    tokens = max(float(sums["weight_sum"]), 1.0)
    summary = {
        "cross_entropy": float(sums["cross_entropy_sum"]) / tokens,
        "z_loss": float(sums["z_loss_sum"]) / tokens,
        "accuracy": float(sums["correct_tokens"]) / tokens,
    }
    summary["loss_per_token"] = summary["cross_entropy"] + summary["z_loss"]
    return summary


@dataclasses.dataclass(frozen=True)
class ParamLayout:
    """The model's parameters as shapes, with their logical and mesh specs and shardings."""

    abstract: PyTree  # jax.ShapeDtypeStruct per parameter (unboxed)
    logical_specs: PyTree
    mesh_specs: PyTree
    shardings: PyTree


def param_layout(model: StepModel, partitioner: partitioning.Partitioner,
                 input_shapes: Mapping[str, tuple[int, int]]) -> ParamLayout:
    """Shapes first (eval_shape, nothing allocated), then shardings from the logical axis rules.

    The one place the parameters' layout is derived: training (`state_layout`) and restoring a
    checkpoint for evaluation (`checkpoints.restore_model_params`) agree by construction.
    """
    abstract_boxed = jax.eval_shape(lambda rng: model.get_initial_variables(rng, input_shapes)["params"], jax.random.PRNGKey(0))
    logical, mesh_specs = partitioner.param_specs(abstract_boxed)
    return ParamLayout(nn.meta.unbox(abstract_boxed), logical, mesh_specs, partitioner.to_shardings(mesh_specs))


@dataclasses.dataclass(frozen=True)
class StateLayout:
    """Abstract state, its shardings and the parameters' logical and mesh specs."""

    abstract_state: TrainState
    shardings: TrainState
    logical_specs: PyTree
    mesh_specs: PyTree


def state_layout(
    model: StepModel,
    optimizer: optax.GradientTransformation,
    partitioner: partitioning.Partitioner,
    input_shapes: Mapping[str, tuple[int, int]],
) -> StateLayout:
    """The parameters' layout (`param_layout`), then the optimizer state's, following it."""
    params = param_layout(model, partitioner, input_shapes)
    abstract_opt = jax.eval_shape(optimizer.init, params.abstract)
    opt_specs = partitioning.optimizer_state_specs(abstract_opt, params.abstract, params.mesh_specs)
    abstract_state = TrainState(step=jax.ShapeDtypeStruct((), jnp.int32), params=params.abstract, opt_state=abstract_opt)
    specs = TrainState(step=jax.sharding.PartitionSpec(), params=params.mesh_specs, opt_state=opt_specs)
    return StateLayout(abstract_state, partitioner.to_shardings(specs), params.logical_specs, params.mesh_specs)


def init_state(
    model: StepModel,
    optimizer: optax.GradientTransformation,
    layout: StateLayout,
    input_shapes: Mapping[str, tuple[int, int]],
    rng: jax.Array,
) -> TrainState:
    """A fresh state, created already sharded (jitted init with out_shardings)."""

    def init(rng):
        params = nn.meta.unbox(model.get_initial_variables(rng, input_shapes)["params"])
        return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params))

    return jax.jit(init, out_shardings=layout.shardings)(rng)


def jit_train_step(
    model: StepModel,
    optimizer: optax.GradientTransformation,
    learning_rate_schedule: optimizers.LearningRateSchedule,
    layout: StateLayout,
    partitioner: partitioning.Partitioner,
    num_microbatches: int = 1,
) -> Callable[[TrainState, Batch, jax.Array], tuple[TrainState, dict[str, jax.Array]]]:
    """`train_step` bound to its collaborators, jitted once with shardings; the state is donated."""
    replicated = partitioner.replicated()
    return jax.jit(
        partitioner.with_activation_rules(functools.partial(
            train_step, loss_fn=model.loss_fn, optimizer=optimizer,
            learning_rate_schedule=learning_rate_schedule, num_microbatches=num_microbatches,
            loss_normalizing_factor=model.loss_normalizing_factor,
        )),
        in_shardings=(layout.shardings, partitioner.batch_sharding(), replicated),
        out_shardings=(layout.shardings, replicated),
        donate_argnums=(0,),
    )
