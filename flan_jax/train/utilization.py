"""What an accelerator can hold and compute, and how much of it a train step uses.

`ACCELERATORS` is the one table of device memory and peak rates: `flan-jax plan` checks its
per-device memory against it, the trainer and `benchmarks/train_throughput.py` divide the
analytic FLOP rate by its peak to report MFU (model FLOPs utilisation, as MaxText and PaLM
define it: the FLOPs the model needs, not what the compiled program happens to run, so
rematerialised recomputation does not count).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from flan_jax.models import decoder, t5

GIB = 2**30


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """One JAX device of a kind: a TPU chip (v4 and v5p chips are one "megacore" device each,
    so a v4-64 slice has 32), or one GPU.

    Attributes:
      name: as plans and tables print it.
      memory_bytes: high-bandwidth memory per device.
      peak_flops: dense bfloat16 matrix FLOP/s per device (vendor figure, no sparsity).
      device_kinds: `jax.Device.device_kind` strings that are this accelerator.
    """

    name: str
    memory_bytes: int
    peak_flops: float
    device_kinds: tuple[str, ...]


ACCELERATORS = (
    Accelerator("TPU v4", 32 * GIB, 275e12, ("TPU v4",)),
    Accelerator("TPU v5e", 16 * GIB, 197e12, ("TPU v5 lite", "TPU v5e")),
    Accelerator("TPU v5p", 95 * GIB, 459e12, ("TPU v5p", "TPU v5")),
    Accelerator("H100", 80 * GIB, 989e12, ("NVIDIA H100 80GB HBM3", "NVIDIA H100")),
    Accelerator("H200", 141 * 10**9, 989e12, ("NVIDIA H200",)),
)


def accelerator(device_kind: str) -> Accelerator | None:
    """The table's row for a `jax.Device.device_kind`, or None (e.g. a CPU)."""
    for row in ACCELERATORS:
        if device_kind in row.device_kinds:
            return row
    return None


def t5_train_flops(config: t5.T5Config, batch_size: int, input_length: int, target_length: int) -> float:
    """FLOPs of one T5 v1.1 train step (forward + backward) on full-length batches.

    With E = d_model, A = heads * head_dim, F = d_ff, V = vocabulary, L_e / L_d the encoder /
    decoder layers and I / T the input / target lengths, the matrix products per token are

      encoder token:  L_e * (4*E*A + 3*E*F)     query, key, value, output; wi_0, wi_1, wo
                    + L_d * 2*E*A               the decoder's cross-attention keys and values
      decoder token:  L_d * (6*E*A + 3*E*F)     self-attention (4), cross query and output (2), MLP
                    + E*V                       the logits

    a multiply-add being 2 FLOPs, and the attention products per example
    4*A * (L_e*I*I + L_d*(T*T + T*I)) (logits and weighted values, each 2*q*k*A). The backward
    pass costs twice the forward (a gradient for each operand), so the step is
    3 * 2 * (B*I*encoder + B*T*decoder per-token counts) + 3 * B * attention, MaxText's rule.

    Not counted: the embedding lookup (a gather), norms, softmax, GELU, the loss and the
    optimizer (elementwise work, a few percent for small models), and recomputation by
    rematerialisation. Causal attention is counted in full, as computed: the masked half is
    not skipped. Padding tokens count: the step computes them.
    """
    emb, attn, mlp = config.emb_dim, config.num_heads * config.head_dim, config.mlp_dim
    enc_layers, dec_layers = config.num_encoder_layers, config.num_decoder_layers
    per_input_token = enc_layers * (4 * emb * attn + 3 * emb * mlp) + dec_layers * 2 * emb * attn
    per_target_token = dec_layers * (6 * emb * attn + 3 * emb * mlp) + emb * config.vocab_size
    matmuls = 2 * batch_size * (input_length * per_input_token + target_length * per_target_token)
    attention = 4 * attn * batch_size * (
        enc_layers * input_length**2 + dec_layers * (target_length**2 + target_length * input_length)
    )
    return 3.0 * (matmuls + attention)


def decoder_train_flops(config: decoder.DecoderConfig, batch_size: int, length: int) -> float:
    """FLOPs of one decoder-only train step on full-length rows (PaLM, Chowdhery et al. 2022, App. B).

    6 per matrix parameter per token (forward 2, backward 4): per layer the query and output
    projections 2*E*H*D, key and value 2*E*K*D (K key/value heads), the SwiGLU branches 3*E*F,
    and the output projection V*E (counted even when tied to the embedding: it is a product; the
    lookup is not); plus 12 * layers * H * D * length per token for the attention logits and
    weighted values (causal attention counted in full, as computed). Norms, rotary embeddings,
    the loss and the optimizer are not counted.
    """
    emb, heads, kv_heads, head_dim = config.emb_dim, config.num_heads, config.num_kv_heads, config.head_dim
    per_layer = 2 * emb * heads * head_dim + 2 * emb * kv_heads * head_dim + 3 * emb * config.mlp_dim
    matrix_params = config.num_layers * per_layer + config.vocab_size * emb
    tokens = batch_size * length
    return 6.0 * matrix_params * tokens + 12.0 * config.num_layers * heads * head_dim * length * tokens


def train_flops(model: Any, batch_size: int, input_shapes: Mapping[str, tuple[int, ...]]) -> float | None:
    """The analytic FLOPs of one train step of `model` (None for a network without a formula).

    Args:
      model: an EncoderDecoderModel (its `module.config` a T5Config) or a DecoderOnlyModel (a
        DecoderConfig).
      batch_size: global batch size.
      input_shapes: the model features' shapes (the trainer's `model_input_shapes`); only
        their lengths are read.
    """
    config = getattr(getattr(model, "module", None), "config", None)
    if isinstance(config, decoder.DecoderConfig):
        return decoder_train_flops(config, batch_size, input_shapes["decoder_input_tokens"][-1])
    if not isinstance(config, t5.T5Config):
        return None
    return t5_train_flops(
        config, batch_size, input_shapes["encoder_input_tokens"][-1], input_shapes["decoder_input_tokens"][-1]
    )
