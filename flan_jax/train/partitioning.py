"""Device mesh, logical axis rules and shardings (t5x's partitioning concepts on `jax.jit`).

Every parameter names its dimensions with t5x logical axes (batch, embed, mlp, heads, ...). One
short rules table maps logical axes to the two mesh axes: 'data' (the batch is split over it)
and 'model' (weights are split over it). Shardings are derived, never hand-placed: eval_shape
-> logical PartitionSpecs -> mesh shardings -> a jitted init with those out_shardings.
"""
import functools
import logging
import math
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

PyTree = Any
LogicalAxisRules = tuple[tuple[str, str | None], ...]

DATA_AXIS = "data"
MODEL_AXIS = "model"

# t5x `standard_logical_axis_rules` (1-D activation and parameter partitioning): batches split
# over 'data'; the wide dimensions of weights (vocab, mlp, heads, joined_kv) over 'model';
# everything else replicated.
_STANDARD_RULES: LogicalAxisRules = (
    ("batch", DATA_AXIS),
    ("vocab", MODEL_AXIS),
    ("mlp", MODEL_AXIS),
    ("heads", MODEL_AXIS),
    ("joined_kv", MODEL_AXIS),
    ("kv", None),
    ("embed", None),
    ("relpos_buckets", None),
    ("abspos_buckets", None),
    ("length", None),
    ("layers", None),
    ("stack", None),
    ("mlp_activations", None),
)


def standard_logical_axis_rules(fsdp: bool = False) -> LogicalAxisRules:
    """t5x's standard rules; `fsdp` also splits weights' 'embed' axis over 'data'.

    fsdp is t5x's parameter_partitioning_dims=2: each weight is split over both mesh axes, so a
    data-parallel replica stores 1/num_data of it (ZeRO-3 / fully sharded data parallel). Rules
    apply in order and a mesh axis is used once per array, so an activation's 'batch' claims
    'data' before its 'embed' can.
    """
    if not fsdp:
        return _STANDARD_RULES
    return tuple((name, DATA_AXIS) if name == "embed" else (name, axis) for name, axis in _STANDARD_RULES)


def make_mesh(
    num_partitions: int | None = 1,
    model_parallel_submesh: Sequence[int] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> Mesh:
    """A ('data', 'model') mesh over all devices (every process's), `num_partitions` wide in 'model'.

    Args:
      num_partitions: devices per model replica (t5x NUM_PARTITIONS).
      model_parallel_submesh: t5x's TPU (x, y, z, cores) submesh of one model replica; only its
        size is used here (the physical layout comes from `mesh_utils`). Exclusive with
        num_partitions > 1.
      devices: defaults to `jax.devices()`.

    Returns:
      A Mesh of shape (num_devices // num_partitions, num_partitions).
    """
    devices = list(jax.devices() if devices is None else devices)
    if model_parallel_submesh is not None:
        if num_partitions not in (None, 1):
            raise ValueError(
                f"Set NUM_PARTITIONS ({num_partitions}) or MODEL_PARALLEL_SUBMESH "
                f"({tuple(model_parallel_submesh)}), not both."
            )
        num_partitions = math.prod(model_parallel_submesh)
    num_partitions = num_partitions or 1
    if num_partitions < 1 or len(devices) % num_partitions:
        raise ValueError(
            f"NUM_PARTITIONS={num_partitions} does not divide the {len(devices)} devices; "
            f"choose one of {[d for d in range(1, len(devices) + 1) if len(devices) % d == 0]}."
        )
    shape = (len(devices) // num_partitions, num_partitions)
    if devices[0].platform == "tpu":
        device_grid = mesh_utils.create_device_mesh(shape, devices)
    else:
        # Process-major order keeps each process's devices contiguous along 'data', so each host
        # feeds the rows its own devices hold (see `host_local_to_global`).
        ordered = sorted(devices, key=lambda d: (d.process_index, d.id))
        device_grid = np.asarray(ordered, dtype=object).reshape(shape)
    return Mesh(device_grid, (DATA_AXIS, MODEL_AXIS))


class Partitioner:
    """A mesh plus the logical-axis rules that place arrays on it.

    Args:
      num_partitions: devices per model replica (t5x NUM_PARTITIONS).
      model_parallel_submesh: t5x MODEL_PARALLEL_SUBMESH (only its size is used).
      logical_axis_rules: defaults to `standard_logical_axis_rules()`.
      devices: defaults to all devices.
    """

    def __init__(
        self,
        num_partitions: int | None = 1,
        model_parallel_submesh: Sequence[int] | None = None,
        logical_axis_rules: LogicalAxisRules | None = None,
        devices: Sequence[jax.Device] | None = None,
    ):
        self.mesh = make_mesh(num_partitions, model_parallel_submesh, devices)
        self.logical_axis_rules = tuple(
            (name, axis) for name, axis in (logical_axis_rules or standard_logical_axis_rules())
        )

    @property
    def data_parallel_size(self) -> int:
        return self.mesh.shape[DATA_AXIS]

    def with_activation_rules(self, fn: Callable) -> Callable:
        """`fn` traced with this mesh and these rules active, so that the model's
        `nn.with_logical_constraint`s on activations take effect.

        Outside such a context flax drops them silently, and XLA's propagation follows the
        weights instead: under fsdp it splits the activations' 'embed' over 'data' and
        replicates the batch on every device.
        """

        def traced(*args, **kwargs):
            with jax.sharding.use_abstract_mesh(self.mesh.abstract_mesh), nn.logical_axis_rules(self.logical_axis_rules):
                return fn(*args, **kwargs)

        # The function's name (a partial's function's) names the compiled module (jit_train_step).
        traced.__name__ = traced.__qualname__ = getattr(fn.func if isinstance(fn, functools.partial) else fn, "__name__", "traced")
        return traced

    def sharding(self, spec: PartitionSpec) -> NamedSharding:
        return NamedSharding(self.mesh, spec)

    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    def batch_sharding(self) -> NamedSharding:
        """Batches: leading (batch) dimension over 'data', the rest replicated."""
        return NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

    def check_batch_size(self, batch_size: int, num_microbatches: int = 1) -> None:
        """Raises up front when the global batch cannot be split evenly over the mesh."""
        per_step = batch_size // max(num_microbatches, 1)
        if batch_size % max(num_microbatches, 1) or per_step % self.data_parallel_size:
            raise ValueError(
                f"BATCH_SIZE={batch_size} with NUM_MICROBATCHES={num_microbatches} does not split "
                f"over the {self.data_parallel_size} data-parallel replicas of mesh "
                f"{dict(self.mesh.shape)}: BATCH_SIZE must be a multiple of "
                f"{self.data_parallel_size * max(num_microbatches, 1)} (replicas x micro-batches), "
                "or change NUM_PARTITIONS."
            )

    def logical_to_mesh_specs(self, logical_specs: PyTree, shapes: PyTree) -> PyTree:
        """Logical PartitionSpecs -> mesh PartitionSpecs, checked against each array's shape.

        Raises:
          ValueError naming the parameter whose logical axis is unknown to the rules or whose
          dimension does not divide over the mesh axes it maps to.
        """
        known = {name for name, _ in self.logical_axis_rules}

        def convert(path, logical, shape):
            name = path_name(path)
            unknown = [axis for axis in logical if isinstance(axis, str) and axis not in known]
            if unknown:
                raise ValueError(
                    f"Parameter {name} has logical axes {tuple(logical)} but {unknown} are not in "
                    f"the logical axis rules {[n for n, _ in self.logical_axis_rules]}; add a rule."
                )
            mesh_spec = nn.logical_to_mesh_axes(tuple(logical), self.logical_axis_rules)
            _check_divisible(name, tuple(logical), mesh_spec, shape.shape, self.mesh)
            return mesh_spec

        return jax.tree_util.tree_map_with_path(
            convert, logical_specs, shapes, is_leaf=lambda x: isinstance(x, PartitionSpec)
        )

    def param_specs(self, abstract_boxed_params: PyTree) -> tuple[PyTree, PyTree]:
        """(logical specs, mesh specs) of a boxed (nn.LogicallyPartitioned) abstract tree."""
        logical = nn.get_partition_spec(abstract_boxed_params)
        shapes = nn.meta.unbox(abstract_boxed_params)
        return logical, self.logical_to_mesh_specs(logical, shapes)

    def to_shardings(self, mesh_specs: PyTree) -> PyTree:
        return jax.tree.map(
            lambda spec: NamedSharding(self.mesh, spec),
            mesh_specs,
            is_leaf=lambda x: isinstance(x, PartitionSpec),
        )

    def host_local_to_global(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]:
        """This process's rows of the batch -> global arrays sharded over 'data' (multi-host safe)."""
        sharding = self.batch_sharding()
        return {
            key: jax.make_array_from_process_local_data(sharding, np.asarray(value))
            for key, value in batch.items()
        }


def path_name(path: Sequence[Any]) -> str:
    """A readable '/'-joined name for a pytree key path: encoder/layers_0/attention/query/kernel."""
    return "/".join(_key_str(key) for key in path)


def _mesh_axis_size(mesh: Mesh, axes: str | tuple[str, ...] | None) -> int:
    if axes is None:
        return 1
    axes = (axes,) if isinstance(axes, str) else axes
    return math.prod(mesh.shape[a] for a in axes)


def _check_divisible(name: str, logical: tuple, mesh_spec: PartitionSpec, shape: tuple, mesh: Mesh) -> None:
    if len(logical) != len(shape):
        raise ValueError(f"Parameter {name} of shape {shape} has {len(logical)} logical axes {logical}.")
    for dim, (size, axes) in enumerate(zip(shape, tuple(mesh_spec) + (None,) * len(shape))):
        parts = _mesh_axis_size(mesh, axes)
        if size % parts:
            raise ValueError(
                f"Parameter {name} of shape {shape}: dimension {dim} ({logical[dim]!r}, size {size}) "
                f"maps to mesh axis {axes!r} of size {parts}, which does not divide it. Change "
                "NUM_PARTITIONS or the logical axis rules, or pick model dimensions divisible by it."
            )


# Optax Adafactor keeps reduced statistics of factored matrices: 'v_row' drops the largest
# dimension, 'v_col' the second largest (optax `_factored_dims`), and a (1,) placeholder elsewhere.
_FACTORED_DROPPED_RANK = {"v_row": -1, "v_col": -2}


def optimizer_state_specs(abstract_opt_state: PyTree, abstract_params: PyTree, param_mesh_specs: PyTree) -> PyTree:
    """Mesh PartitionSpecs for an optax state, derived from the parameters' specs.

    A state leaf belongs to the parameter whose key path ends its own path (optax states nest a
    copy of the parameter tree). A leaf of the parameter's shape takes the parameter's spec; a
    leaf with one dimension fewer (factored second moments) takes it with that dimension
    dropped; anything else (counts, (1,) placeholders) is replicated. Any such spec is valid
    for the leaf's shape, so the choice only affects efficiency, never correctness.
    """
    param_leaves = {
        tuple(_key_str(k) for k in path): (leaf.shape, spec)
        for (path, leaf), spec in zip(
            jax.tree_util.tree_flatten_with_path(abstract_params)[0],
            jax.tree.leaves(param_mesh_specs, is_leaf=lambda x: isinstance(x, PartitionSpec)),
        )
    }
    max_depth = max((len(k) for k in param_leaves), default=0)

    def spec_for(path, leaf):
        keys = tuple(_key_str(k) for k in path)
        owner = None
        for depth in range(min(len(keys), max_depth), 0, -1):
            owner = param_leaves.get(keys[-depth:])
            if owner is not None:
                break
        shape = tuple(getattr(leaf, "shape", ()))
        if owner is None:
            return PartitionSpec()
        param_shape, param_spec = owner
        axes = tuple(param_spec) + (None,) * (len(param_shape) - len(tuple(param_spec)))
        if shape == tuple(param_shape):
            return PartitionSpec(*axes)
        if len(shape) == len(param_shape) - 1:
            candidates = [d for d in range(len(param_shape)) if param_shape[:d] + param_shape[d + 1:] == shape]
            rank = next((r for field, r in _FACTORED_DROPPED_RANK.items() if field in keys), None)
            preferred = int(np.argsort(param_shape, kind="stable")[rank]) if rank is not None else None
            if candidates:
                dropped = preferred if preferred in candidates else candidates[0]
                return PartitionSpec(*(axes[:dropped] + axes[dropped + 1:]))
        return PartitionSpec()

    return jax.tree_util.tree_map_with_path(spec_for, abstract_opt_state)


def _key_str(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def describe_parameters(abstract_params: PyTree, logical_specs: PyTree, mesh_specs: PyTree, mesh: Mesh) -> str:
    """A t5x-style table of every parameter: name, shape, logical axes, mesh spec, count."""
    is_spec = lambda x: isinstance(x, PartitionSpec)  # noqa: E731
    rows = []
    total = 0
    for (path, leaf), logical, spec in zip(
        jax.tree_util.tree_flatten_with_path(abstract_params)[0],
        jax.tree.leaves(logical_specs, is_leaf=is_spec),
        jax.tree.leaves(mesh_specs, is_leaf=is_spec),
    ):
        count = math.prod(leaf.shape)
        total += count
        rows.append((path_name(path), str(tuple(leaf.shape)), str(tuple(logical)), str(tuple(spec)), f"{count:,}"))
    header = ("parameter", "shape", "logical axes", "mesh axes", "count")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [f"mesh: {dict(mesh.shape)} over {mesh.devices.size} devices", fmt.format(*header)]
    lines += [fmt.format(*row) for row in rows]
    lines.append(f"total parameters: {total:,}")
    return "\n".join(lines)


def count_parameters(params: PyTree) -> int:
    return sum(math.prod(x.shape) for x in jax.tree.leaves(params))


def log_mesh(mesh: Mesh) -> None:
    logging.info("Mesh %s: %d processes, %d devices", dict(mesh.shape), jax.process_count(), mesh.devices.size)

