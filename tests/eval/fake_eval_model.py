"""A deterministic stand-in for EncoderDecoderModel (jit-traceable), to test the evaluator's plumbing.

`predict_batch` echoes the last tokens of each input (before EOS), so a prompt ending in its
answer is "answered"; `score_batch` is the sum of the target ids, so the option with the
largest bytes wins ("(D)" over "(A)").
"""
import jax.numpy as jnp
import seqio

from flan_jax.data import vocabularies


class EchoModel:
    FEATURE_CONVERTER_CLS = seqio.EncDecFeatureConverter

    def __init__(self):
        self.input_vocabulary = vocabularies.byte_vocabulary()
        self.output_vocabulary = self.input_vocabulary
        self.predict_calls = 0

    def predict_batch(self, params, batch, rng=None, *, method="greedy", num_beams=4, alpha=0.6,
                      temperature=1.0, top_k=0):
        del rng, method, num_beams, alpha, temperature, top_k
        self.predict_calls += 1  # counts traces: jit calls the Python function once per compile
        inputs = batch["encoder_input_tokens"]
        decode_len = batch["decoder_input_tokens"].shape[1]
        lengths = jnp.sum(inputs > 0, axis=1, keepdims=True)  # EOS included
        positions = lengths - 1 - decode_len + jnp.arange(decode_len)[None, :]
        tail = jnp.take_along_axis(inputs, jnp.clip(positions, 0, inputs.shape[1] - 1), axis=1)
        return jnp.where(positions >= 0, tail, 32 + params["offset"]).astype(jnp.int32)  # 32 + 3 = " "

    def score_batch(self, params, batch):
        del params
        return jnp.sum(batch["decoder_target_tokens"] * batch["decoder_loss_weights"], axis=1).astype(jnp.float32)


PARAMS = {"offset": jnp.int32(0)}
