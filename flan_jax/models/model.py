"""EncoderDecoderModel: the model contract over (params, batch), separate from the network.

As t5x's `models.EncoderDecoderModel`: the trainer calls `loss_fn`, the evaluator calls
`predict_batch` and `score_batch`, and the feature converter that produces their batches is
`FEATURE_CONVERTER_CLS`. The model owns no optimizer and no parameters.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

import jax
import jax.numpy as jnp

from flan_jax.models import decoding, losses
from flan_jax.models.t5 import Transformer

if TYPE_CHECKING:
    import seqio

Batch = Mapping[str, jax.Array]
PyTree = Any

_REQUIRED_KEYS = ("encoder_input_tokens", "decoder_input_tokens", "decoder_target_tokens")
_OPTIONAL_KEYS = ("encoder_segment_ids", "decoder_segment_ids", "encoder_positions", "decoder_positions")


class _EncDecFeatureConverter:
    """`seqio.EncDecFeatureConverter`, imported on first access.

    seqio imports TensorFlow, which the network, the loss, the train step and decoding never
    need: importing it lazily lets machines without TensorFlow (a GPU box running the
    benchmarks) use this module.
    """

    def __get__(self, instance, owner) -> type:
        import seqio

        return seqio.EncDecFeatureConverter


def _is_remote(vocabulary: seqio.Vocabulary) -> bool:
    """A SentencePiece vocabulary whose model file is not local (e.g. the public gs:// path)."""
    path = getattr(vocabulary, "sentencepiece_model_file", None)
    return isinstance(path, str) and "://" in path


class EncoderDecoderModel:
    """Loss, scoring and decoding for a T5 `Transformer` (t5x's EncoderDecoderModel)."""

    FEATURE_CONVERTER_CLS = _EncDecFeatureConverter()

    def __init__(self, module: Transformer, input_vocabulary: seqio.Vocabulary, output_vocabulary: seqio.Vocabulary,
                 z_loss: float = 1e-4, label_smoothing: float = 0.0, loss_normalizing_factor: Optional[float] = None):
        """
        Args:
          module: the network.
          input_vocabulary / output_vocabulary: seqio vocabularies of inputs and targets.
          z_loss: coefficient of t5x's z-loss (1e-4, the t5x and FLAN-T5 default).
          label_smoothing: t5x label smoothing (FLAN-T5 uses none).
          loss_normalizing_factor: the loss is the summed token loss divided by this number;
            None divides by the batch's summed loss weights (a per-token mean).
        """
        vocab_size = module.config.vocab_size
        for name, vocabulary in (("input_vocabulary", input_vocabulary), ("output_vocabulary", output_vocabulary)):
            if _is_remote(vocabulary):
                continue  # its size needs a download; a too-large id fails at lookup instead
            if vocabulary.vocab_size > vocab_size:
                raise ValueError(
                    f"{name} has {vocabulary.vocab_size} ids but T5Config.vocab_size is {vocab_size}: "
                    "raise network.T5Config.vocab_size (or use a smaller vocabulary)"
                )
        self.module = module
        self.input_vocabulary = input_vocabulary
        self.output_vocabulary = output_vocabulary
        self.z_loss = z_loss
        self.label_smoothing = label_smoothing
        self.loss_normalizing_factor = loss_normalizing_factor

    # --- Initialisation.
    def get_initial_variables(self, rng: jax.Array, input_shapes: Mapping[str, tuple],
                              input_types: Optional[Mapping[str, Any]] = None) -> PyTree:
        """{"params": boxed (nn.LogicallyPartitioned) tree} for batches of `input_shapes`."""
        input_types = input_types or {}
        missing = [k for k in ("encoder_input_tokens", "decoder_input_tokens") if k not in input_shapes]
        if missing:
            raise KeyError(f"get_initial_variables: input_shapes lacks {missing}; got {sorted(input_shapes)}")
        dummy = lambda key: jnp.ones(input_shapes[key], input_types.get(key, jnp.int32))  # noqa: E731
        decoder_inputs = dummy("decoder_input_tokens")
        variables = self.module.init(
            {"params": rng, "dropout": rng}, dummy("encoder_input_tokens"), decoder_inputs, decoder_inputs,
            enable_dropout=False,
        )
        return {"params": variables["params"]}

    # --- Training.
    def _logits(self, params: PyTree, batch: Batch, dropout_rng: Optional[jax.Array]) -> jax.Array:
        missing = [k for k in _REQUIRED_KEYS if k not in batch]
        if missing:
            raise KeyError(f"batch lacks {missing} (has {sorted(batch)}): use seqio.EncDecFeatureConverter")
        kwargs = {k: batch[k] for k in _OPTIONAL_KEYS if k in batch}
        rngs = {"dropout": dropout_rng} if dropout_rng is not None else None
        return self.module.apply(
            {"params": params}, batch["encoder_input_tokens"], batch["decoder_input_tokens"],
            batch["decoder_target_tokens"], **kwargs, enable_dropout=dropout_rng is not None, rngs=rngs,
        )

    def loss_fn(self, params: PyTree, batch: Batch, dropout_rng: Optional[jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        """(loss to differentiate, raw sums).

        loss = (cross entropy + z-loss summed over weighted tokens) / normaliser, the normaliser
        being `loss_normalizing_factor` or the summed weights of this batch. The aux dict holds
        "cross_entropy_sum" (without z-loss), "z_loss_sum", "correct_tokens", "weight_sum".
        """
        logits = self._logits(params, batch, dropout_rng)
        weights = batch.get("decoder_loss_weights")
        if weights is None:
            weights = batch["decoder_target_tokens"] > 0
        sums = losses.weighted_token_losses(
            logits, batch["decoder_target_tokens"], weights, z_loss=self.z_loss, label_smoothing=self.label_smoothing
        )
        normaliser = losses.loss_normalizer(sums["weight_sum"], self.loss_normalizing_factor)
        loss = (sums["cross_entropy_sum"] + sums["z_loss_sum"]) / normaliser
        return loss, sums

    # --- Evaluation.
    def score_batch(self, params: PyTree, batch: Batch) -> jax.Array:
        """float32 [batch] summed log-likelihood of the targets (over `decoder_loss_weights`)."""
        logits = self._logits(params, batch, None)
        weights = batch.get("decoder_loss_weights")
        if weights is None:
            weights = batch["decoder_target_tokens"] > 0
        token_scores = losses.token_log_likelihoods(logits, batch["decoder_target_tokens"])
        return jnp.sum(token_scores * weights.astype(jnp.float32), axis=-1)

    def _decode_step_fn(self, params: PyTree, encoded: jax.Array, encoder_tokens: jax.Array):
        def tokens_to_logits(tokens, cache):
            logits, mutated = self.module.apply(
                {"params": params, "cache": cache}, encoded, encoder_tokens, tokens,
                enable_dropout=False, decode=True, method=Transformer.decode, mutable=["cache"],
            )
            return logits[:, -1, :], mutated["cache"]

        return tokens_to_logits

    def _initial_cache(self, params: PyTree, encoded: jax.Array, encoder_tokens: jax.Array, decode_length: int,
                       beams: int = 1) -> PyTree:
        """Empty self-attention caches of `decode_length` for `beams` rows per example, and the
        projected encoder keys/values, once per example."""
        _, variables = self.module.apply(
            {"params": params}, encoded, encoder_tokens, jnp.zeros((encoded.shape[0] * beams, 1), jnp.int32),
            enable_dropout=False, decode=True, max_decode_length=decode_length, method=Transformer.decode,
            mutable=["cache"],
        )
        return variables["cache"]

    def predict_batch(self, params: PyTree, batch: Batch, rng: Optional[jax.Array] = None, *,
                      method: decoding.DecodeMethod = "greedy",
                      num_beams: int = 4, alpha: float = 0.6, temperature: float = 1.0, top_k: int = 0) -> jax.Array:
        """int32 [batch, decode_len] predictions (decode_len = decoder_input_tokens' length).

        Args:
          params: plain parameter tree.
          batch: needs "encoder_input_tokens" and "decoder_input_tokens" (only its shape is used).
          rng: PRNG key for method="sample".
          method: "greedy", "beam_search" or "sample".
          num_beams, alpha: beam size and length-penalty exponent for beam search.
          temperature, top_k: sampling options.
        Returns:
          tokens with EOS kept and zeros after it.
        """
        decoding.check_method(method, "predict_batch(method)")
        encoder_tokens = batch["encoder_input_tokens"]
        batch_size, decode_length = batch["decoder_input_tokens"].shape
        eos_id = self.output_vocabulary.eos_id
        encoded = self.module.apply(
            {"params": params}, encoder_tokens, enable_dropout=False, method=Transformer.encode,
        )
        if method == "beam_search":
            # The encoder output stays one row per example: the cross-attention cache is shared
            # by the beams, so reordering beams copies only the self-attention caches.
            cache = self._initial_cache(params, encoded, encoder_tokens, decode_length, beams=num_beams)
            seqs, _ = decoding.beam_search(
                self._decode_step_fn(params, encoded, encoder_tokens), cache, batch_size=batch_size,
                beam_size=num_beams, max_decode_length=decode_length, eos_id=eos_id, alpha=alpha,
            )
            return seqs[:, 0, :]
        cache = self._initial_cache(params, encoded, encoder_tokens, decode_length)
        return decoding.temperature_sample(
            self._decode_step_fn(params, encoded, encoder_tokens), cache, batch_size=batch_size,
            max_decode_length=decode_length, eos_id=eos_id, rng=rng,
            temperature=0.0 if method == "greedy" else temperature, top_k=top_k,
        )
