"""Parameter layouts of a layer stack: unrolled (`layers_0`, `layers_1`, ...) <-> scanned (`layers`).

An unrolled stack keeps one subtree per layer, `layers_{i}` (the t5x names that checkpoints
and the Hugging Face conversion use); a scanned stack (`T5Config.scan_layers`, flax `nn.scan`)
keeps one subtree `layers` whose leaves carry the same arrays stacked on a leading axis. The
functions here convert any tree (parameters, gradients, optimizer statistics, abstract shapes)
between the two, wherever a dict holds such a stack, so they know nothing about T5.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

PyTree = Any
SCANNED = "layers"
_UNROLLED = re.compile(r"layers_(\d+)$")


def _is_mapping(x) -> bool:
    return isinstance(x, Mapping)


def _unrolled_count(tree: Mapping) -> int:
    """How many `layers_{i}` keys the dict holds (0 if none); they must be layers_0..layers_{n-1}."""
    indices = sorted(int(m.group(1)) for key in tree if (m := _UNROLLED.match(str(key))))
    if indices and indices != list(range(len(indices))):
        raise ValueError(f"Unrolled layers must be numbered layers_0..layers_{len(indices) - 1}, got {indices}")
    return len(indices)


def is_scanned(params: PyTree) -> bool | None:
    """True if the tree holds a scanned stack, False if an unrolled one, None if neither."""
    if not _is_mapping(params):
        return None
    if SCANNED in params and _is_mapping(params[SCANNED]):
        return True
    if _unrolled_count(params):
        return False
    for value in params.values():
        found = is_scanned(value)
        if found is not None:
            return found
    return None


def _stack_arrays(leaves: Sequence[Any]):
    if isinstance(leaves[0], jax.Array):
        return jax.numpy.stack(leaves)
    return np.stack([np.asarray(x) for x in leaves])


def stack_layers(params: PyTree, stack: Callable[[Sequence[Any]], Any] = _stack_arrays) -> PyTree:
    """Unrolled -> scanned: every dict's `layers_0..layers_{n-1}` become one `layers` subtree whose
    leaves are `stack([leaf of layer 0, ..., leaf of layer n-1])`. Other keys are kept."""
    if not _is_mapping(params):
        return params
    count = _unrolled_count(params)
    out = {key: stack_layers(value, stack) for key, value in params.items() if not (count and _UNROLLED.match(str(key)))}
    if count:
        layers = [params[f"layers_{i}"] for i in range(count)]
        structure = jax.tree_util.tree_structure(layers[0])
        for i, layer in enumerate(layers[1:], start=1):
            if jax.tree_util.tree_structure(layer) != structure:
                raise ValueError(f"layers_{i} does not have the parameters of layers_0: they cannot be stacked")
        out[SCANNED] = jax.tree_util.tree_map(lambda *leaves: stack(leaves), *layers)
    return out


def _unstack_array(leaf, count: int) -> list:
    return [leaf[i] for i in range(count)]


def unstack_layers(params: PyTree, unstack: Callable[[Any, int], list] = _unstack_array) -> PyTree:
    """Scanned -> unrolled: every dict's `layers` subtree becomes `layers_0..layers_{n-1}`, n being
    its leaves' leading size; `unstack(leaf, n)` returns the n slices of a leaf."""
    if not _is_mapping(params):
        return params
    out = {key: unstack_layers(value, unstack) for key, value in params.items() if key != SCANNED}
    if SCANNED in params and _is_mapping(params[SCANNED]):
        leaves, treedef = jax.tree_util.tree_flatten(params[SCANNED])
        count = {int(np.shape(leaf)[0]) for leaf in leaves}
        if len(count) != 1:
            raise ValueError(f"The leaves of a '{SCANNED}' subtree have different leading sizes {sorted(count)}")
        (count,) = count
        slices = [unstack(leaf, count) for leaf in leaves]
        for i in range(count):
            out[f"layers_{i}"] = jax.tree_util.tree_unflatten(treedef, [s[i] for s in slices])
    return out


def to_layout(params: PyTree, scanned: bool) -> PyTree:
    """`params` in the scanned or the unrolled layout, whichever it is in now."""
    current = is_scanned(params)
    if current is None or current == scanned:
        return params
    return stack_layers(params) if scanned else unstack_layers(params)


def unstack_abstract(abstract: PyTree) -> PyTree:
    """Scanned `jax.ShapeDtypeStruct`s -> unrolled ones; a NamedSharding loses its leading
    (layer) axis, which the partitioning rules leave unsharded."""

    def unstack(leaf, count):
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, jax.sharding.NamedSharding):
            spec = tuple(sharding.spec)
            if spec and spec[0] is not None:
                raise ValueError(f"The '{SCANNED}' axis is sharded ({sharding.spec}); it cannot be split into layers")
            sharding = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec(*spec[1:]))
        return [jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype, sharding=sharding)] * count

    return unstack_layers(abstract, unstack)


def stack_abstract(abstract: PyTree) -> PyTree:
    """Unrolled `jax.ShapeDtypeStruct`s -> scanned ones, a NamedSharding gaining an unsharded
    leading (layer) axis."""

    def stack(leaves):
        leaf = leaves[0]
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, jax.sharding.NamedSharding):
            sharding = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec(None, *sharding.spec))
        return jax.ShapeDtypeStruct((len(leaves),) + tuple(leaf.shape), leaf.dtype, sharding=sharding)

    return stack_layers(abstract, stack)
