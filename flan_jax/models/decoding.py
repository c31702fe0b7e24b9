"""Autoregressive decoding with an incremental key/value cache: greedy, sampling, beam search.

Every decoder works on a `tokens_to_logits(tokens [batch, 1], cache) -> (logits [batch, vocab],
cache)` callable, so it knows nothing about the network. Loops are `jax.lax.while_loop`s that
stop as soon as every row has produced EOS (or, for beam search, when no live beam can beat the
finished ones), so they jit once per shape. Position 0 is fed the decoder start token 0, as T5.
Outputs keep EOS and hold 0 after it.
"""
from __future__ import annotations

from typing import Any, Callable, Literal, Optional, get_args

import jax
import jax.numpy as jnp

Cache = Any
TokensToLogits = Callable[[jax.Array, Cache], tuple[jax.Array, Cache]]

# How a model decodes (t5x's names): the model's `predict_batch(method=...)` and the evaluator's
# `DecodeOptions.method` (gin: `evaluation.DecodeOptions.method`) take exactly these.
DecodeMethod = Literal["greedy", "beam_search", "sample"]
DECODE_METHODS: tuple[str, ...] = get_args(DecodeMethod)


def check_method(method: str, where: str) -> None:
    """Raises naming `where` (the argument or gin binding) and the accepted methods."""
    if method not in DECODE_METHODS:
        raise ValueError(f"{where}={method!r} is not a decode method; choose one of {DECODE_METHODS}.")

# Stand-in for log(0) that keeps arithmetic finite (-inf - -inf would be NaN).
NEG_INF = -1.0e7


def _top_k_filter(logits: jax.Array, top_k: int) -> jax.Array:
    """Keeps the top_k logits of each row (ties at the threshold survive), the rest -> NEG_INF."""
    threshold = jax.lax.top_k(logits, top_k)[0][..., -1:]
    return jnp.where(logits < threshold, NEG_INF, logits)


def temperature_sample(tokens_to_logits: TokensToLogits, cache: Cache, *, batch_size: int, max_decode_length: int,
                       eos_id: int, rng: Optional[jax.Array] = None, temperature: float = 1.0,
                       top_k: int = 0) -> jax.Array:
    """Samples [batch, max_decode_length] tokens; temperature 0 is greedy (argmax).

    Args:
      tokens_to_logits: one decoder step over the cache.
      cache: the initialised cache (see `EncoderDecoderModel.predict_batch`).
      batch_size, max_decode_length: output shape.
      eos_id: the token that ends a row.
      rng: PRNG key; required when temperature > 0.
      temperature: softmax temperature (0: argmax).
      top_k: sample only among the k most likely tokens (0: all).
    Returns:
      int32 [batch, max_decode_length] tokens, EOS kept, zeros after it.
    """
    greedy = temperature == 0.0
    if not greedy and rng is None:
        raise ValueError("temperature sampling needs an rng (pass rng=jax.random.PRNGKey(...) or temperature=0)")
    if rng is None:
        rng = jax.random.PRNGKey(0)

    def choose(logits, key):
        if greedy:
            return jnp.argmax(logits, axis=-1).astype(jnp.int32)
        logits = logits / temperature
        if top_k > 0:
            logits = _top_k_filter(logits, top_k)
        return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)

    def cond(state):
        step, _, _, done, _ = state
        return (step < max_decode_length) & ~jnp.all(done)

    def body(state):
        step, tokens, cache, done, key = state
        previous = jnp.where(step == 0, 0, jax.lax.dynamic_index_in_dim(tokens, jnp.maximum(step - 1, 0), 1, False))
        logits, cache = tokens_to_logits(previous[:, None], cache)
        key, step_key = jax.random.split(key)
        chosen = jnp.where(done, 0, choose(logits.astype(jnp.float32), step_key))
        tokens = jax.lax.dynamic_update_index_in_dim(tokens, chosen, step, 1)
        return step + 1, tokens, cache, done | (chosen == eos_id), key

    state = (
        jnp.array(0, jnp.int32), jnp.zeros((batch_size, max_decode_length), jnp.int32), cache,
        jnp.zeros((batch_size,), bool), rng,
    )
    return jax.lax.while_loop(cond, body, state)[1]


def length_penalty(length: jax.Array, alpha: float) -> jax.Array:
    """t5x / GNMT brevity penalty ((5 + length) / 6) ** alpha (Wu et al. 2016)."""
    return ((5.0 + length) / 6.0) ** alpha


def _gather_beams(x: jax.Array, indices: jax.Array) -> jax.Array:
    """Picks beams [batch, new_beams] from a [batch, beam, ...] array."""
    return jnp.take_along_axis(x, indices.reshape(indices.shape + (1,) * (x.ndim - 2)), axis=1)


def _gather_cache(cache: Cache, indices: jax.Array, batch_size: int, beam_size: int, cache_offset: int = 0) -> Cache:
    """Reorders the per-beam cache rows: leaves with batch * beam_size rows on axis
    `cache_offset` (row b * beam_size + j is beam j of example b). Other leaves are shared by an
    example's beams, e.g. cross-attention keys/values with one row per example, and scalars such
    as the cache index, so nothing is copied for them."""

    def gather_rows(x):
        y = _gather_beams(x.reshape((batch_size, beam_size) + x.shape[1:]), indices)
        return y.reshape((batch_size * indices.shape[1],) + y.shape[2:])

    def gather(x):
        if x.ndim < 2 + cache_offset or x.shape[cache_offset] != batch_size * beam_size:
            return x
        fn = gather_rows
        for _ in range(cache_offset):  # the same rows in every slice of the leading axes
            fn = jax.vmap(fn)
        return fn(x)

    return jax.tree_util.tree_map(gather, cache)


def beam_search(tokens_to_logits: TokensToLogits, cache: Cache, *, batch_size: int, beam_size: int,
                max_decode_length: int, eos_id: int, alpha: float = 0.6, cache_offset: int = 0) -> tuple[jax.Array, jax.Array]:
    """Beam search as t5x: 2k candidates per step, finished beams scored logprob / length penalty.

    Args:
      tokens_to_logits: one decoder step; its per-beam cache leaves have batch * beam_size
        rows, row b * beam_size + j being beam j of example b, and are reordered as beams
        move; leaves with another leading size (one row per example) are shared by the beams.
      cache: the initialised cache.
      batch_size, beam_size, max_decode_length: sizes.
      eos_id: the token that finishes a beam.
      alpha: length penalty exponent (0: raw log-likelihood).
      cache_offset: the axis of the cache leaves' rows: 1 where layers are scanned (t5x's name),
        their caches being stacked on a leading layer axis.
    Returns:
      (tokens int32 [batch, beam, length] best first, scores float32 [batch, beam]).
    """
    k = beam_size
    max_penalty = length_penalty(jnp.float32(max_decode_length), alpha)

    def cond(state):
        step, _, live_logprobs, _, finished_scores, finished_flags, _ = state
        best_live = live_logprobs[:, 0] / max_penalty
        worst_finished = jnp.min(jnp.where(finished_flags, finished_scores, NEG_INF), axis=1)
        can_improve = ~(jnp.all(finished_flags, axis=1) & (worst_finished > best_live))
        return (step < max_decode_length) & jnp.any(can_improve)

    def body(state):
        step, live_seqs, live_logprobs, finished_seqs, finished_scores, finished_flags, cache = state
        previous = jnp.where(step == 0, 0, jax.lax.dynamic_index_in_dim(live_seqs, jnp.maximum(step - 1, 0), 2, False))
        logits, cache = tokens_to_logits(previous.reshape(batch_size * k, 1), cache)
        vocab = logits.shape[-1]
        log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1).reshape(batch_size, k, vocab)
        candidates = (live_logprobs[:, :, None] + log_probs).reshape(batch_size, k * vocab)
        top_logprobs, top_ids = jax.lax.top_k(candidates, 2 * k)
        beam_ids, token_ids = top_ids // vocab, (top_ids % vocab).astype(jnp.int32)
        top_seqs = _gather_beams(live_seqs, beam_ids)
        top_seqs = jax.lax.dynamic_update_index_in_dim(top_seqs, token_ids, step, 2)
        is_eos = token_ids == eos_id

        # Live: the best k candidates that did not end.
        live_candidates = jnp.where(is_eos, NEG_INF, top_logprobs)
        new_live_logprobs, live_pick = jax.lax.top_k(live_candidates, k)
        new_live_seqs = _gather_beams(top_seqs, live_pick)
        cache = _gather_cache(cache, _gather_beams(beam_ids, live_pick), batch_size, k, cache_offset)

        # Finished: the best k among the old finished and the candidates that just ended.
        new_scores = jnp.where(is_eos, top_logprobs / length_penalty((step + 1).astype(jnp.float32), alpha), NEG_INF)
        all_seqs = jnp.concatenate([finished_seqs, top_seqs], axis=1)
        all_scores = jnp.concatenate([finished_scores, new_scores], axis=1)
        all_flags = jnp.concatenate([finished_flags, is_eos], axis=1)
        finished_scores, finished_pick = jax.lax.top_k(jnp.where(all_flags, all_scores, 2 * NEG_INF), k)
        finished_seqs = _gather_beams(all_seqs, finished_pick)
        finished_flags = _gather_beams(all_flags, finished_pick)
        return step + 1, new_live_seqs, new_live_logprobs, finished_seqs, finished_scores, finished_flags, cache

    state = (
        jnp.array(0, jnp.int32),
        jnp.zeros((batch_size, k, max_decode_length), jnp.int32),
        jnp.tile(jnp.array([0.0] + [NEG_INF] * (k - 1), jnp.float32), (batch_size, 1)),
        jnp.zeros((batch_size, k, max_decode_length), jnp.int32),
        jnp.full((batch_size, k), NEG_INF, jnp.float32),
        jnp.zeros((batch_size, k), bool),
        cache,
    )
    _, live_seqs, live_logprobs, finished_seqs, finished_scores, finished_flags, _ = jax.lax.while_loop(cond, body, state)
    # Beams still live at max_decode_length compete with the finished ones, scored at that length
    # (t5x only falls back to them where nothing finished; Hugging Face merges them like this).
    all_seqs = jnp.concatenate([finished_seqs, live_seqs], axis=1)
    all_scores = jnp.concatenate([jnp.where(finished_flags, finished_scores, 2 * NEG_INF), live_logprobs / max_penalty], axis=1)
    scores, pick = jax.lax.top_k(all_scores, k)
    return _gather_beams(all_seqs, pick), scores
