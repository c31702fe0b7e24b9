"""EncoderDecoderModel and DecoderOnlyModel: the model contract over (params, batch).

As t5x's `models.EncoderDecoderModel` and `DecoderOnlyModel`, apart from the network: the
trainer calls `loss_fn`, the evaluator calls `predict_batch` and `score_batch`, and the feature
converter that produces their batches is `FEATURE_CONVERTER_CLS`. Both derive from
`BaseTransformerModel` (t5x's name), which holds the vocabularies and loss settings and gives
both one loss (`token_loss`) and one score (`sequence_scores`) over the network's logits. A
model owns no optimizer and no parameters.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

import jax
import jax.numpy as jnp

from flan_jax.models import decoding, losses
from flan_jax.models.decoder import Decoder
from flan_jax.models.t5 import Transformer

if TYPE_CHECKING:
    import seqio

Batch = Mapping[str, jax.Array]
PyTree = Any

_REQUIRED_KEYS = ("encoder_input_tokens", "decoder_input_tokens", "decoder_target_tokens")
_OPTIONAL_KEYS = ("encoder_segment_ids", "decoder_segment_ids", "encoder_positions", "decoder_positions")


class _SeqioFeatureConverter:
    """`seqio.<name>`, imported on first access.

    seqio imports TensorFlow, which the network, the loss, the train step and decoding never
    need: importing it lazily lets machines without TensorFlow (a GPU box running the
    benchmarks) use this module.
    """

    def __init__(self, name: str):
        self.name = name

    def __get__(self, instance, owner) -> type:
        import seqio

        return getattr(seqio, self.name)


def _is_remote(vocabulary: seqio.Vocabulary) -> bool:
    """A SentencePiece vocabulary whose model file is not local (e.g. the public gs:// path)."""
    path = getattr(vocabulary, "sentencepiece_model_file", None)
    return isinstance(path, str) and "://" in path


def check_vocabulary_sizes(vocabularies: Mapping[str, seqio.Vocabulary], vocab_size: int, config_name: str) -> None:
    """Fails at construction, not mid-training, when a vocabulary has more ids than the embedding."""
    for name, vocabulary in vocabularies.items():
        if _is_remote(vocabulary):
            continue  # its size needs a download; a too-large id fails at lookup instead
        if vocabulary.vocab_size > vocab_size:
            raise ValueError(
                f"{name} has {vocabulary.vocab_size} ids but {config_name}.vocab_size is {vocab_size}: "
                f"raise network.{config_name}.vocab_size (or use a smaller vocabulary)"
            )


def _loss_weights(batch: Batch) -> jax.Array:
    weights = batch.get("decoder_loss_weights")
    return batch["decoder_target_tokens"] > 0 if weights is None else weights


def token_loss(logits: jax.Array, batch: Batch, *, z_loss: float, label_smoothing: float,
               loss_normalizing_factor: Optional[float]) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(loss to differentiate, raw sums) of logits against the batch's decoder targets.

    loss = (cross entropy + z-loss summed over weighted tokens) / normaliser, the normaliser
    being `loss_normalizing_factor` or the summed weights of this batch. The aux dict holds
    "cross_entropy_sum" (without z-loss), "z_loss_sum", "correct_tokens", "weight_sum".
    Weights are `decoder_loss_weights`, else every non-zero target.
    """
    sums = losses.weighted_token_losses(
        logits, batch["decoder_target_tokens"], _loss_weights(batch), z_loss=z_loss, label_smoothing=label_smoothing
    )
    normaliser = losses.loss_normalizer(sums["weight_sum"], loss_normalizing_factor)
    loss = (sums["cross_entropy_sum"] + sums["z_loss_sum"]) / normaliser
    return loss, sums


def sequence_scores(logits: jax.Array, batch: Batch) -> jax.Array:
    """float32 [batch] summed log-likelihood of the decoder targets over their loss weights."""
    token_scores = losses.token_log_likelihoods(logits, batch["decoder_target_tokens"])
    return jnp.sum(token_scores * _loss_weights(batch).astype(jnp.float32), axis=-1)


class BaseTransformerModel:
    """What both models share (t5x's BaseTransformerModel): the network, the vocabularies, the loss
    settings, and `loss_fn` / `score_batch` over the logits a subclass's `_logits` computes."""

    FEATURE_CONVERTER_CLS: type

    def __init__(self, module: Transformer | Decoder, input_vocabulary: seqio.Vocabulary,
                 output_vocabulary: seqio.Vocabulary, *, z_loss: float, label_smoothing: float,
                 loss_normalizing_factor: Optional[float]):
        """
        Args:
          module: the network.
          input_vocabulary / output_vocabulary: seqio vocabularies of inputs and targets.
          z_loss: coefficient of t5x's z-loss (1e-4, the t5x and FLAN-T5 default).
          label_smoothing: t5x label smoothing (FLAN-T5 uses none).
          loss_normalizing_factor: the loss is the summed token loss divided by this number;
            None divides by the batch's summed loss weights (a per-token mean).
        """
        self.module = module
        self.input_vocabulary = input_vocabulary
        self.output_vocabulary = output_vocabulary
        self.z_loss = z_loss
        self.label_smoothing = label_smoothing
        self.loss_normalizing_factor = loss_normalizing_factor

    def _logits(self, params: PyTree, batch: Batch, dropout_rng: Optional[jax.Array]) -> jax.Array:
        """float32 [batch, length, vocab] logits of the decoder targets; dropout when `dropout_rng` is given."""
        raise NotImplementedError

    # --- Training.
    def loss_fn(self, params: PyTree, batch: Batch, dropout_rng: Optional[jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        """(loss to differentiate, raw sums).

        loss = (cross entropy + z-loss summed over weighted tokens) / normaliser, the normaliser
        being `loss_normalizing_factor` or the summed weights of this batch. The aux dict holds
        "cross_entropy_sum" (without z-loss), "z_loss_sum", "correct_tokens", "weight_sum".
        """
        return token_loss(self._logits(params, batch, dropout_rng), batch, z_loss=self.z_loss,
                          label_smoothing=self.label_smoothing, loss_normalizing_factor=self.loss_normalizing_factor)

    # --- Evaluation.
    def score_batch(self, params: PyTree, batch: Batch) -> jax.Array:
        """float32 [batch] summed log-likelihood of the targets (over `decoder_loss_weights`)."""
        return sequence_scores(self._logits(params, batch, None), batch)


class EncoderDecoderModel(BaseTransformerModel):
    """Loss, scoring and decoding for a T5 `Transformer` (t5x's EncoderDecoderModel)."""

    FEATURE_CONVERTER_CLS = _SeqioFeatureConverter("EncDecFeatureConverter")

    def __init__(self, module: Transformer, input_vocabulary: seqio.Vocabulary, output_vocabulary: seqio.Vocabulary,
                 z_loss: float = 1e-4, label_smoothing: float = 0.0, loss_normalizing_factor: Optional[float] = None):
        """
        Args:
          module: the network.
          input_vocabulary / output_vocabulary: seqio vocabularies of inputs and targets.
          z_loss, label_smoothing, loss_normalizing_factor: see `BaseTransformerModel`.
        """
        check_vocabulary_sizes({"input_vocabulary": input_vocabulary, "output_vocabulary": output_vocabulary},
                               module.config.vocab_size, "T5Config")
        super().__init__(module, input_vocabulary, output_vocabulary, z_loss=z_loss, label_smoothing=label_smoothing,
                         loss_normalizing_factor=loss_normalizing_factor)

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

    # --- Evaluation.
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
                cache_offset=1 if self.module.config.scan_layers else 0,
            )
            return seqs[:, 0, :]
        cache = self._initial_cache(params, encoded, encoder_tokens, decode_length)
        return decoding.temperature_sample(
            self._decode_step_fn(params, encoded, encoder_tokens), cache, batch_size=batch_size,
            max_decode_length=decode_length, eos_id=eos_id, rng=rng,
            temperature=0.0 if method == "greedy" else temperature, top_k=top_k,
        )


class DecoderOnlyModel(BaseTransformerModel):
    """Loss, scoring and prompted decoding for a decoder-only `Decoder` (t5x's DecoderOnlyModel).

    Batches are seqio.PrefixLMFeatureConverter's (t5x's decoder-only layout for tasks with inputs,
    `flan_jax.data.features.PREFIX_LM` in numpy), all int32 [batch, length], padding at the end of
    each row:
      decoder_input_tokens      what the network reads: inputs then targets, shifted right by one
                                (position 0 holds the converter's bos_id)
      decoder_target_tokens     what it predicts at each position
      decoder_loss_weights      1 where the loss counts (only the targets, with the
                                converter's default loss_on_targets_only); else targets > 0
      decoder_segment_ids, decoder_positions   packing (optional)
      decoder_causal_attention  1 over the prompt, i.e. the inputs and the one position after
                                them, where the first target is predicted. Needed by
                                `predict_batch`, and by training with
                                `inputs_bidirectional_attention` (the prefix LM of Raffel et al.
                                2020, Sec. 3.2.1); otherwise attention is causal everywhere.
    """

    # seqio.DecoderFeatureConverter (t5x's choice) is this converter whenever tasks have inputs,
    # which every instruction task has; naming it directly gives the pipeline and the evaluator
    # their numpy layout (`features.layout_for`).
    FEATURE_CONVERTER_CLS = _SeqioFeatureConverter("PrefixLMFeatureConverter")

    def __init__(self, module: Decoder, vocabulary: seqio.Vocabulary, z_loss: float = 1e-4, label_smoothing: float = 0.0,
                 loss_normalizing_factor: Optional[float] = None, inputs_bidirectional_attention: bool = False):
        """
        Args:
          module: the network.
          vocabulary: the seqio vocabulary of inputs and targets (one, as t5x's DecoderOnlyModel).
          z_loss, label_smoothing, loss_normalizing_factor: see `BaseTransformerModel`.
          inputs_bidirectional_attention: the prompt attends bidirectionally (prefix LM), from
            `decoder_causal_attention`; False (the default, as Llama / Qwen2 were trained): causal.
        """
        check_vocabulary_sizes({"vocabulary": vocabulary}, module.config.vocab_size, "DecoderConfig")
        super().__init__(module, vocabulary, vocabulary, z_loss=z_loss, label_smoothing=label_smoothing,
                         loss_normalizing_factor=loss_normalizing_factor)
        self.inputs_bidirectional_attention = inputs_bidirectional_attention

    # --- Initialisation.
    def get_initial_variables(self, rng: jax.Array, input_shapes: Mapping[str, tuple],
                              input_types: Optional[Mapping[str, Any]] = None) -> PyTree:
        """{"params": boxed (nn.LogicallyPartitioned) tree} for batches of `input_shapes`."""
        if "decoder_input_tokens" not in input_shapes:
            raise KeyError(f"get_initial_variables: input_shapes lacks 'decoder_input_tokens'; got {sorted(input_shapes)}")
        dtype = (input_types or {}).get("decoder_input_tokens", jnp.int32)
        tokens = jnp.ones(input_shapes["decoder_input_tokens"], dtype)
        variables = self.module.init({"params": rng, "dropout": rng}, tokens, enable_dropout=False)
        return {"params": variables["params"]}

    # --- Training.
    def _causal_attention(self, batch: Batch) -> Optional[jax.Array]:
        if not self.inputs_bidirectional_attention:
            return None
        if "decoder_causal_attention" not in batch:
            raise KeyError(
                "inputs_bidirectional_attention needs the batch key 'decoder_causal_attention' (has "
                f"{sorted(batch)}): use tasks with 'inputs' and seqio.PrefixLMFeatureConverter"
            )
        return batch["decoder_causal_attention"]

    def _logits(self, params: PyTree, batch: Batch, dropout_rng: Optional[jax.Array]) -> jax.Array:
        missing = [k for k in ("decoder_input_tokens", "decoder_target_tokens") if k not in batch]
        if missing:
            raise KeyError(f"batch lacks {missing} (has {sorted(batch)}): use seqio.PrefixLMFeatureConverter")
        rngs = {"dropout": dropout_rng} if dropout_rng is not None else None
        return self.module.apply(
            {"params": params}, batch["decoder_input_tokens"], batch.get("decoder_segment_ids"),
            batch.get("decoder_positions"), self._causal_attention(batch), enable_dropout=dropout_rng is not None,
            rngs=rngs,
        )

    # --- Evaluation.
    def _prompted_step_fn(self, params: PyTree, last_prompt_tokens: jax.Array, budgets: jax.Array, eos_id: int):
        """`decoding`'s one-token step, continuing each row's prompt.

        The state is {"cache", "step"}. `decoding` feeds T5's start token 0 at step 0: a prompted
        row reads its last prompt token there instead (its logits give the first prediction).
        A row whose cache is full (step == its budget) is given EOS, which ends it; the token is
        cut from the output.
        """

        def tokens_to_logits(tokens, state):
            step = state["step"]
            tokens = jnp.where(step == 0, last_prompt_tokens[:, None], tokens)
            logits, mutated = self.module.apply(
                {"params": params, "cache": state["cache"]}, tokens, enable_dropout=False, decode=True, mutable=["cache"],
            )
            logits = logits[:, -1, :]
            eos_only = jnp.where(jnp.arange(logits.shape[-1]) == eos_id, 0.0, decoding.NEG_INF)
            logits = jnp.where((step >= budgets)[:, None], eos_only, logits)
            return logits, {"cache": mutated["cache"], "step": step + 1}

        return tokens_to_logits

    def predict_batch(self, params: PyTree, batch: Batch, rng: Optional[jax.Array] = None, *,
                      method: decoding.DecodeMethod = "greedy", num_beams: int = 4, alpha: float = 0.6, temperature: float = 1.0, top_k: int = 0) -> jax.Array:
        """int32 [batch, length] continuations of each row's prompt (t5x's layout, prefix removed).

        The prompt of a row is its `decoder_input_tokens` where `decoder_causal_attention` is 1
        (P tokens, from the row's start: rows are not packed, as for t5x's predict_batch). It is run once to fill the key/value cache (prefill), then tokens are decoded
        one at a time from position P - 1 on, until EOS or the end of the row: at most
        length - P + 1 tokens (the cache holds `length` positions).

        Args:
          params: plain parameter tree.
          batch: needs "decoder_input_tokens" and "decoder_causal_attention".
          rng, method, num_beams, alpha, temperature, top_k: as EncoderDecoderModel.predict_batch.
        Returns:
          tokens, column 0 being the first predicted one, EOS kept, zeros after it.
        """
        decoding.check_method(method, "predict_batch(method)")
        if "decoder_causal_attention" not in batch:
            raise KeyError(
                f"predict_batch needs 'decoder_causal_attention' to find each row's prompt (batch has {sorted(batch)}): "
                "convert tasks with 'inputs' using seqio.PrefixLMFeatureConverter"
            )
        eos_id = self.output_vocabulary.eos_id
        if eos_id is None:
            raise ValueError("predict_batch needs an EOS id: the model's vocabulary has none (give the tokenizer an eos_token)")
        tokens = jnp.asarray(batch["decoder_input_tokens"], jnp.int32)
        in_prompt = jnp.asarray(batch["decoder_causal_attention"]) > 0
        batch_size, length = tokens.shape
        prompt = jnp.where(in_prompt, tokens, 0)
        prompt_lengths = jnp.maximum(jnp.sum(in_prompt, axis=1), 1).astype(jnp.int32)
        _, variables = self.module.apply(
            {"params": params}, prompt,
            decoder_causal_attention=in_prompt.astype(jnp.int32) if self.inputs_bidirectional_attention else None,
            enable_dropout=False, prefill=True, prefill_lengths=prompt_lengths, mutable=["cache"],
        )
        last_prompt_tokens = jnp.take_along_axis(prompt, prompt_lengths[:, None] - 1, axis=1)[:, 0]
        budgets = length - prompt_lengths + 1
        rows = num_beams if method == "beam_search" else 1
        # Beam j of example b is row b * rows + j, as decoding.beam_search lays its cache out.
        per_row = lambda x: jnp.repeat(x, rows, axis=0)  # noqa: E731
        state = {"cache": jax.tree_util.tree_map(per_row, variables["cache"]), "step": jnp.zeros((), jnp.int32)}
        step_fn = self._prompted_step_fn(params, per_row(last_prompt_tokens), per_row(budgets), eos_id)
        if method == "beam_search":
            seqs, _ = decoding.beam_search(step_fn, state, batch_size=batch_size, beam_size=num_beams,
                                           max_decode_length=length, eos_id=eos_id, alpha=alpha)
            seqs = seqs[:, 0, :]
        else:
            seqs = decoding.temperature_sample(
                step_fn, state, batch_size=batch_size, max_decode_length=length, eos_id=eos_id, rng=rng,
                temperature=0.0 if method == "greedy" else temperature, top_k=top_k,
            )
        return jnp.where(jnp.arange(length)[None, :] < budgets[:, None], seqs, 0)
