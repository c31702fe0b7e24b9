"""The decoder-only network: config checks, rotary math, masks (packing, prefix LM), the key/value
cache against the full forward pass, logical axes under the fsdp and model-parallel rules, dtypes."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import decoder_setup
from flan_jax.models import decoder
from flan_jax.train import partitioning

CONFIG = decoder_setup.CONFIG


@functools.lru_cache(maxsize=None)
def _jitted(module):
    """module.apply compiled (eager flax dispatches every op on its own: slow on a loaded CPU)."""
    return jax.jit(module.apply, static_argnames=("enable_dropout", "prefill", "decode", "mutable", "capture_intermediates"))


def _repeated_heads_attention(query, key, value, mask):
    """Hugging Face's eager attention: keys and values repeated per query head, softmax, product."""
    groups = query.shape[2] // key.shape[1]
    key, value = (jnp.repeat(x, groups, axis=1) for x in (key, value))  # [batch, heads, k, head_dim]
    logits = jnp.einsum("bqhd,bhkd->bhqk", query, key) + jnp.where(mask, 0.0, -1e10)
    return jnp.einsum("bhqk,bhkd->bqhd", jax.nn.softmax(logits, axis=-1), value)


@pytest.mark.parametrize("attention", [decoder.dot_product_attention, decoder.causal_attention])
def test_grouped_attention_and_its_gradients_equal_repeated_heads(attention):
    rng = np.random.default_rng(0)
    batch, length, heads, kv_heads, head_dim = 2, 7, 6, 2, 4
    query = jnp.asarray(rng.normal(size=(batch, length, heads, head_dim)), jnp.float32)
    key, value = (jnp.asarray(rng.normal(size=(batch, kv_heads, length, head_dim)), jnp.float32) for _ in range(2))
    segments = jnp.asarray([[1, 1, 1, 2, 2, 2, 0], [1, 1, 1, 1, 1, 1, 1]])
    mask = decoder.decoder_attention_mask(length, segments)
    cotangent = jnp.asarray(rng.normal(size=query.shape), jnp.float32)

    def loss(fn):
        return lambda *args: jnp.sum(fn(*args, mask) * cotangent)

    ours = jax.value_and_grad(loss(lambda q, k, v, m: attention(q, k, v, m, jnp.float32)), argnums=(0, 1, 2))
    expected = jax.value_and_grad(loss(_repeated_heads_attention), argnums=(0, 1, 2))
    for got, want in zip(jax.tree.leaves(ours(query, key, value)), jax.tree.leaves(expected(query, key, value))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def network():
    module = decoder.Decoder(CONFIG)
    return module, decoder_setup.abstract_params(module), decoder_setup.random_params(module)


def _logits(module, params, tokens, **kwargs):
    return np.asarray(_jitted(module)({"params": params}, jnp.asarray(tokens), enable_dropout=False, **kwargs))


@pytest.mark.parametrize("overrides, message", [
    ({"num_kv_heads": 3}, "num_kv_heads .3. must divide num_heads .4."),
    ({"head_dim": 7}, "head_dim must be even"),
    ({"num_layers": 0}, "num_layers must be a positive integer"),
    ({"dtype": "float16"}, "dtype must be 'float32' or 'bfloat16'"),
    ({"rope_scaling": {"factor": 8.0}}, "rope_scaling must be a Llama3RopeScaling"),
])
def test_config_errors_name_the_field(overrides, message):
    fields = {**CONFIG.__dict__, **overrides}
    with pytest.raises(ValueError, match=message):
        decoder.DecoderConfig(**fields)


def test_rotary_logits_depend_only_on_relative_position():
    rng = np.random.default_rng(0)
    q, k = (jnp.asarray(rng.normal(size=(1, 1, 1, 8)), jnp.float32) for _ in range(2))
    inv_freq = decoder.rope_inverse_frequencies(8, 100.0)

    def rotate(x, position):
        return decoder.apply_rope(x, *decoder.rotary_tables(jnp.array([[position]]), inv_freq, jnp.float32))

    def score(m, n):
        return float(jnp.sum(rotate(q, m) * rotate(k, n)))

    assert score(5, 2) == pytest.approx(score(13, 10), rel=1e-5)
    assert score(5, 2) != pytest.approx(score(5, 3), rel=1e-3)
    # Rotation keeps norms.
    np.testing.assert_allclose(jnp.linalg.norm(rotate(q, 7)), jnp.linalg.norm(q), rtol=1e-6)


def test_llama3_scaling_keeps_high_and_divides_low_frequencies():
    scaling = decoder.Llama3RopeScaling(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=64)
    plain = decoder.rope_inverse_frequencies(32, 10000.0)
    scaled = decoder.rope_inverse_frequencies(32, 10000.0, scaling)
    wavelength = 2 * np.pi / plain
    short, long = wavelength < 64 / 4, wavelength > 64 / 1
    assert short.any() and long.any() and (~short & ~long).any()
    np.testing.assert_array_equal(scaled[short], plain[short])
    np.testing.assert_allclose(scaled[long], plain[long] / 8.0, rtol=1e-6)
    between = ~short & ~long
    assert np.all((scaled[between] < plain[between]) & (scaled[between] > plain[between] / 8.0))


def test_every_parameter_shards_under_fsdp_and_model_parallel_rules(network):
    _, abstract, _ = network
    partitioner = partitioning.Partitioner(num_partitions=2, logical_axis_rules=partitioning.standard_logical_axis_rules(fsdp=True))
    logical, mesh_specs = partitioner.param_specs(abstract)
    assert all(len(spec) == np.ndim(x) for spec, x in zip(
        jax.tree.leaves(logical, is_leaf=lambda s: isinstance(s, P)), jax.tree.leaves(nn.meta.unbox(abstract))))
    attention = mesh_specs["layers_0"]["attention"]
    assert attention["query"]["kernel"] == P("data", "model", None)
    assert attention["key"]["bias"] == P("model", None)
    assert attention["out"]["kernel"] == P("model", None, "data")
    assert mesh_specs["layers_1"]["mlp"]["wo"]["kernel"] == P("model", "data")
    assert mesh_specs["token_embedder"]["embedding"] == P("model", "data")
    assert mesh_specs["logits_dense"]["kernel"] == P("data", "model")


def test_packed_segments_equal_separate_rows(network):
    module, _, params = network
    rng = np.random.default_rng(2)
    first, second = rng.integers(0, 64, 5), rng.integers(0, 64, 6)  # id 0 included: it is no padding
    packed = np.concatenate([first, second, [0, 0, 0]])[None]
    segments = np.array([[1] * 5 + [2] * 6 + [0] * 3])
    positions = np.array([list(range(5)) + list(range(6)) + [0] * 3])
    logits = _logits(module, params, packed, decoder_segment_ids=segments, decoder_positions=positions)
    np.testing.assert_allclose(logits[0, :5], _logits(module, params, first[None])[0], atol=1e-5)
    np.testing.assert_allclose(logits[0, 5:11], _logits(module, params, second[None])[0], atol=1e-5)


def test_prefix_attends_bidirectionally_only_with_causal_attention(network):
    module, _, params = network
    tokens = np.array([[5, 9, 2, 7, 3, 8, 1, 4]])
    prefix = np.array([[1, 1, 1, 1, 0, 0, 0, 0]])
    changed_in_prefix, changed_after = tokens.copy(), tokens.copy()
    changed_in_prefix[0, 3] = 11
    changed_after[0, 6] = 11
    for causal_attention, prefix_visible in ((prefix, True), (None, False)):
        kwargs = {"decoder_causal_attention": causal_attention}
        base = _logits(module, params, tokens, **kwargs)
        # Position 1 sees the prefix's position 3 only in the prefix LM; never position 6.
        assert np.allclose(base[0, 1], _logits(module, params, changed_in_prefix, **kwargs)[0, 1]) != prefix_visible
        np.testing.assert_allclose(base[0, :6], _logits(module, params, changed_after, **kwargs)[0, :6], atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_prefill_then_decode_equals_the_full_forward_pass(network, bidirectional):
    """Rows with prompts of 2, 4 and 6 tokens, continued one token per call from their own position."""
    module, _, params = network
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 64, (3, 10))
    prompt_lengths = np.array([2, 4, 6])
    in_prompt = (np.arange(10)[None] < prompt_lengths[:, None]).astype(np.int32)
    causal_attention = in_prompt if bidirectional else None
    full = _logits(module, params, tokens, decoder_causal_attention=causal_attention)

    _, variables = _jitted(module)({"params": params}, jnp.asarray(tokens * in_prompt), decoder_causal_attention=causal_attention,
                                enable_dropout=False, prefill=True, prefill_lengths=jnp.asarray(prompt_lengths), mutable=("cache",))
    cache = variables["cache"]
    step = jax.jit(lambda cache, token: module.apply({"params": params, "cache": cache}, token, enable_dropout=False,
                                                      decode=True, mutable=["cache"]))
    for t in range(5):
        positions = prompt_lengths - 1 + t  # the first step reads the prompt's last token again
        logits, mutated = step(cache, jnp.asarray(tokens[np.arange(3), positions])[:, None])
        cache = mutated["cache"]
        np.testing.assert_allclose(np.asarray(logits)[:, 0], full[np.arange(3), positions], atol=2e-5)


def test_decode_without_prefill_is_a_clear_error(network):
    module, _, params = network
    with pytest.raises(ValueError, match="prefill=True first"):
        _jitted(module)({"params": params}, jnp.ones((2, 1), jnp.int32), enable_dropout=False, decode=True, mutable=("cache",))


def test_tied_embeddings_project_with_the_embedding():
    config = decoder.DecoderConfig(**{**CONFIG.__dict__, "tie_word_embeddings": True, "num_layers": 1})
    module = decoder.Decoder(config)
    params = decoder_setup.random_params(module)
    assert "logits_dense" not in params
    tokens = jnp.array([[3, 1, 4, 1]])
    logits, captured = _jitted(module)({"params": params}, tokens, enable_dropout=False, capture_intermediates=True,
                                       mutable=("intermediates",))
    hidden = captured["intermediates"]["decoder_norm"]["__call__"][0]
    np.testing.assert_allclose(logits, hidden @ params["token_embedder"]["embedding"].T, rtol=1e-5, atol=1e-5)


def test_bfloat16_activations_track_float32(network):
    module, _, params = network
    tokens = np.random.default_rng(4).integers(0, 64, (2, 8))
    module16 = decoder.Decoder(decoder.DecoderConfig(**{**CONFIG.__dict__, "dtype": "bfloat16"}))
    logits32 = _logits(module, params, tokens)
    logits16 = _logits(module16, params, tokens)
    assert logits16.dtype == np.float32
    np.testing.assert_allclose(logits16, logits32, atol=0.1)
    assert np.mean(np.argmax(logits16, -1) == np.argmax(logits32, -1)) > 0.8


def test_dropout_only_when_enabled(network):
    _, _, params = network
    module = decoder.Decoder(decoder.DecoderConfig(**{**CONFIG.__dict__, "dropout_rate": 0.5}))
    tokens = jnp.ones((1, 6), jnp.int32)
    apply = lambda seed, enable: _jitted(module)({"params": params}, tokens, enable_dropout=enable,  # noqa: E731
                                                 rngs={"dropout": jax.random.PRNGKey(seed)})
    np.testing.assert_array_equal(apply(0, False), apply(1, False))
    assert not np.allclose(apply(0, True), apply(1, True))
