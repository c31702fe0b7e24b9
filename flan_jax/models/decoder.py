"""A decoder-only transformer in flax.linen: the Llama family and Qwen2, as Hugging Face runs them.

The architecture of `LlamaForCausalLM` and `Qwen2ForCausalLM` (Touvron et al. 2023; Meta's Llama 3
report 2024; Qwen2 technical report 2024), so their checkpoints load unchanged
(`flan_jax.convert.hf_decoder`):

- pre-norm residual blocks with RMS norm (a scale, no bias; `t5.RMSNorm`);
- rotary position embeddings (Su et al. 2021) in Hugging Face's half-split layout, with a
  configurable base and Llama 3's frequency scaling (`Llama3RopeScaling`);
- grouped-query attention (Ainslie et al. 2023): `num_kv_heads` key/value heads shared by
  `num_heads // num_kv_heads` query heads each; logits scaled by 1/sqrt(head_dim);
- SwiGLU feed-forward, wo(silu(wi_0 x) * wi_1 x) (Shazeer 2020);
- Qwen2's biases on the query, key and value projections (`qkv_bias`);
- optionally tied input embedding and output projection (`tie_word_embeddings`).

Batches follow t5x's decoder-only layout (seqio's `PrefixLMFeatureConverter`), [batch, length]:
`decoder_input_tokens`, optional `decoder_segment_ids` / `decoder_positions` (packing: attention
never crosses segments, rotary positions restart per segment) and optional
`decoder_causal_attention` (prefix-LM: 1 over the inputs prefix, which then attends
bidirectionally, as t5x's `inputs_bidirectional_attention`). Padding sits at the end of each row
(seqio's layout), where a causal mask alone keeps it away from real tokens; no token id is
reserved as padding, since id 0 is an ordinary token in the Llama 3 and Qwen2 vocabularies.

Parameters are float32 and carry t5x logical axis names (`flan_jax.train.partitioning` shards
them); activations run in `config.dtype`; logits come out in float32. Decoding keeps a
key/value cache in the flax "cache" collection: `prefill=True` writes a whole prompt, then
`decode=True` takes one token per row per call, each row at its own position.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from flan_jax.models import t5

Array = jax.Array

# Hugging Face Llama / Qwen2 initialise every weight from N(0, initializer_range = 0.02).
_init = nn.initializers.normal(stddev=0.02)


@dataclasses.dataclass(frozen=True)
class Llama3RopeScaling:
    """Llama 3.1's rotary frequency scaling (Hugging Face `rope_type: llama3`).

    Wavelengths longer than original_max_position_embeddings / low_freq_factor are divided by
    `factor`, shorter than .../high_freq_factor are kept, and those between are interpolated.
    Llama 3.2 1B / 3B use factor 32, low 1, high 4, original length 8192.
    """

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192

    def __post_init__(self):
        if not (self.factor > 0 and self.high_freq_factor > self.low_freq_factor > 0
                and self.original_max_position_embeddings > 0):
            raise ValueError(f"Llama3RopeScaling needs factor > 0 and high_freq_factor > low_freq_factor > 0, got {self}")


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """Sizes and options of a Llama / Qwen2 decoder (gin/models/decoder/*.gin hold published ones).

    Attributes:
      vocab_size: rows of the token embedding (and columns of the output projection).
      emb_dim: hidden_size.
      num_heads: query heads per layer.
      num_kv_heads: key/value heads (grouped-query attention); divides num_heads.
      num_layers: decoder blocks.
      head_dim: width of one head (num_heads * head_dim need not equal emb_dim).
      mlp_dim: intermediate_size, the width of each SwiGLU branch.
      rope_theta: the rotary base (10,000 Llama 2; 500,000 Llama 3; 1,000,000 Qwen2.5).
      rope_scaling: Llama 3.1's frequency scaling, or None.
      qkv_bias: biases on the query/key/value projections (Qwen2).
      tie_word_embeddings: the output projection is the transposed token embedding.
      layer_norm_epsilon: rms_norm_eps (1e-5 Llama, 1e-6 Qwen2).
      dropout_rate: dropout on each residual branch's output during training.
      dtype: activation dtype ("float32" or "bfloat16"); parameters are always float32.
    """

    vocab_size: int
    emb_dim: int
    num_heads: int
    num_kv_heads: int
    num_layers: int
    head_dim: int
    mlp_dim: int
    rope_theta: float = 10000.0
    rope_scaling: Optional[Llama3RopeScaling] = None
    qkv_bias: bool = False
    tie_word_embeddings: bool = False
    layer_norm_epsilon: float = 1e-5
    dropout_rate: float = 0.0
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("vocab_size", "emb_dim", "num_heads", "num_kv_heads", "num_layers", "head_dim", "mlp_dim"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DecoderConfig.{name} must be a positive integer, got {value!r}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"DecoderConfig.num_kv_heads ({self.num_kv_heads}) must divide num_heads ({self.num_heads}): "
                "each key/value head serves the same number of query heads"
            )
        if self.head_dim % 2:
            raise ValueError(f"DecoderConfig.head_dim must be even for rotary embeddings, got {self.head_dim}")
        if not self.rope_theta > 0:
            raise ValueError(f"DecoderConfig.rope_theta must be positive, got {self.rope_theta!r}")
        if self.rope_scaling is not None and not isinstance(self.rope_scaling, Llama3RopeScaling):
            raise ValueError(f"DecoderConfig.rope_scaling must be a Llama3RopeScaling or None, got {self.rope_scaling!r}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"DecoderConfig.dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"DecoderConfig.dropout_rate must be in [0, 1), got {self.dropout_rate!r}")

    @property
    def activation_dtype(self) -> jnp.dtype:
        return jnp.dtype(self.dtype)


# --- Pure functions.
def rope_inverse_frequencies(head_dim: int, theta: float, scaling: Optional[Llama3RopeScaling] = None) -> np.ndarray:
    """float32 [head_dim // 2] rotation frequencies theta^(-2i/head_dim), Llama-3-scaled if asked.

    Computed in float64 on the host (they are constants of the config), then rounded once.
    """
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    if scaling is not None:
        wavelength = 2 * math.pi / inv_freq
        low_freq_wavelength = scaling.original_max_position_embeddings / scaling.low_freq_factor
        high_freq_wavelength = scaling.original_max_position_embeddings / scaling.high_freq_factor
        smooth = (scaling.original_max_position_embeddings / wavelength - scaling.low_freq_factor) / (
            scaling.high_freq_factor - scaling.low_freq_factor)
        interpolated = (1 - smooth) * inv_freq / scaling.factor + smooth * inv_freq
        inv_freq = np.where(wavelength > low_freq_wavelength, inv_freq / scaling.factor,
                            np.where(wavelength < high_freq_wavelength, inv_freq, interpolated))
    return inv_freq.astype(np.float32)


def rotary_tables(positions: Array, inv_freq: np.ndarray, dtype: jnp.dtype) -> tuple[Array, Array]:
    """(cos, sin), each [batch, length, 1, head_dim], of every position's rotation angles.

    Computed once per call of the network and shared by every layer's queries and keys: computed
    inside each use, XLA:CPU evaluated the sines and cosines again for every head of every layer
    (a quarter of the tiny model's forward pass on one core).
    """
    angles = positions.astype(jnp.float32)[:, :, None] * jnp.asarray(inv_freq)  # [batch, length, head_dim/2]
    angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]
    return jnp.cos(angles).astype(dtype), jnp.sin(angles).astype(dtype)


def apply_rope(x: Array, cos: Array, sin: Array) -> Array:
    """Rotates [batch, length, heads, head_dim] by `rotary_tables`, Hugging Face's half-split
    layout: dimension i pairs with i + head_dim/2 (not adjacent pairs, as the original Llama code)."""
    first, second = jnp.split(x, 2, axis=-1)
    return x * cos + jnp.concatenate([-second, first], axis=-1) * sin


def decoder_attention_mask(length: int, segment_ids: Optional[Array] = None,
                           causal_attention: Optional[Array] = None) -> Array:
    """[batch or 1, 1, length, length] boolean: key <= query, or both in the bidirectional
    prefix (`causal_attention` 1); and the same segment when packed.

    Padding is not masked: it follows the real tokens of its row, so causal attention never
    reaches it from them, and nothing reads the outputs at padded positions.
    """
    positions = jnp.arange(length)
    mask = (positions[:, None] >= positions[None, :])[None, None]
    if causal_attention is not None:
        prefix = causal_attention.astype(bool)
        mask = mask | (prefix[:, None, :, None] & prefix[:, None, None, :])
    if segment_ids is not None:
        mask = mask & (segment_ids[:, None, :, None] == segment_ids[:, None, None, :])
    return mask


def dot_product_attention(query: Array, key: Array, value: Array, mask: Array, dtype: jnp.dtype) -> Array:
    """softmax(query key^T + mask) value, logits in float32.

    Args:
      query: [batch, q, heads, head_dim].
      key, value: [batch, kv_heads, k, head_dim], heads-major (the cache's layout); query head h
        reads key head h // (heads // kv_heads), as Hugging Face's repeat_kv.
      mask: [batch or 1, 1, q, k] boolean.
      dtype: the activation dtype of the weights and the output.
    Returns:
      [batch, q, heads, head_dim].

    Each key head's query heads are stacked along the query axis ([batch, groups * q, kv_heads,
    head_dim]), so both products are T5's `attention_logits` / `attention_values` over
    [batch, kv_heads]: plain batched products in the one layout XLA:CPU runs without transposing,
    and a softmax whose backward reads only its output. Autodiff's own backward of the einsums
    and of jax.nn.softmax transposed whole [batch, heads, q, k] tensors and re-reduced the logits
    (a tenth of the ~100M benchmark model's step on 2 cores).
    """
    batch, q_len, heads, head_dim = query.shape
    kv_heads, k_len = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    query = query.reshape(batch, q_len, kv_heads, groups, head_dim).transpose(0, 3, 1, 2, 4)
    query = query.reshape(batch, groups * q_len, kv_heads, head_dim)
    logits = t5.attention_logits(query, key.transpose(0, 2, 1, 3))  # [batch, kv_heads, groups * q, k]
    # Added, not selected, as t5.MultiHeadAttention does (XLA:CPU fuses the add).
    logits = logits.reshape(batch, kv_heads, groups, q_len, k_len) + jnp.where(mask, 0.0, t5._MASK_VALUE)[:, :, None]
    logits = logits.reshape(batch, kv_heads, groups * q_len, k_len)
    out = t5.attention_values(logits, value.transpose(0, 2, 1, 3), jnp.ones((), jnp.float32))
    out = out.reshape(batch, groups, q_len, kv_heads, head_dim).transpose(0, 2, 3, 1, 4)
    return out.reshape(batch, q_len, heads, head_dim).astype(dtype)


# Query blocks of causal self-attention (see `causal_attention`): 4 halved the attention's
# forward + backward time of the tiny and the ~100M benchmark models on XLA:CPU (one core;
# 2 blocks saved a fifth, 8 less than 4).
CAUSAL_QUERY_BLOCKS = 4


def causal_attention(query: Array, key: Array, value: Array, mask: Array, dtype: jnp.dtype,
                     blocks: int = CAUSAL_QUERY_BLOCKS) -> Array:
    """`dot_product_attention` over a causal mask, skipping the keys after each query block.

    Queries are split into `blocks` runs; a run attends only the keys up to its last query, which
    the causal mask allows (the segment mask of packed rows can only forbid more). That skips
    3/8 of the logits with 4 blocks and keeps each block's products and softmax small.
    """
    length = query.shape[1]
    size = -(-length // blocks)
    outputs = []
    for start in range(0, length, size):
        end = min(start + size, length)
        outputs.append(dot_product_attention(query[:, start:end], key[:, :, :end], value[:, :, :end],
                                             mask[:, :, start:end, :end], dtype))
    return jnp.concatenate(outputs, axis=1)


# --- Layers.
class Attention(nn.Module):
    """Grouped-query self-attention with rotary positions and a per-row key/value cache."""

    config: DecoderConfig

    @nn.compact
    def __call__(self, x: Array, positions: Array, rotary: tuple[Array, Array], mask: Array, *, deterministic: bool,
                 causal: bool, prefill: bool = False, decode: bool = False) -> Array:
        """x [batch, length, emb]; positions [batch, length] and their `rotary_tables`; mask
        [batch or 1, 1, q, k] boolean; causal: the mask allows no key after its query.

        prefill: store this call's keys/values as the cache (the prompt's length sets its size).
        decode: one token per row, written at the row's position (`positions`) in the cache; the
        row's keys up to that position are attended (`mask` is then ignored).
        """
        cfg = self.config
        dtype = cfg.activation_dtype

        def projection(name: str, heads: int):
            return nn.DenseGeneral(
                features=(heads, cfg.head_dim), axis=-1, use_bias=cfg.qkv_bias, dtype=dtype, param_dtype=jnp.float32,
                dot_general=t5.dense_dot_general, kernel_init=t5.partitioned(_init, ("embed", "heads", "kv")),
                bias_init=t5.partitioned(nn.initializers.zeros, ("heads", "kv")), name=name,
            )(x)

        # Keys and values heads-major, [batch, kv_heads, length, head_dim]: dot_product_attention's
        # and the cache's layout.
        heads_major = lambda y: nn.with_logical_constraint(  # noqa: E731
            y.transpose(0, 2, 1, 3), ("batch", "heads", "length", "kv"))
        # 1/sqrt(head_dim) on the queries: the same logits as scaling the logits, fewer multiplies.
        query = apply_rope(projection("query", cfg.num_heads), *rotary) * (cfg.head_dim ** -0.5)
        query = nn.with_logical_constraint(query, ("batch", "length", "heads", "kv"))
        key = heads_major(apply_rope(projection("key", cfg.num_kv_heads), *rotary))
        value = heads_major(projection("value", cfg.num_kv_heads))
        if prefill:
            self._store("cached_key", key)
            self._store("cached_value", value)
        elif decode:
            key, value, mask = self._decode_step(key, value, positions[:, 0])

        attend = causal_attention if causal and not decode else dot_product_attention
        out = attend(query, key, value, mask, dtype)
        out = nn.DenseGeneral(
            features=x.shape[-1], axis=(-2, -1), use_bias=False, dtype=dtype, param_dtype=jnp.float32,
            dot_general=t5.dense_dot_general, kernel_init=t5.partitioned(_init, ("heads", "kv", "embed")),
            name="out",
        )(out)
        return nn.with_logical_constraint(out, ("batch", "length", "embed"))

    def _store(self, name: str, value: Array) -> None:
        variable = self.variable("cache", name, lambda: value)
        variable.value = value

    def _decode_step(self, key: Array, value: Array, positions: Array) -> tuple[Array, Array, Array]:
        """Writes each row's new key/value [batch, kv_heads, 1, head_dim] at its own position;
        masks the slots after it."""
        if key.shape[2] != 1:
            raise ValueError(f"decode=True takes one token per row, got keys of shape {key.shape}")
        if not self.has_variable("cache", "cached_key"):
            raise ValueError("decode=True needs a cache: run the prompt with prefill=True first")
        write = jax.vmap(lambda cache, new, i: jax.lax.dynamic_update_slice_in_dim(cache, new, i, axis=1))
        cached_key, cached_value = self.variable("cache", "cached_key"), self.variable("cache", "cached_value")
        cached_key.value = write(cached_key.value, key, positions)
        cached_value.value = write(cached_value.value, value, positions)
        seen = jnp.arange(cached_key.value.shape[2])[None, :] <= positions[:, None]
        return cached_key.value, cached_value.value, seen[:, None, None, :]


class SwiGluMlp(nn.Module):
    """wo(silu(wi_0 x) * wi_1 x): Hugging Face's gate_proj, up_proj and down_proj."""

    mlp_dim: int
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: Array) -> Array:
        dense = lambda features, axes, name: nn.Dense(  # noqa: E731
            features, use_bias=False, dtype=self.dtype, param_dtype=jnp.float32, dot_general=t5.dense_dot_general,
            kernel_init=t5.partitioned(_init, axes), name=name,
        )
        hidden = nn.silu(dense(self.mlp_dim, ("embed", "mlp"), "wi_0")(x)) * dense(self.mlp_dim, ("embed", "mlp"), "wi_1")(x)
        hidden = nn.with_logical_constraint(hidden, ("batch", "length", "mlp"))
        return nn.with_logical_constraint(dense(x.shape[-1], ("mlp", "embed"), "wo")(hidden), ("batch", "length", "embed"))


class DecoderLayer(nn.Module):
    config: DecoderConfig

    @nn.compact
    def __call__(self, x: Array, positions: Array, rotary: tuple[Array, Array], mask: Array, *, deterministic: bool,
                 causal: bool, prefill: bool, decode: bool) -> Array:
        cfg = self.config
        dropout = nn.Dropout(cfg.dropout_rate)
        y = t5.RMSNorm(cfg.layer_norm_epsilon, name="pre_attention_layer_norm")(x)
        y = Attention(cfg, name="attention")(y, positions, rotary, mask, deterministic=deterministic, causal=causal,
                                             prefill=prefill, decode=decode)
        x = x + dropout(y, deterministic=deterministic)
        y = t5.RMSNorm(cfg.layer_norm_epsilon, name="pre_mlp_layer_norm")(x)
        y = SwiGluMlp(cfg.mlp_dim, cfg.activation_dtype, name="mlp")(y)
        x = x + dropout(y, deterministic=deterministic)
        return nn.with_logical_constraint(x, ("batch", "length", "embed"))


class Decoder(nn.Module):
    """The whole decoder-only network: tokens -> float32 logits [batch, length, vocab]."""

    config: DecoderConfig

    @nn.compact
    def __call__(self, decoder_input_tokens: Array, decoder_segment_ids: Optional[Array] = None,
                 decoder_positions: Optional[Array] = None, decoder_causal_attention: Optional[Array] = None,
                 *, enable_dropout: bool = True, prefill: bool = False, prefill_lengths: Optional[Array] = None,
                 decode: bool = False) -> Array:
        """Logits for teacher-forced tokens, or one step of cached decoding.

        Args:
          decoder_input_tokens: int [batch, length] (decode: [batch, 1], each row's next token).
          decoder_segment_ids / decoder_positions: packing features (segment 0 is padding).
          decoder_causal_attention: 1 over the bidirectional prefix; None: causal everywhere.
          enable_dropout: training mode.
          prefill: run a prompt and keep its keys/values in the "cache" collection (pass
            mutable=["cache"]); the cache is as long as `decoder_input_tokens`, and each row's
            next decode step is at position prefill_lengths - 1 (as t5x: the prompt's last token
            is read again by the first decode step, which yields the first prediction).
          prefill_lengths: int [batch] tokens of each row's prompt, with prefill.
          decode: one token per row at the row's position in the cache, which then advances.
        """
        cfg = self.config
        if prefill and decode:
            raise ValueError("prefill and decode are exclusive: prefill writes a prompt, decode extends it")
        batch, length = decoder_input_tokens.shape
        if decode:
            position = self.variable("cache", "position", lambda: jnp.zeros((batch,), jnp.int32))
            positions = position.value[:, None]
            position.value = position.value + 1
            mask = None
        else:
            if prefill:
                if prefill_lengths is None:
                    raise ValueError("prefill=True needs prefill_lengths, the prompt length of each row")
                position = self.variable("cache", "position", lambda: jnp.zeros((batch,), jnp.int32))
                position.value = jnp.maximum(prefill_lengths.astype(jnp.int32) - 1, 0)
            positions = decoder_positions if decoder_positions is not None else jnp.broadcast_to(jnp.arange(length), (batch, length))
            mask = decoder_attention_mask(length, decoder_segment_ids, decoder_causal_attention)

        embedder = nn.Embed(
            cfg.vocab_size, cfg.emb_dim, dtype=cfg.activation_dtype, param_dtype=jnp.float32,
            embedding_init=t5.partitioned(_init, ("vocab", "embed")), name="token_embedder",
        )
        x = nn.with_logical_constraint(embedder(decoder_input_tokens.astype(jnp.int32)), ("batch", "length", "embed"))
        deterministic = not enable_dropout
        inv_freq = rope_inverse_frequencies(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling)
        rotary = rotary_tables(positions, inv_freq, cfg.activation_dtype)
        for i in range(cfg.num_layers):
            x = DecoderLayer(cfg, name=f"layers_{i}")(x, positions, rotary, mask, deterministic=deterministic,
                                                      causal=decoder_causal_attention is None, prefill=prefill,
                                                      decode=decode)
        x = t5.RMSNorm(cfg.layer_norm_epsilon, name="decoder_norm")(x).astype(jnp.float32)
        if cfg.tie_word_embeddings:
            logits = t5.dense_dot_general(x, embedder.embedding.T, (((2,), (0,)), ((), ())))
        else:
            logits = nn.Dense(
                cfg.vocab_size, use_bias=False, dtype=jnp.float32, param_dtype=jnp.float32, dot_general=t5.dense_dot_general,
                kernel_init=t5.partitioned(_init, ("embed", "vocab")), name="logits_dense",
            )(x)
        return nn.with_logical_constraint(logits, ("batch", "length", "vocab"))
