"""The T5 v1.1 / FLAN-T5 encoder-decoder network in flax.linen.

Exactly the T5 v1.1 recipe (Raffel et al. 2020; the v1.1 changes as in t5x's
`examples/t5/t5_1_1` and Hugging Face's `T5ForConditionalGeneration` with
`feed_forward_proj="gated-gelu"`):

- pre-norm residual blocks with RMS layer norm (a scale, no bias, no mean subtraction, eps 1e-6);
- relative position bias: one bucketed table per stack (bidirectional in the encoder, causal in
  the decoder), added to every layer's self-attention logits;
- attention logits are NOT scaled by 1/sqrt(head_dim): T5 folds that factor into the query
  initialisation instead, which is equivalent under Adafactor;
- gated-GELU feed-forward (tanh approximation of GELU, as `gelu_new` in Hugging Face);
- untied input embedding (shared by encoder and decoder) and output projection (`logits_dense`).

Parameters are float32 and carry t5x logical axis names, so `flan_jax.train.partitioning` maps
them onto a mesh; activations run in `config.dtype`, logits come out in float32. Packed
examples (seqio's `EncDecFeatureConverter(pack=True)`) never attend across segments. The
decoder's `decode=True` path keeps a key/value cache in the flax "cache" collection and takes
one token per call (see `flan_jax.models.decoding`).

For big models (t5x / flaxformer's options): `scan_layers` runs each stack's layers as one
`nn.scan` over parameters stacked on a leading "layers" axis (compile time no longer grows with
depth; `flan_jax.models.layer_stacking` converts to and from the unrolled `layers_{i}` layout
that checkpoints and Hugging Face use), and `remat_policy` rematerialises each layer's
activations in the backward pass (`REMAT_POLICIES`).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.ad_checkpoint import checkpoint_name

Array = jax.Array

# Added to the logits of attention pairs that are masked out: large enough that they get weight 0
# next to any real key, finite (not -inf) so a query whose keys are all masked (a padding row)
# still gets a well-defined, ignored softmax.
_MASK_VALUE = -1e10

# The name under which `dense_dot_general` marks its outputs for rematerialisation policies.
PROJECTION_NAME = "projection"

# T5Config.remat_policy -> what a layer keeps for the backward pass (t5x / flaxformer's
# `layer_remat` names): "none" keeps every activation (no rematerialisation); "minimal" keeps
# the projections' outputs and recomputes the rest (norms, GELU, attention logits and softmax);
# "full" keeps only each layer's input and recomputes the whole layer. "minimal" saves what
# t5x's `checkpoint_dots_with_no_batch_dims` saves (the products without batch dimensions are
# exactly the projections), but by name: that policy cannot see the product inside
# `dense_dot_general`'s custom backward, and would save nothing.
REMAT_POLICIES = {
    "none": None,
    "minimal": jax.checkpoint_policies.save_only_these_names(PROJECTION_NAME),
    "full": jax.checkpoint_policies.nothing_saveable,
}


@dataclasses.dataclass(frozen=True)
class T5Config:
    """Sizes of a T5 v1.1 network (the FLAN-T5 sizes are in gin/models/t5_1_1/*.gin).

    Attributes:
      vocab_size: rows of the input embedding and columns of the output projection.
      emb_dim: d_model.
      num_heads: attention heads per layer.
      num_encoder_layers / num_decoder_layers: blocks per stack.
      head_dim: d_kv, the width of one head (heads * head_dim need not equal emb_dim).
      mlp_dim: d_ff, the width of each gated-GELU branch.
      dropout_rate: T5's single dropout rate (embeddings, attention weights, block outputs).
      dtype: activation dtype ("float32" or "bfloat16"); parameters are always float32.
      relative_attention_num_buckets / relative_attention_max_distance: position buckets.
      layer_norm_epsilon: RMS norm epsilon.
      scan_layers: run each stack's layers as one `nn.scan` over parameters stacked on a
        leading "layers" axis (t5x's SCAN_LAYERS), instead of one module per layer.
      remat_policy: what each layer keeps for the backward pass, a key of `REMAT_POLICIES`.
    """

    vocab_size: int
    emb_dim: int
    num_heads: int
    num_encoder_layers: int
    num_decoder_layers: int
    head_dim: int
    mlp_dim: int
    dropout_rate: float = 0.0
    dtype: str = "float32"
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    scan_layers: bool = False
    remat_policy: str = "none"

    def __post_init__(self):
        for name in ("vocab_size", "emb_dim", "num_heads", "num_encoder_layers", "num_decoder_layers", "head_dim", "mlp_dim"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"T5Config.{name} must be a positive integer, got {value!r}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"T5Config.dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"T5Config.dropout_rate must be in [0, 1), got {self.dropout_rate!r}")
        if self.remat_policy not in REMAT_POLICIES:
            raise ValueError(f"T5Config.remat_policy must be one of {sorted(REMAT_POLICIES)}, got {self.remat_policy!r}")

    @property
    def activation_dtype(self) -> jnp.dtype:
        return jnp.dtype(self.dtype)


# --- Initialisers, as t5x sets them for T5 v1.1.
_dense_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")
_attention_init = nn.initializers.variance_scaling(1.0, "fan_in", "normal")
_embedding_init = nn.initializers.normal(stddev=1.0)
_relpos_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


def _query_init(head_dim: int):
    """t5x divides the query initialisation by sqrt(head_dim) instead of scaling the logits."""

    def init(key, shape, dtype=jnp.float32):
        return _attention_init(key, shape, dtype) / jnp.sqrt(head_dim).astype(dtype)

    return init


class _LogicallyPartitioned(nn.LogicallyPartitioned):
    """flax's box of a parameter and its logical axes, except that it constrains only a value of
    its own rank. DenseGeneral unboxes its kernel flattened to 2-D (to reshape it, also when it
    checks a parameter's shape in `apply`); with axis rules active (`Partitioner.
    with_activation_rules`) flax's own box would constrain that 2-D value with 3 axis names."""

    def unbox(self, apply_constraint=True):
        return super().unbox(apply_constraint=apply_constraint and np.ndim(self.value) == len(self.names))


def partitioned(init, axes: tuple[str, ...]):
    """`init` boxed with its logical axes, as nn.with_logical_partitioning (shared with decoder.py)."""

    @functools.wraps(init)
    def boxed(*args, **kwargs):
        return _LogicallyPartitioned(init(*args, **kwargs), axes)

    return boxed


# --- Pure functions.
def rms_norm(x: Array, scale: Array, epsilon: float) -> Array:
    """T5's layer norm: x / sqrt(mean(x^2) + eps) * scale, computed in float32, no bias."""
    x32 = x.astype(jnp.float32)
    variance = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
    return (x32 * jax.lax.rsqrt(variance + epsilon) * scale.astype(jnp.float32)).astype(x.dtype)


def relative_position_bucket(relative_position, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128):
    """Maps key_position - query_position to a bucket id, as T5 (Mesh TF / t5x / Hugging Face).

    Half the buckets (a quarter when bidirectional, per direction) hold exact small distances,
    the rest grow logarithmically up to `max_distance`; farther pairs share the last bucket.
    In the causal case future keys (positive offsets) all land in bucket 0 (they are masked).

    Args:
      relative_position: int array of key_position - query_position.
      bidirectional: the encoder's symmetric buckets (True) or the decoder's causal ones.
      num_buckets, max_distance: the bucket table's size and reach.
    Returns:
      int32 array of bucket ids in [0, num_buckets).
    """
    relative_position = jnp.asarray(relative_position, jnp.int32)
    buckets = jnp.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).astype(jnp.int32) * num_buckets
        distance = jnp.abs(relative_position)
    else:
        distance = -jnp.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # Hugging Face's formula (float32 log, truncation); distance 0 is always "small".
    safe = jnp.maximum(distance, 1).astype(jnp.float32)
    large = max_exact + (
        jnp.log(safe / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).astype(jnp.int32)
    large = jnp.minimum(large, num_buckets - 1)
    return buckets + jnp.where(is_small, distance, large)


@jax.custom_vjp
def add_shared_bias(logits: Array, bias: Array) -> Array:
    """logits [batch, ...] + bias [1, ...], broadcast over the batch.

    The gradient of `bias` sums the logits' gradient over the batch. Written as a
    matrix-vector product with ones instead of the reduction autodiff emits: XLA:CPU runs
    a reduction over the leading axis of [16, 4, 256, 256] ~40x slower than the product
    (18 ms vs 0.5 ms), and the relative position bias gradient is such a reduction per layer.
    """
    return logits + bias


def _add_shared_bias_fwd(logits, bias):
    return logits + bias, None


def _add_shared_bias_bwd(_, grad):
    ones = jnp.ones((grad.shape[0],), grad.dtype)
    return grad, jnp.tensordot(ones, grad, axes=1)[None]


add_shared_bias.defvjp(_add_shared_bias_fwd, _add_shared_bias_bwd)


def dense_dot_general(inputs: Array, kernel: Array, dimension_numbers, precision=None,
                      preferred_element_type=None) -> Array:
    """`lax.dot_general` for the projections (flax `Dense`/`DenseGeneral(dot_general=...)`).

    Same forward (bfloat16 products summed in float32); the backward is two plain products over
    the flattened tokens, [tokens, in]^T @ [tokens, out] for the kernel and
    [tokens, out] @ [in, out]^T for the inputs. Autodiff's own transpose contracts the batch and
    length axes of 3-D arrays, for which XLA:CPU lays out a transposed copy of every gradient;
    T5-small's gated-GELU block (fwd + bwd) went from ~190 ms to ~112 ms on 2 cores with this form.
    """
    (lhs_contracting, rhs_contracting), batch_dims = dimension_numbers
    n = len(lhs_contracting)
    if (any(batch_dims) or tuple(lhs_contracting) != tuple(range(inputs.ndim - n, inputs.ndim))
            or tuple(rhs_contracting) != tuple(range(n))):
        raise ValueError(f"dense_dot_general contracts trailing input axes with leading kernel axes, got {dimension_numbers}")
    out = _dense_product(inputs, kernel, n, precision, preferred_element_type)
    return checkpoint_name(out, PROJECTION_NAME)


def _accumulate_in_float32(lhs, rhs, dims, precision, preferred_element_type=None):
    """dot_general that sums bfloat16 products in float32 and returns the inputs' dtype (unless
    the caller asks for another): what TPU and GPU matrix units do anyway, and on XLA:CPU the
    float32-accumulating bfloat16 kernel is about 2x faster than the bfloat16-output one
    (430 vs 200 GFLOP/s on 2 AVX512-BF16 cores)."""
    out = jax.lax.dot_general(lhs, rhs, dims, precision=precision,
                              preferred_element_type=jnp.promote_types(lhs.dtype, jnp.float32))
    return out.astype(preferred_element_type or lhs.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _dense_product(inputs, kernel, n, precision, preferred_element_type):
    dims = ((tuple(range(inputs.ndim - n, inputs.ndim)), tuple(range(n))), ((), ()))
    return _accumulate_in_float32(inputs, kernel, dims, precision, preferred_element_type)


def _dense_product_fwd(inputs, kernel, n, precision, preferred_element_type):
    return _dense_product(inputs, kernel, n, precision, preferred_element_type), (inputs, kernel)


def _dense_product_bwd(n, precision, preferred_element_type, residuals, grad):
    inputs, kernel = residuals
    fan_in = math.prod(kernel.shape[:n])
    x = inputs.reshape(-1, fan_in)
    w = kernel.reshape(fan_in, -1)
    g = grad.reshape(x.shape[0], w.shape[1]).astype(inputs.dtype)
    matmul = (((1,), (0,)), ((), ()))
    d_inputs = _accumulate_in_float32(g, w.T, matmul, precision).reshape(inputs.shape)
    d_kernel = _accumulate_in_float32(x.T, g, matmul, precision).reshape(kernel.shape)
    return d_inputs, d_kernel.astype(kernel.dtype)


_dense_product.defvjp(_dense_product_fwd, _dense_product_bwd)


# [batch, heads, m, k] x [batch, heads, k, n] -> [batch, heads, m, n]: the one layout of batched
# product that XLA:CPU runs without first transposing an operand. The attention products below
# are written in it, transposing only their [.., kv]-sized operands: in autodiff's (and einsum's)
# own forms XLA:CPU transposed whole [batch, heads, q, k] tensors, the largest copies of a
# T5-tiny step on 2048-token rows.
_HEADS_MATMUL = (((3,), (2,)), ((0, 1), (0, 1)))


def _heads_matmul(lhs: Array, rhs: Array, dtype=None) -> Array:
    return _accumulate_in_float32(lhs, rhs, _HEADS_MATMUL, None, dtype)


@jax.custom_vjp
def attention_logits(query: Array, key: Array) -> Array:
    """float32 [batch, heads, q, k] = query [batch, q, heads, kv] . key [batch, k, heads, kv]."""
    return _heads_matmul(jnp.transpose(query, (0, 2, 1, 3)), jnp.transpose(key, (0, 2, 3, 1)), jnp.float32)


def _attention_logits_fwd(query, key):
    return attention_logits(query, key), (query, key)


def _attention_logits_bwd(residuals, grad):
    query, key = residuals
    grad = grad.astype(query.dtype)
    d_query = _heads_matmul(grad, jnp.transpose(key, (0, 2, 1, 3)))  # [b, h, q, d]
    d_key = _heads_matmul(jnp.transpose(query, (0, 2, 3, 1)), grad)  # [b, h, d, k]
    return jnp.transpose(d_query, (0, 2, 1, 3)), jnp.transpose(d_key, (0, 3, 1, 2))


attention_logits.defvjp(_attention_logits_fwd, _attention_logits_bwd)


@jax.custom_vjp
def attention_values(logits: Array, value: Array, keep: Array) -> Array:
    """float32 [batch, q, heads, kv] = (softmax(logits) * keep) . value, keep being dropout's
    scaled mask (or 1): softmax, dropout and the value product with one backward.

    The backward is FlashAttention's (Dao et al. 2022): the softmax gradient's row sum
    sum_k(dweights * weights) is taken as sum_d(dout * out) over the [.., kv]-sized output, so the
    [batch, heads, q, k] gradient of the weights is one product with an elementwise epilogue
    (jax.nn.softmax's default rule also kept the unnormalised exponentials and reduced over the
    product's output).
    """
    return _attention_values_fwd(logits, value, keep)[0]


def _attention_values_fwd(logits, value, keep):
    probabilities = jax.nn.softmax(logits, axis=-1)
    weights = (probabilities * keep).astype(value.dtype)
    out = _heads_matmul(weights, jnp.transpose(value, (0, 2, 1, 3)), jnp.float32)  # [b, h, q, d]
    return jnp.transpose(out, (0, 2, 1, 3)), (probabilities, weights, keep, value, out)


def _attention_values_bwd(residuals, grad):
    probabilities, weights, keep, value, out = residuals
    grad = jnp.transpose(grad, (0, 2, 1, 3))  # [b, h, q, d]
    row_sums = jnp.sum(grad * out, axis=-1, keepdims=True)
    grad = grad.astype(value.dtype)
    d_weights = _heads_matmul(grad, jnp.transpose(value, (0, 2, 3, 1)), jnp.float32)  # [b, h, q, k]
    d_logits = probabilities * (d_weights * keep - row_sums)
    d_value = _heads_matmul(jnp.transpose(grad, (0, 1, 3, 2)), weights)  # [b, h, d, k]
    return d_logits, jnp.transpose(d_value, (0, 3, 1, 2)), jnp.zeros_like(keep)


attention_values.defvjp(_attention_values_fwd, _attention_values_bwd)


def attention_mask(query_valid: Array, key_valid: Array, query_segments: Optional[Array] = None,
                   key_segments: Optional[Array] = None, causal: bool = False) -> Array:
    """[batch, 1, q_len, k_len] boolean mask: both tokens real, same segment, (key <= query)."""
    mask = query_valid[:, :, None] & key_valid[:, None, :]
    if query_segments is not None and key_segments is not None:
        mask &= query_segments[:, :, None] == key_segments[:, None, :]
    if causal:
        q_len, k_len = query_valid.shape[1], key_valid.shape[1]
        mask &= jnp.arange(q_len)[:, None] >= jnp.arange(k_len)[None, :]
    return mask[:, None, :, :]


# --- Layers.
class RMSNorm(nn.Module):
    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, x: Array) -> Array:
        scale = self.param("scale", partitioned(nn.initializers.ones, ("embed",)), (x.shape[-1],), jnp.float32)
        return rms_norm(x, scale, self.epsilon)


class RelativePositionBias(nn.Module):
    """One learned [heads, buckets] table for a whole stack (T5 computes it once per stack)."""

    num_heads: int
    num_buckets: int
    max_distance: int
    bidirectional: bool
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, query_positions: Array, key_positions: Array) -> Array:
        """[1, heads, q_len, k_len] bias for 1-D query and key position vectors."""
        table = self.param(
            "rel_embedding", partitioned(_relpos_init, ("heads", "relpos_buckets")),
            (self.num_heads, self.num_buckets), jnp.float32,
        )
        buckets = relative_position_bucket(
            key_positions[None, :] - query_positions[:, None], self.bidirectional, self.num_buckets, self.max_distance
        )
        bias = jnp.take(table, buckets, axis=1, mode="clip")  # [heads, q, k]; buckets are in range: no fill-value select
        return bias[None].astype(self.dtype)


class MultiHeadAttention(nn.Module):
    """T5 attention: no logit scaling, float32 softmax, optional incremental key/value cache."""

    num_heads: int
    head_dim: int
    dropout_rate: float
    dtype: jnp.dtype
    is_cross_attention: bool = False

    @nn.compact
    def __call__(self, inputs_q: Array, inputs_kv: Array, mask: Optional[Array], bias: Optional[Array],
                 *, deterministic: bool, decode: bool = False, max_decode_length: Optional[int] = None) -> Array:
        projection = lambda name, init: nn.DenseGeneral(  # noqa: E731
            features=(self.num_heads, self.head_dim), axis=-1, use_bias=False, dtype=self.dtype,
            param_dtype=jnp.float32, dot_general=dense_dot_general,
            kernel_init=partitioned(init, ("embed", "heads", "kv")), name=name,
        )
        constrain = lambda x: nn.with_logical_constraint(x, ("batch", "length", "heads", "kv"))  # noqa: E731
        query = constrain(projection("query", _query_init(self.head_dim))(inputs_q))
        # Decoding keeps keys and values heads-major, [batch, heads, length, kv], the layout the
        # per-step products read: stored as projected ([batch, length, heads, kv]), XLA:CPU
        # copied every layer's cached keys and values into that layout at every step.
        keys = "bkhd"
        if decode and self.is_cross_attention:
            keys = "bhkd"
            key, value = self._cached_cross_key_value(lambda: (
                _heads_major(constrain(projection("key", _attention_init)(inputs_kv))),
                _heads_major(constrain(projection("value", _attention_init)(inputs_kv))),
            ))
        else:
            key = constrain(projection("key", _attention_init)(inputs_kv))
            value = constrain(projection("value", _attention_init)(inputs_kv))
            if decode:
                keys = "bhkd"
                key, value, mask = self._update_cache(_heads_major(key), _heads_major(value), mask, max_decode_length)

        # Beam search keeps one copy of the encoder keys/values per example, shared by its
        # beams: the beams' single queries then become that example's query positions.
        beams = query.shape[0] // key.shape[0]
        if beams > 1:
            query = query.reshape((key.shape[0], beams * query.shape[1]) + query.shape[2:])
        if keys == "bkhd":
            logits = attention_logits(query, key)
        else:  # decoding: no gradient
            logits = jnp.einsum(f"bqhd,{keys}->bhqk", query, key, preferred_element_type=jnp.float32)
        if bias is not None:
            logits = add_shared_bias(logits, bias.astype(jnp.float32))
        if mask is not None:
            # Added, not selected: the same softmax, and XLA:CPU fuses an add into the logits'
            # producers and consumers where a select kept an extra pass (tiny step 119 -> 100 ms).
            logits = logits + jnp.where(mask, 0.0, _MASK_VALUE)
        keep = jnp.ones((), jnp.float32)
        if not deterministic and self.dropout_rate > 0:  # dropout's mask, scaled by 1 / (1 - rate)
            keep = nn.Dropout(self.dropout_rate)(jnp.ones(logits.shape, jnp.float32), deterministic=False)
        if keys == "bkhd":
            out = attention_values(logits, value, keep).astype(self.dtype)
        else:
            weights = (jax.nn.softmax(logits, axis=-1) * keep).astype(self.dtype)
            out = jnp.einsum(f"bhqk,{keys}->bqhd", weights, value, preferred_element_type=jnp.float32).astype(self.dtype)
        if beams > 1:
            out = out.reshape((inputs_q.shape[0], inputs_q.shape[1]) + out.shape[2:])
        out = nn.DenseGeneral(
            features=inputs_q.shape[-1], axis=(-2, -1), use_bias=False, dtype=self.dtype, param_dtype=jnp.float32,
            dot_general=dense_dot_general, kernel_init=partitioned(_attention_init, ("heads", "kv", "embed")), name="out",
        )(out)
        return nn.with_logical_constraint(out, ("batch", "length", "embed"))

    def _cached_cross_key_value(self, project):
        """Encoder keys/values are projected once, when the cache is created, then only read."""
        if not self.has_variable("cache", "cached_key"):
            key, value = project()
            self.variable("cache", "cached_key", lambda: key)
            self.variable("cache", "cached_value", lambda: value)
            return key, value
        return self.get_variable("cache", "cached_key"), self.get_variable("cache", "cached_value")

    def _update_cache(self, key, value, mask, max_decode_length):
        """Writes this step's key/value ([batch, heads, 1, kv]) at the cache index; masks keys beyond it.

        The cache is created (zeros, `max_decode_length` or the input's length) on the first
        `decode=True` call, which does not advance it; later calls take one token each.
        """
        initialized = self.has_variable("cache", "cached_key")
        batch, heads, length, depth = key.shape
        shape = (batch, heads, max_decode_length or length, depth)
        cached_key = self.variable("cache", "cached_key", jnp.zeros, shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", jnp.zeros, shape, value.dtype)
        cache_index = self.variable("cache", "cache_index", lambda: jnp.array(0, dtype=jnp.int32))
        if not initialized:
            return key, value, mask
        if length != 1:
            raise ValueError(f"decode=True takes one token per call: got keys of shape {key.shape}, cache {shape}")
        index = cache_index.value
        key = jax.lax.dynamic_update_slice(cached_key.value, key, (0, 0, index, 0))
        value = jax.lax.dynamic_update_slice(cached_value.value, value, (0, 0, index, 0))
        cached_key.value, cached_value.value = key, value
        cache_index.value = index + 1
        seen = (jnp.arange(key.shape[2]) <= index)[None, None, None, :]
        mask = seen if mask is None else mask & seen
        return key, value, mask


def _heads_major(x: Array) -> Array:
    """[batch, length, heads, kv] -> [batch, heads, length, kv]: the decode caches' layout."""
    return jnp.swapaxes(x, 1, 2)


class GatedGeluMlp(nn.Module):
    """wo(gelu(wi_0 x) * wi_1 x), T5 v1.1's feed-forward block."""

    mlp_dim: int
    dropout_rate: float
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: Array, *, deterministic: bool) -> Array:
        dense = lambda features, axes, name: nn.Dense(  # noqa: E731
            features, use_bias=False, dtype=self.dtype, param_dtype=jnp.float32, dot_general=dense_dot_general,
            kernel_init=partitioned(_dense_init, axes), name=name,
        )
        gate = nn.gelu(dense(self.mlp_dim, ("embed", "mlp"), "wi_0")(x), approximate=True)
        hidden = gate * dense(self.mlp_dim, ("embed", "mlp"), "wi_1")(x)
        hidden = nn.with_logical_constraint(hidden, ("batch", "length", "mlp"))
        hidden = nn.Dropout(self.dropout_rate)(hidden, deterministic=deterministic)
        out = dense(x.shape[-1], ("mlp", "embed"), "wo")(hidden)
        return nn.with_logical_constraint(out, ("batch", "length", "embed"))


def _residual(x: Array, norm_name: str, sublayer, config: T5Config, dropout: nn.Dropout, deterministic: bool) -> Array:
    """T5's pre-norm residual block, x + dropout(sublayer(rms_norm(x))).

    Called inside a layer's compact `__call__`, so the norm becomes that layer's submodule
    `norm_name` (the t5x / checkpoint-conversion name).
    """
    y = sublayer(RMSNorm(config.layer_norm_epsilon, name=norm_name)(x))
    return x + dropout(y, deterministic=deterministic)


def _mlp_residual(x: Array, config: T5Config, dropout: nn.Dropout, deterministic: bool) -> Array:
    """The feed-forward block that ends every encoder and decoder layer."""
    mlp = GatedGeluMlp(config.mlp_dim, config.dropout_rate, config.activation_dtype, name="mlp")
    x = _residual(x, "pre_mlp_layer_norm", lambda y: mlp(y, deterministic=deterministic), config, dropout, deterministic)
    return nn.with_logical_constraint(x, ("batch", "length", "embed"))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward. Arguments are positional so that `nn.scan` and
    `nn.remat` can pass them; as a scan body (`scanned`) it returns (output, None)."""

    config: T5Config
    scanned: bool = False

    @nn.compact
    def __call__(self, x: Array, mask: Array, bias: Array, deterministic: bool):
        cfg = self.config
        dropout = nn.Dropout(cfg.dropout_rate)
        attention = MultiHeadAttention(cfg.num_heads, cfg.head_dim, cfg.dropout_rate, cfg.activation_dtype, name="attention")
        x = _residual(x, "pre_attention_layer_norm", lambda y: attention(y, y, mask, bias, deterministic=deterministic),
                      cfg, dropout, deterministic)
        x = _mlp_residual(x, cfg, dropout, deterministic)
        return (x, None) if self.scanned else x


class DecoderLayer(nn.Module):
    """Self-attention, cross-attention, feed-forward; positional arguments and `scanned` as
    `EncoderLayer`."""

    config: T5Config
    scanned: bool = False

    @nn.compact
    def __call__(self, x: Array, encoded: Array, self_mask: Optional[Array], cross_mask: Optional[Array],
                 bias: Array, deterministic: bool, decode: bool, max_decode_length: Optional[int] = None):
        cfg = self.config
        dtype = cfg.activation_dtype
        dropout = nn.Dropout(cfg.dropout_rate)
        self_attention = MultiHeadAttention(cfg.num_heads, cfg.head_dim, cfg.dropout_rate, dtype, name="self_attention")
        cross_attention = MultiHeadAttention(
            cfg.num_heads, cfg.head_dim, cfg.dropout_rate, dtype, is_cross_attention=True, name="encoder_decoder_attention"
        )
        x = _residual(x, "pre_self_attention_layer_norm", lambda y: self_attention(
            y, y, self_mask, bias, deterministic=deterministic, decode=decode, max_decode_length=max_decode_length
        ), cfg, dropout, deterministic)
        x = _residual(x, "pre_cross_attention_layer_norm", lambda y: cross_attention(
            y, encoded, cross_mask, None, deterministic=deterministic, decode=decode
        ), cfg, dropout, deterministic)
        x = _mlp_residual(x, cfg, dropout, deterministic)
        return (x, None) if self.scanned else x


def _layer_stack(layer: type[nn.Module], config: T5Config, num_layers: int, static_argnums: tuple[int, ...]):
    """`layer` as a stack runs it: rematerialised per `config.remat_policy`, and with
    `config.scan_layers` one `nn.scan` over `num_layers` copies whose parameters and decoding
    caches are stacked on a leading axis, named "layers" for the partitioning rules.

    `static_argnums` (counting `self` as 0) are the Python arguments (flags, lengths) that
    rematerialisation must not trace; scan broadcasts every argument but the carried `x`.
    """
    if config.remat_policy != "none":
        # prevent_cse=False inside scan, as jax.checkpoint recommends: scan already keeps XLA
        # from merging the recomputation into the forward pass.
        layer = nn.remat(layer, policy=REMAT_POLICIES[config.remat_policy], prevent_cse=not config.scan_layers,
                         static_argnums=static_argnums)
    if config.scan_layers:
        layer = nn.scan(
            layer, variable_axes={"params": 0, "cache": 0}, split_rngs={"params": True, "dropout": True},
            in_axes=nn.broadcast, length=num_layers, metadata_params={nn.PARTITION_NAME: "layers"},
        )
    return layer


class Encoder(nn.Module):
    config: T5Config

    @nn.compact
    def __call__(self, embedded: Array, mask: Array, *, deterministic: bool) -> Array:
        cfg = self.config
        length = embedded.shape[1]
        positions = jnp.arange(length)
        # Packed segments are contiguous, so arange offsets equal within-segment offsets; pairs
        # across segments are masked.
        bias = RelativePositionBias(
            cfg.num_heads, cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance,
            bidirectional=True, dtype=cfg.activation_dtype, name="relpos_bias",
        )(positions, positions)
        x = nn.Dropout(cfg.dropout_rate)(embedded, deterministic=deterministic)
        layer = _layer_stack(EncoderLayer, cfg, cfg.num_encoder_layers, static_argnums=(4,))
        if cfg.scan_layers:
            x, _ = layer(cfg, scanned=True, name="layers")(x, mask, bias, deterministic)
        else:
            for i in range(cfg.num_encoder_layers):
                x = layer(cfg, name=f"layers_{i}")(x, mask, bias, deterministic)
        x = RMSNorm(cfg.layer_norm_epsilon, name="encoder_norm")(x)
        return nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)


class Decoder(nn.Module):
    config: T5Config

    @nn.compact
    def __call__(self, embedded: Array, encoded: Array, self_mask: Optional[Array], cross_mask: Optional[Array],
                 *, deterministic: bool, decode: bool, max_decode_length: Optional[int] = None) -> Array:
        cfg = self.config
        relpos = RelativePositionBias(
            cfg.num_heads, cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance,
            bidirectional=False, dtype=cfg.activation_dtype, name="relpos_bias",
        )
        length = embedded.shape[1]
        if decode:
            # One query at the stack's step counter against the whole cached key range; the
            # counter's zeros vector only records the cache length fixed at initialisation.
            initialized = self.has_variable("cache", "position")
            position = self.variable("cache", "position", lambda: jnp.array(0, jnp.int32))
            key_length = self.variable("cache", "key_length_marker", jnp.zeros, (max_decode_length or length,), jnp.int8)
            max_length = key_length.value.shape[0]
            if initialized:
                bias = relpos(position.value[None], jnp.arange(max_length))
                position.value = position.value + 1
            else:
                bias = relpos(jnp.arange(length), jnp.arange(length))  # creation call: output unused
        else:
            bias = relpos(jnp.arange(length), jnp.arange(length))
        x = nn.Dropout(cfg.dropout_rate)(embedded, deterministic=deterministic)
        layer = _layer_stack(DecoderLayer, cfg, cfg.num_decoder_layers, static_argnums=(6, 7, 8))
        args = (encoded, self_mask, cross_mask, bias, deterministic, decode, max_decode_length)
        if cfg.scan_layers:
            x, _ = layer(cfg, scanned=True, name="layers")(x, *args)
        else:
            for i in range(cfg.num_decoder_layers):
                x = layer(cfg, name=f"layers_{i}")(x, *args)
        x = RMSNorm(cfg.layer_norm_epsilon, name="decoder_norm")(x)
        x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
        logits = nn.Dense(
            cfg.vocab_size, use_bias=False, dtype=jnp.float32, param_dtype=jnp.float32, dot_general=dense_dot_general,
            kernel_init=partitioned(_dense_init, ("embed", "vocab")), name="logits_dense",
        )(x)
        return nn.with_logical_constraint(logits, ("batch", "length", "vocab"))


class Transformer(nn.Module):
    """T5 v1.1 encoder-decoder: `__call__` for training and scoring, `encode`/`decode` for decoding."""

    config: T5Config

    def setup(self):
        cfg = self.config
        self.token_embedder = nn.Embed(
            cfg.vocab_size, cfg.emb_dim, dtype=cfg.activation_dtype, param_dtype=jnp.float32,
            embedding_init=partitioned(_embedding_init, ("vocab", "embed")), name="token_embedder",
        )
        self.encoder = Encoder(cfg, name="encoder")
        self.decoder = Decoder(cfg, name="decoder")

    def _embed(self, tokens: Array) -> Array:
        return nn.with_logical_constraint(self.token_embedder(tokens.astype(jnp.int32)), ("batch", "length", "embed"))

    def encode(self, encoder_input_tokens: Array, encoder_segment_ids: Optional[Array] = None,
               encoder_positions: Optional[Array] = None, *, enable_dropout: bool = True) -> Array:
        """[batch, input_len, emb_dim] encoder outputs (activation dtype).

        `encoder_positions` is accepted for seqio's packed features but unused: T5 has no
        absolute positions and packed segments are contiguous, so relative offsets are unchanged.
        """
        del encoder_positions
        valid = encoder_input_tokens > 0
        mask = attention_mask(valid, valid, encoder_segment_ids, encoder_segment_ids)
        return self.encoder(self._embed(encoder_input_tokens), mask, deterministic=not enable_dropout)

    def decode(self, encoded: Array, encoder_input_tokens: Array, decoder_input_tokens: Array,
               decoder_target_tokens: Optional[Array] = None, encoder_segment_ids: Optional[Array] = None,
               decoder_segment_ids: Optional[Array] = None, decoder_positions: Optional[Array] = None,
               *, enable_dropout: bool = True, decode: bool = False, max_decode_length: Optional[int] = None) -> Array:
        """float32 logits [batch, target_len, vocab].

        With `decode=True` the decoder reads and extends its "cache" collection. The first call
        (no cache yet, `mutable=["cache"]`) creates it: self-attention caches of
        `max_decode_length` positions (default: the input's length) and the encoder keys/values
        of the cross-attention, projected once; it does not advance the cache. Later calls pass
        one token each (the self-attention mask is then the cache's causal range). For beam
        search `decoder_input_tokens` may hold beams * batch rows (beam j of example b at row
        b * beams + j) while `encoded` and `encoder_input_tokens` keep one row per example: the
        cross-attention cache then holds each example's keys/values once, shared by its beams.
        """
        del decoder_positions
        encoder_valid = encoder_input_tokens > 0
        if decode:
            # [batch, 1, 1, input_len]: the cross-attention mask of any (beam of a) query row.
            self_mask = None
            cross_mask = encoder_valid[:, None, None, :]
        else:
            if decoder_target_tokens is None:
                decoder_target_tokens = decoder_input_tokens
            query_valid = decoder_target_tokens > 0
            self_mask = attention_mask(query_valid, query_valid, decoder_segment_ids, decoder_segment_ids, causal=True)
            cross_mask = attention_mask(query_valid, encoder_valid, decoder_segment_ids, encoder_segment_ids)
        return self.decoder(
            self._embed(decoder_input_tokens), encoded, self_mask, cross_mask,
            deterministic=not enable_dropout, decode=decode, max_decode_length=max_decode_length,
        )

    def __call__(self, encoder_input_tokens: Array, decoder_input_tokens: Array, decoder_target_tokens: Array,
                 encoder_segment_ids: Optional[Array] = None, decoder_segment_ids: Optional[Array] = None,
                 encoder_positions: Optional[Array] = None, decoder_positions: Optional[Array] = None,
                 *, enable_dropout: bool = True) -> Array:
        """float32 logits [batch, target_len, vocab] for teacher-forced decoder inputs."""
        encoded = self.encode(encoder_input_tokens, encoder_segment_ids, encoder_positions, enable_dropout=enable_dropout)
        return self.decode(
            encoded, encoder_input_tokens, decoder_input_tokens, decoder_target_tokens,
            encoder_segment_ids, decoder_segment_ids, decoder_positions, enable_dropout=enable_dropout,
        )
