"""Memory plans: will the train step fit the devices of a slice, before paying for the slice?

`plan_train_step` builds the trainer's own step (`steps.state_layout` + `steps.jit_train_step`,
the same model, optimizer, partitioner and batch shapes a run uses) for a mesh of any size,
lowers it on abstract shapes and compiles it ahead of time, so no parameter is ever allocated.
Per device it reports the parameters' and optimizer state's bytes (from their shardings) and
XLA's temporaries (`compiled.memory_analysis()`: activations, gradients, collectives'
buffers), and compares the total with `utilization.ACCELERATORS`. `flan-jax plan`
(`plan_command`) runs it on fake CPU devices: XLA:CPU lays out temporaries somewhat
differently from the TPU and GPU compilers, so the temporaries are an estimate of the same
program, not a measurement on the accelerator.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from flan_jax.data import features
from flan_jax.train import checkpoints, optimizers, partitioning, steps, trainer, utilization


@dataclasses.dataclass(frozen=True)
class MemoryPlan:
    """Bytes per device of one compiled train step.

    Attributes:
      parameters: the model's parameter count.
      devices: devices of the mesh; mesh: its axis sizes.
      per_device_bytes: "params" and "opt_state" (the state's shards), "temp" (XLA's
        temporaries), "other" (the batch and the step's outputs not aliased to the donated
        state), "total" (their sum: the step's peak).
      compile_seconds: time to lower and compile the step here.
      train_flops: the analytic FLOPs of one step (`utilization.train_flops`), None if unknown.
      compiled: the compiled step (for its HLO or cost analysis); not part of `to_json`.
    """

    parameters: int
    devices: int
    mesh: dict[str, int]
    per_device_bytes: dict[str, int]
    compile_seconds: float
    train_flops: float | None = None
    compiled: Any = dataclasses.field(default=None, repr=False, compare=False)

    def fits(self) -> dict[str, bool]:
        """{accelerator name: whether the total fits its memory}."""
        return {row.name: self.per_device_bytes["total"] <= row.memory_bytes for row in utilization.ACCELERATORS}

    def to_json(self) -> dict[str, Any]:
        return {
            "parameters": self.parameters, "devices": self.devices, "mesh": self.mesh,
            "per_device_bytes": self.per_device_bytes, "fits": self.fits(),
            "compile_seconds": round(self.compile_seconds, 1), "train_flops": self.train_flops,
        }


def _sharded_bytes(abstract: Any, shardings: Any) -> int:
    """Bytes one device holds of a tree of abstract arrays placed by `shardings` (the largest
    shard, which every device holds when dimensions divide evenly)."""
    return sum(
        math.prod(sharding.shard_shape(leaf.shape)) * jnp.dtype(leaf.dtype).itemsize
        for leaf, sharding in zip(jax.tree.leaves(abstract), jax.tree.leaves(shardings))
    )


def plan_train_step(
    *,
    model: trainer.Model,
    partitioner: partitioning.Partitioner,
    learning_rate_schedule: optimizers.LearningRateSchedule,
    batch_size: int,
    task_feature_lengths: Mapping[str, int],
    make_optimizer: Callable[[optimizers.LearningRateSchedule], optax.GradientTransformation] = optimizers.adafactor,
    num_microbatches: int = 1,
    pack: bool = True,
) -> MemoryPlan:
    """Compiles the train step for `partitioner`'s mesh on abstract shapes and sizes its memory.

    The arguments are `trainer.train`'s (gin binds them alike in gin/runs/plan.gin).

    Raises:
      ValueError: the batch does not split over the mesh, or a parameter over its axes.
    """
    partitioner.check_batch_size(batch_size, num_microbatches)
    optimizer = make_optimizer(learning_rate_schedule)
    input_shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, task_feature_lengths, pack)
    layout = steps.state_layout(model, optimizer, partitioner, input_shapes)
    step = steps.jit_train_step(model, optimizer, learning_rate_schedule, layout, partitioner, num_microbatches)
    state = checkpoints.abstract_like(layout.abstract_state, layout.shardings)
    batch_sharding = partitioner.batch_sharding()
    batch = {
        name: jax.ShapeDtypeStruct((batch_size, shape[1]), jnp.int32, sharding=batch_sharding)
        for name, shape in input_shapes.items()
    }
    rng = jax.eval_shape(lambda: jax.random.PRNGKey(0))
    start = time.perf_counter()
    compiled = step.lower(state, batch, rng).compile()
    seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    params = _sharded_bytes(layout.abstract_state.params, layout.shardings.params)
    opt_state = _sharded_bytes(layout.abstract_state.opt_state, layout.shardings.opt_state)
    temp = int(memory.temp_size_in_bytes)
    arguments_and_outputs = memory.argument_size_in_bytes + memory.output_size_in_bytes - memory.alias_size_in_bytes
    other = max(int(arguments_and_outputs) - params - opt_state, 0)
    return MemoryPlan(
        parameters=partitioning.count_parameters(layout.abstract_state.params),
        devices=partitioner.mesh.devices.size,
        mesh=dict(partitioner.mesh.shape),
        per_device_bytes={"params": params, "opt_state": opt_state, "temp": temp, "other": other,
                          "total": params + opt_state + temp + other},
        compile_seconds=seconds,
        train_flops=utilization.train_flops(model, batch_size, input_shapes),
        compiled=compiled,
    )


def count_parameters(model: trainer.Model, task_feature_lengths: Mapping[str, int] | None = None) -> int:
    """The model's parameter count from abstract shapes (nothing allocated, nothing compiled)."""
    input_shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, task_feature_lengths or {"inputs": 8, "targets": 8}, pack=False)
    abstract = jax.eval_shape(lambda rng: model.get_initial_variables(rng, input_shapes)["params"], jax.random.PRNGKey(0))
    return partitioning.count_parameters(abstract)


def format_plan(plan: MemoryPlan, title: str) -> str:
    """A few lines: the setting, bytes per device and which accelerators it fits."""
    def gib(n: int) -> str:
        return f"{n / utilization.GIB:.2f} GiB" if n >= utilization.GIB // 10 else f"{n / 2**20:.1f} MiB"

    bytes_ = plan.per_device_bytes
    lines = [
        title,
        f"parameters: {plan.parameters:,}; mesh {plan.mesh} ({plan.devices} devices)",
        f"per device: params {gib(bytes_['params'])} + optimizer state {gib(bytes_['opt_state'])} + "
        f"XLA temporaries {gib(bytes_['temp'])} + batch and outputs {gib(bytes_['other'])} = {gib(bytes_['total'])}",
    ]
    fits = plan.fits()
    lines.append("fits: " + ", ".join(
        f"{row.name} ({row.memory_bytes / utilization.GIB:.0f} GiB) {'yes' if fits[row.name] else 'NO'}"
        for row in utilization.ACCELERATORS
    ))
    if plan.train_flops:
        lines.append(f"analytic train FLOPs per step: {plan.train_flops / 1e12:,.3g} TFLOP")
    lines.append(f"compiled in {plan.compile_seconds:.0f} s (XLA:CPU on fake devices: temporaries are an estimate)")
    return "\n".join(lines)
