"""t5x checkpoints (the published T5 v1.1 / FLAN-T5 ones) -> flan-jax parameters.

The layout t5x's `checkpoints.Checkpointer` writes (format version 3), in `checkpoint_<step>/`:
- `checkpoint`: msgpack (`flax.serialization`) of
  `{"version": 3, "optimizer": {"target": <params>, "state": {"step": ..., "param_states": ...}}}`
  whose leaves are either arrays kept inline or the JSON spec of a tensorstore array;
- beside it, one zarr array (gzip chunks) per such leaf, in a directory named after the leaf's
  path with "/" turned into "." (`target.encoder.layers_0.attention.query.kernel`). The spec's
  kvstore path is relative to the checkpoint directory (t5x records a dummy bucket for gs://).
Only `target` is read: fine-tuning starts a fresh optimizer, as INITIAL_CHECKPOINT_PATH does in t5x.

Names and layouts: the published checkpoints come from t5x's minimal T5
(`t5x/examples/t5/network.py`), whose parameter names are ours (`token_embedder/embedding`,
`encoder/layers_0/attention/query/kernel`, `encoder/relpos_bias/rel_embedding`,
`decoder/logits_dense/kernel`, ...). Only the attention kernels differ: t5x's `DenseGeneral` stores
them flattened, (embed, heads * kv) for query/key/value and (heads * kv, embed) for `out`, and
reshapes them row-major (heads outer) when applied; ours keep (embed, heads, kv) and
(heads, kv, embed). Relative position tables are (heads, buckets) in both, and neither scales the
attention logits (T5 v1.1 folds 1/sqrt(kv) into the query initialisation).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import tensorstore as ts
from etils import epath
from flax import serialization, traverse_util

from flan_jax.models import t5

CHECKPOINT_FILE = "checkpoint"
TARGET = "target"


# --- Reading.
def _is_tensorstore_spec(node: Any) -> bool:
    return isinstance(node, dict) and "driver" in node and "kvstore" in node


def _relative_path(spec: Mapping[str, Any]) -> str:
    """The array's directory relative to the checkpoint (tensorstore >= 0.1.14 keeps it in the kvstore)."""
    kvstore = spec["kvstore"]
    return kvstore["path"] if isinstance(kvstore, dict) and "path" in kvstore else spec["path"]


def _kvstore_url(directory: str, relative: str) -> str:
    if "://" in directory:
        return f"{directory.rstrip('/')}/{relative}/"
    return f"file://{os.path.join(os.path.abspath(directory), relative)}/"


def read_target(directory: str) -> tuple[int | None, dict[str, np.ndarray]]:
    """(t5x step, {"encoder/layers_0/...": float32 array}) of the parameters in a t5x checkpoint directory.

    Raises:
      FileNotFoundError: no `checkpoint` file, or an array it refers to is missing.
      ValueError: the msgpack holds no `target` tree (not a t5x train-state checkpoint).
    """
    path = epath.Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        steps = sorted(p.name for p in epath.Path(directory).glob("checkpoint_*")) if epath.Path(directory).exists() else []
        hint = f"; pass one of its step directories, e.g. {os.path.join(directory, steps[-1])}" if steps else ""
        raise FileNotFoundError(f"{path} does not exist: a t5x checkpoint directory (checkpoint_<step>) holds the msgpack file "
                                f"'{CHECKPOINT_FILE}'{hint}")
    contents = serialization.msgpack_restore(path.read_bytes())
    state = contents.get("optimizer", contents)  # format versions >= 2 nest the train state under "optimizer"
    if not isinstance(state, dict) or TARGET not in state:
        raise ValueError(f"{path} holds no '{TARGET}' tree (keys: {sorted(contents)}): not a t5x train-state checkpoint")
    step = state.get("state", {}).get("step")
    flat = traverse_util.flatten_dict(state[TARGET], sep="/", is_leaf=lambda _, node: _is_tensorstore_spec(node))
    opened = {
        name: ts.open({"driver": "zarr", "kvstore": _kvstore_url(directory, _relative_path(leaf))}, read=True)
        for name, leaf in flat.items() if _is_tensorstore_spec(leaf)
    }
    arrays = {name: np.asarray(leaf) for name, leaf in flat.items() if not _is_tensorstore_spec(leaf)}
    reads = {}
    for name, future in opened.items():
        try:
            reads[name] = future.result().read()
        except ValueError as error:
            raise FileNotFoundError(f"{directory}: the array of '{TARGET}/{name}' cannot be opened: {error}") from error
    arrays.update({name: read.result() for name, read in reads.items()})
    return (None if step is None else int(np.asarray(step))), {k: np.asarray(v, np.float32) for k, v in arrays.items()}


# --- Names and layouts.
def infer_config(target: Mapping[str, np.ndarray], *, relative_attention_max_distance: int = 128,
                 layer_norm_epsilon: float = 1e-6, dtype: str = "float32", source: str = "checkpoint") -> t5.T5Config:
    """The T5Config of a t5x parameter tree, from its shapes (the bucket reach and norm epsilon leave no trace)."""

    def shape(name: str) -> tuple[int, ...]:
        if name not in target:
            raise KeyError(f"{source} lacks '{TARGET}/{name}', which a T5 v1.1 checkpoint holds")
        return target[name].shape

    if "encoder/layers_0/mlp/wi/kernel" in target:
        raise ValueError(f"{source} is an original T5 (ReLU feed-forward 'mlp/wi'); flan-jax implements T5 v1.1 / FLAN-T5 "
                         "(gated-GELU 'mlp/wi_0', 'mlp/wi_1')")
    vocab_size, emb_dim = shape("token_embedder/embedding")
    num_heads, num_buckets = shape("encoder/relpos_bias/rel_embedding")
    count = lambda stack: len({name.split("/")[1] for name in target if name.startswith(f"{stack}/layers_")})  # noqa: E731
    return t5.T5Config(
        vocab_size=vocab_size, emb_dim=emb_dim, num_heads=num_heads,
        num_encoder_layers=count("encoder"), num_decoder_layers=count("decoder"),
        head_dim=int(np.prod(shape("encoder/layers_0/attention/query/kernel"))) // (emb_dim * num_heads),
        mlp_dim=shape("encoder/layers_0/mlp/wi_0/kernel")[1], dtype=dtype,
        relative_attention_num_buckets=num_buckets, relative_attention_max_distance=relative_attention_max_distance,
        layer_norm_epsilon=layer_norm_epsilon,
    )


def _abstract_params(config: t5.T5Config) -> dict:
    """Our parameter names and shapes for `config`, without allocating them."""
    ids = jnp.ones((1, 1), jnp.int32)
    key = jax.random.PRNGKey(0)
    variables = jax.eval_shape(lambda: t5.Transformer(config).init({"params": key, "dropout": key}, ids, ids, ids, enable_dropout=False))
    return nn.meta.unbox(variables["params"])


def t5x_shape(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape t5x stores our parameter `name` of `shape` in: attention kernels flattened, the rest as ours."""
    if len(shape) != 3:
        return shape
    if name.endswith("/out/kernel"):  # (heads, kv, embed) -> (heads * kv, embed)
        return (shape[0] * shape[1], shape[2])
    return (shape[0], shape[1] * shape[2])  # query/key/value: (embed, heads, kv) -> (embed, heads * kv)


def params_from_t5x(target: Mapping[str, np.ndarray], config: t5.T5Config, source: str = "checkpoint") -> dict:
    """Our parameter tree from a t5x `target` (flat "/" names), each array checked against its t5x shape."""
    expected = traverse_util.flatten_dict(_abstract_params(config), sep="/")
    params = {}
    for name, abstract in expected.items():
        if name not in target:
            raise KeyError(f"{source} lacks '{TARGET}/{name}', which {config} needs")
        array, stored = target[name], t5x_shape(name, abstract.shape)
        if array.shape not in (stored, abstract.shape):
            raise ValueError(f"{source}: '{TARGET}/{name}' has shape {array.shape}, expected {stored} (t5x's layout of our {abstract.shape})")
        params[name] = array.reshape(abstract.shape)
    unused = sorted(set(target) - set(expected))
    if unused:
        logging.warning("%s: %d t5x parameters have no place in flan-jax's T5 and are left out: %s", source, len(unused), ", ".join(unused[:8]))
    return traverse_util.unflatten_dict(params, sep="/")


def from_t5x(directory: str, *, relative_attention_max_distance: int = 128, layer_norm_epsilon: float = 1e-6,
             dtype: str = "float32") -> tuple[t5.T5Config, dict, int | None]:
    """(config, float32 params, t5x step) from a t5x checkpoint directory (see the module docstring)."""
    step, target = read_target(directory)
    config = infer_config(target, relative_attention_max_distance=relative_attention_max_distance,
                          layer_norm_epsilon=layer_norm_epsilon, dtype=dtype, source=directory)
    return config, params_from_t5x(target, config, source=directory), step
