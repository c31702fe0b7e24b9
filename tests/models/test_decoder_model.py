"""DecoderOnlyModel: loss and scores over t5x's decoder-only batch keys, the layout seqio's
PrefixLMFeatureConverter produces (packed and not), prompted decoding against a cache-free
reference, and the errors of bad batches and vocabularies."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import seqio
import tensorflow as tf

import decoder_setup
from flan_jax.data import features
from flan_jax.models import decoder, losses, model

EOS = 1
VOCABULARY = seqio.PassThroughVocabulary(size=decoder_setup.CONFIG.vocab_size, eos_id=EOS)


def _model(**kwargs) -> model.DecoderOnlyModel:
    return model.DecoderOnlyModel(decoder.Decoder(decoder_setup.CONFIG), VOCABULARY, **kwargs)


@pytest.fixture(scope="module")
def params():
    return decoder_setup.random_params(decoder.Decoder(decoder_setup.CONFIG), seed=1)


# Two prefix-LM examples: inputs then targets (token ids; 1 is EOS).
EXAMPLES = [{"inputs": [9, 4, 6, 1], "targets": [3, 9, 1]}, {"inputs": [8, 4, 9, 3, 1], "targets": [4, 1]}]


def _converted(pack: bool, lengths=None) -> dict[str, np.ndarray]:
    """seqio.PrefixLMFeatureConverter's batch of EXAMPLES (t5x's decoder-only layout)."""
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(EXAMPLES), output_signature={k: tf.TensorSpec([None], tf.int32) for k in ("inputs", "targets")})
    converter = seqio.PrefixLMFeatureConverter(pack=pack)
    converted = converter(dataset, lengths or {"inputs": 7, "targets": 8})
    rows = list(converted.as_numpy_iterator())
    return {key: np.stack([row[key] for row in rows]) for key in rows[0]}


def test_prefix_lm_converter_layout_is_what_the_model_reads():
    """The unpacked converter output, written out by hand as t5x documents it."""
    batch = _converted(pack=False)
    expected = {
        "decoder_target_tokens": [[9, 4, 6, 1, 3, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0], [8, 4, 9, 3, 1, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]],
        "decoder_input_tokens": [[0, 9, 4, 6, 1, 3, 9, 1, 0, 0, 0, 0, 0, 0, 0], [0, 8, 4, 9, 3, 1, 4, 1, 0, 0, 0, 0, 0, 0, 0]],
        "decoder_loss_weights": [[0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]],
        "decoder_causal_attention": [[1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    }
    assert sorted(batch) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(batch[key], value, err_msg=key)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_converter_rows_score_as_their_examples(params, bidirectional):
    """A packed row scores the sum of its examples' unpacked scores: segments and positions
    keep the examples apart, as does the prefix mask of each."""
    m = _model(inputs_bidirectional_attention=bidirectional)
    unpacked = _converted(pack=False, lengths={"inputs": 7, "targets": 8})
    packed = _converted(pack=True, lengths={"inputs": 7, "targets": 8})
    assert packed["decoder_input_tokens"].shape == (1, 15)
    np.testing.assert_array_equal(packed["decoder_segment_ids"][0, :14], [1] * 7 + [2] * 7)
    score = jax.jit(m.score_batch)
    np.testing.assert_allclose(score(params, packed), [score(params, unpacked).sum()], rtol=1e-5)


def test_loss_and_scores_use_the_loss_weights(params):
    m = _model()
    batch = _converted(pack=False)
    loss, aux = jax.jit(m.loss_fn)(params, batch, None)
    logits = jax.jit(m._logits)(params, batch, None)
    expected = losses.weighted_token_losses(logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"], z_loss=1e-4)
    assert float(aux["weight_sum"]) == 5.0  # the targets only: loss_on_targets_only
    np.testing.assert_allclose(float(aux["cross_entropy_sum"]), float(expected["cross_entropy_sum"]), rtol=1e-5)
    np.testing.assert_allclose(float(loss), (float(aux["cross_entropy_sum"]) + float(aux["z_loss_sum"])) / 5.0, rtol=1e-5)
    token_scores = losses.token_log_likelihoods(logits, batch["decoder_target_tokens"]) * batch["decoder_loss_weights"]
    np.testing.assert_allclose(jax.jit(m.score_batch)(params, batch), token_scores.sum(-1), rtol=1e-5)
    # The inputs count only when the weights say so.
    everything = dict(batch, decoder_loss_weights=(batch["decoder_target_tokens"] > 0).astype(np.int32))
    assert float(jax.jit(m.loss_fn)(params, everything, None)[1]["weight_sum"]) == 14.0


def _greedy_without_cache(m, params, prompt: np.ndarray, length: int) -> list[int]:
    """The reference: rerun the whole row for every new token and take the argmax after the
    last one (the row is right-padded to `length`, so one compilation serves every step)."""
    apply = jax.jit(m.module.apply, static_argnames="enable_dropout")
    kwargs = {}
    if m.inputs_bidirectional_attention:
        kwargs["decoder_causal_attention"] = jnp.asarray([np.arange(length) < len(prompt)], jnp.int32)
    row = np.zeros((1, length), np.int32)
    row[0, :len(prompt)] = prompt
    predictions = []
    for position in range(len(prompt) - 1, length):
        predictions.append(int(np.argmax(apply({"params": params}, jnp.asarray(row), enable_dropout=False, **kwargs)[0, position])))
        if predictions[-1] == EOS or position + 1 == length:
            break
        row[0, position + 1] = predictions[-1]
    return predictions


@pytest.mark.parametrize("bidirectional", [False, True])
def test_greedy_continues_each_prompt_as_a_cache_free_loop(params, bidirectional):
    m = _model(inputs_bidirectional_attention=bidirectional)
    rng = np.random.default_rng(5)
    length, prompt_lengths = 10, [2, 5, 10]  # the last row's cache has room for one token
    tokens = rng.integers(2, 64, (3, length)).astype(np.int32)  # after the prompts: targets the model must not see
    causal_attention = (np.arange(length)[None] < np.array(prompt_lengths)[:, None]).astype(np.int32)
    predict = jax.jit(functools.partial(m.predict_batch, method="greedy"))
    out = np.asarray(predict(params, {"decoder_input_tokens": tokens, "decoder_causal_attention": causal_attention}))
    assert out.shape == (3, length)
    for row, prompt_length in enumerate(prompt_lengths):
        expected = _greedy_without_cache(m, params, tokens[row, :prompt_length], length)
        np.testing.assert_array_equal(out[row, :len(expected)], expected, err_msg=f"row {row}")
        assert not out[row, len(expected):].any()
    # Other tokens after the prompts change nothing: only the prompts are read.
    tokens[:2, 6:] = 0
    again = predict(params, {"decoder_input_tokens": tokens, "decoder_causal_attention": causal_attention})
    np.testing.assert_array_equal(np.asarray(again), out)


def test_top1_sampling_is_greedy_and_beam_search_decodes_prompts(params):
    m = _model()
    batch = _converted(pack=False)
    predict = jax.jit(m.predict_batch, static_argnames=("method", "num_beams", "alpha", "temperature", "top_k"))
    greedy = np.asarray(predict(params, batch, method="greedy"))
    top1 = np.asarray(predict(params, batch, jax.random.PRNGKey(0), method="sample", top_k=1))
    np.testing.assert_array_equal(top1, greedy)
    beams = np.asarray(predict(params, batch, method="beam_search", num_beams=3, alpha=0.0))
    assert beams.shape == greedy.shape and beams.min() >= 0 and beams.max() < 64
    # Row 0's prompt is 5 tokens of 15: at most 11 predictions.
    assert not greedy[0, 11:].any() and not beams[0, 11:].any()


def test_bad_batches_and_vocabularies_are_named(params):
    batch = _converted(pack=False)
    del batch["decoder_causal_attention"]
    with pytest.raises(KeyError, match="decoder_causal_attention"):
        _model().predict_batch(params, batch)
    with pytest.raises(KeyError, match="decoder_causal_attention"):
        _model(inputs_bidirectional_attention=True).loss_fn(params, batch, None)
    with pytest.raises(KeyError, match="decoder_target_tokens"):
        _model().loss_fn(params, {"decoder_input_tokens": batch["decoder_input_tokens"]}, None)
    with pytest.raises(ValueError, match="vocabulary has 300 ids but DecoderConfig.vocab_size is 64"):
        model.DecoderOnlyModel(decoder.Decoder(decoder_setup.CONFIG), seqio.PassThroughVocabulary(size=300, eos_id=1))


def test_initial_variables_and_feature_converter():
    m = _model()
    assert m.FEATURE_CONVERTER_CLS is seqio.PrefixLMFeatureConverter
    assert features.layout_for(m.FEATURE_CONVERTER_CLS(pack=True)) is features.PREFIX_LM
    assert m.input_vocabulary is m.output_vocabulary is VOCABULARY
    abstract = jax.eval_shape(lambda: m.get_initial_variables(jax.random.PRNGKey(0), {"decoder_input_tokens": (2, 8)}))
    assert set(abstract) == {"params"} and "layers_1" in abstract["params"]
    with pytest.raises(KeyError, match="decoder_input_tokens"):
        m.get_initial_variables(jax.random.PRNGKey(0), {"encoder_input_tokens": (2, 8)})
