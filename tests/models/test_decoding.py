"""Decoding: the cached loop against uncached argmax, beam 1 and cold sampling against greedy,
beam scores against uncached likelihoods (shared cross-attention cache), EOS."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flan_jax.data import vocabularies
from flan_jax.models import decoding, model, t5

CONFIG = t5.T5Config(vocab_size=260, emb_dim=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=2, head_dim=4, mlp_dim=24,
                     relative_attention_num_buckets=8, relative_attention_max_distance=8)
DECODE_LEN = 9
EOS = 1


@pytest.fixture(scope="module")
def setup():
    vocabulary = vocabularies.byte_vocabulary()
    m = model.EncoderDecoderModel(t5.Transformer(CONFIG), vocabulary, vocabulary)
    shapes = {"encoder_input_tokens": (3, 7), "decoder_input_tokens": (3, DECODE_LEN)}
    params = nn.meta.unbox(m.get_initial_variables(jax.random.PRNGKey(3), shapes)["params"])
    rng = np.random.RandomState(0)
    enc = rng.randint(3, 259, (3, 7)).astype(np.int32)
    enc[2, 4:] = 0
    batch = {"encoder_input_tokens": enc, "decoder_input_tokens": np.zeros((3, DECODE_LEN), np.int32)}
    predict = jax.jit(m.predict_batch, static_argnames=("method", "num_beams", "alpha", "temperature", "top_k"))
    greedy = np.asarray(predict(params, batch))
    return m, params, batch, predict, greedy


def _uncached_greedy(m, params, enc):
    batch_size = enc.shape[0]
    out = np.zeros((batch_size, DECODE_LEN), np.int32)
    done = np.zeros(batch_size, bool)
    ones = np.ones((batch_size, DECODE_LEN), np.int32)
    for i in range(DECODE_LEN):
        dec_in = np.concatenate([np.zeros((batch_size, 1), np.int32), out[:, :-1]], 1)
        logits = m.module.apply({"params": params}, enc, dec_in, ones, enable_dropout=False)
        chosen = np.where(done, 0, np.asarray(logits[:, i].argmax(-1)))
        out[:, i] = chosen
        done |= chosen == EOS
    return out


def test_cached_greedy_equals_uncached_argmax(setup):
    m, params, batch, _, greedy = setup
    assert greedy.shape == (3, DECODE_LEN) and greedy.dtype == np.int32
    np.testing.assert_array_equal(greedy, _uncached_greedy(m, params, batch["encoder_input_tokens"]))
    assert len(set(map(tuple, greedy))) > 1  # rows differ: the encoder output reaches the decoder


def test_beam_of_one_equals_greedy(setup):
    _, params, batch, predict, greedy = setup
    np.testing.assert_array_equal(np.asarray(predict(params, batch, method="beam_search", num_beams=1, alpha=0.0)), greedy)


def test_cold_or_top1_sampling_equals_greedy(setup):
    _, params, batch, predict, greedy = setup
    rng = jax.random.PRNGKey(5)
    np.testing.assert_array_equal(np.asarray(predict(params, batch, rng, method="sample", temperature=1e-4)), greedy)
    np.testing.assert_array_equal(np.asarray(predict(params, batch, rng, method="sample", temperature=1.0, top_k=1)), greedy)
    hot = np.asarray(predict(params, batch, rng, method="sample", temperature=3.0))
    assert not np.array_equal(hot, greedy)


def test_beam_search_scores_at_least_greedy(setup):
    """With alpha 0 the best beam's log-likelihood is >= the greedy sequence's."""
    m, params, batch, predict, greedy = setup
    beams = np.asarray(predict(params, batch, method="beam_search", num_beams=4, alpha=0.0))

    def loglik(tokens):
        # Score the whole decode window (tokens after EOS are 0, each scored as a position).
        dec_in = np.concatenate([np.zeros((3, 1), np.int32), tokens[:, :-1]], 1)
        length = np.where((tokens == EOS).any(1), (tokens == EOS).argmax(1) + 1, DECODE_LEN)
        weights = (np.arange(DECODE_LEN)[None] < length[:, None]).astype(np.float32)
        b = {"encoder_input_tokens": batch["encoder_input_tokens"], "decoder_input_tokens": dec_in,
             "decoder_target_tokens": np.where(weights > 0, tokens, 0), "decoder_loss_weights": weights}
        return np.asarray(m.score_batch(params, b))

    assert np.all(loglik(beams) >= loglik(greedy) - 1e-4)


def _log_likelihood(m, params, encoder_tokens, tokens):
    """Uncached summed log-likelihood of `tokens` up to and including EOS, and that length."""
    rows, length = tokens.shape
    dec_in = np.concatenate([np.zeros((rows, 1), np.int32), tokens[:, :-1]], 1)
    ends = np.where((tokens == EOS).any(1), (tokens == EOS).argmax(1) + 1, length)
    weights = (np.arange(length)[None] < ends[:, None]).astype(np.float32)
    b = {"encoder_input_tokens": encoder_tokens, "decoder_input_tokens": dec_in,
         "decoder_target_tokens": np.where(weights > 0, tokens, 0), "decoder_loss_weights": weights}
    return np.asarray(m.score_batch(params, b)), ends


def test_beam_search_shares_cross_attention_cache_and_scores_true_likelihood(setup):
    """Beams share one copy of each example's encoder keys/values (only the self-attention
    caches have a row per beam), and every returned beam's score is its uncached
    log-likelihood over the length penalty: a beam reordered without its cache would not be."""
    m, params, batch, predict, _ = setup
    beams, alpha = 3, 0.6
    encoder_tokens = batch["encoder_input_tokens"]
    encoded = m.module.apply({"params": params}, encoder_tokens, enable_dropout=False, method=t5.Transformer.encode)
    cache = m._initial_cache(params, encoded, encoder_tokens, DECODE_LEN, beams=beams)
    rows = {"/".join(str(getattr(k, "key", k)) for k in path): leaf.shape[0]
            for path, leaf in jax.tree_util.tree_flatten_with_path(cache)[0] if leaf.ndim > 1}
    cross = {k: v for k, v in rows.items() if "encoder_decoder_attention" in k}
    assert cross and set(cross.values()) == {3}, rows  # one row per example
    assert {v for k, v in rows.items() if k not in cross} == {3 * beams}, rows

    seqs, scores = jax.jit(lambda cache: decoding.beam_search(
        m._decode_step_fn(params, encoded, encoder_tokens), cache, batch_size=3, beam_size=beams,
        max_decode_length=DECODE_LEN, eos_id=EOS, alpha=alpha))(cache)
    seqs, scores = np.asarray(seqs), np.asarray(scores)
    np.testing.assert_array_equal(np.asarray(predict(params, batch, method="beam_search", num_beams=beams, alpha=alpha)), seqs[:, 0])
    for j in range(beams):
        loglik, length = _log_likelihood(m, params, encoder_tokens, seqs[:, j])
        np.testing.assert_allclose(scores[:, j], loglik / np.asarray(decoding.length_penalty(length, alpha)), rtol=1e-4, atol=1e-4)


def _scripted_step(script: np.ndarray, rows_per_example: int):
    """tokens_to_logits that emits script[example, step] (one-hot, logit 10) at every step."""
    table = jnp.asarray(script)

    def step(tokens, cache):
        example = jnp.arange(tokens.shape[0]) // rows_per_example
        wanted = table[example, cache["step"]]
        return 10.0 * jax.nn.one_hot(wanted, 20), {"step": cache["step"] + 1}

    return step


def test_eos_ends_each_row_with_zeros_after():
    script = np.array([[5, 6, EOS, 7, 8, 9], [5, 6, 7, 8, EOS, 9], [4, 4, 4, 4, 4, 4]], np.int32)
    expected = np.array([[5, 6, EOS, 0, 0, 0], [5, 6, 7, 8, EOS, 0], [4, 4, 4, 4, 4, 4]], np.int32)
    cache = {"step": jnp.array(0, jnp.int32)}
    for kwargs in ({"temperature": 0.0}, {"temperature": 1.0, "top_k": 1, "rng": jax.random.PRNGKey(0)}):
        out = decoding.temperature_sample(_scripted_step(script, 1), cache, batch_size=3, max_decode_length=6, eos_id=EOS, **kwargs)
        np.testing.assert_array_equal(np.asarray(out), expected)
    seqs, scores = decoding.beam_search(_scripted_step(script, 2), cache, batch_size=3, beam_size=2,
                                        max_decode_length=6, eos_id=EOS, alpha=0.6)
    np.testing.assert_array_equal(np.asarray(seqs[:, 0]), expected)
    assert np.all(np.asarray(scores[:, 0]) >= np.asarray(scores[:, 1]))


def test_temperature_sampling_needs_rng():
    with pytest.raises(ValueError, match="rng"):
        decoding.temperature_sample(lambda t, c: (jnp.zeros((1, 4)), c), None, batch_size=1, max_decode_length=2,
                                    eos_id=1, rng=None, temperature=1.0)


def test_length_penalty_matches_t5x():
    np.testing.assert_allclose(decoding.length_penalty(jnp.float32(7), 0.6), (12 / 6) ** 0.6, rtol=1e-6)
    assert float(decoding.length_penalty(jnp.float32(30), 0.0)) == 1.0


def test_decode_loop_stops_early_at_eos():
    """A step function that says EOS at once is called once, not max_decode_length times."""
    calls = []

    def step(tokens, cache):
        jax.debug.callback(lambda: calls.append(1))
        return jnp.zeros((2, 5)).at[:, EOS].set(10.0), cache

    out = decoding.temperature_sample(step, jnp.zeros(()), batch_size=2, max_decode_length=6, eos_id=EOS, temperature=0.0)
    np.testing.assert_array_equal(np.asarray(out), [[1, 0, 0, 0, 0, 0]] * 2)
    assert len(calls) == 1
