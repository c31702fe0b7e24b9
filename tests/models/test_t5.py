"""The T5 v1.1 network: norm and bucket math, packing masks, logical axes, dtypes, dropout."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flan_jax.models import t5

CONFIG = t5.T5Config(
    vocab_size=64, emb_dim=16, num_heads=2, num_encoder_layers=2, num_decoder_layers=2, head_dim=4, mlp_dim=24,
    relative_attention_num_buckets=8, relative_attention_max_distance=16,
)


@pytest.fixture(scope="module")
def network():
    module = t5.Transformer(CONFIG)
    tokens = jnp.ones((1, 8), jnp.int32)
    boxed = module.init(jax.random.PRNGKey(0), tokens, tokens, tokens, enable_dropout=False)["params"]
    return module, boxed, nn.meta.unbox(boxed)


def test_rms_norm_matches_numpy():
    x = np.random.RandomState(0).normal(size=(2, 3, 5)).astype(np.float32)
    scale = np.linspace(0.5, 1.5, 5).astype(np.float32)
    expected = x / np.sqrt(np.mean(x**2, -1, keepdims=True) + 1e-6) * scale
    np.testing.assert_allclose(t5.rms_norm(jnp.asarray(x), jnp.asarray(scale), 1e-6), expected, rtol=1e-5)
    # No mean subtraction: a constant vector keeps its sign and value up to scale.
    np.testing.assert_allclose(t5.rms_norm(jnp.full((4,), 3.0), jnp.ones(4), 0.0), np.ones(4), rtol=1e-6)


def test_add_shared_bias_gradients_match_plain_broadcast():
    """The hand-written backward (a product with ones) gives autodiff's gradients of x + bias."""
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(3, 2, 5, 7)), jnp.float32)
    bias = jnp.asarray(rng.normal(size=(1, 2, 5, 7)), jnp.float32)
    weights = jnp.asarray(rng.normal(size=(3, 2, 5, 7)), jnp.float32)

    def loss(add):
        return lambda x, b: jnp.sum(jnp.tanh(add(x, b)) * weights)

    ours = jax.grad(loss(t5.add_shared_bias), argnums=(0, 1))(logits, bias)
    plain = jax.grad(loss(jnp.add), argnums=(0, 1))(logits, bias)
    np.testing.assert_allclose(t5.add_shared_bias(logits, bias), logits + bias)
    for got, want in zip(ours, plain):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("input_shape, kernel_shape, contracted", [
    ((2, 5, 6), (6, 7), 1),        # Dense: the feed-forward and logits projections
    ((2, 5, 6), (6, 3, 4), 1),     # DenseGeneral to heads: query / key / value
    ((2, 5, 3, 4), (3, 4, 6), 2),  # DenseGeneral from heads: the attention output
])
def test_dense_dot_general_gradients_match_lax(input_shape, kernel_shape, contracted):
    """The projections' hand-written backward gives lax.dot_general's value and gradients."""
    rng = np.random.default_rng(1)
    inputs = jnp.asarray(rng.normal(size=input_shape), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=kernel_shape), jnp.float32)
    n = len(input_shape)
    dims = ((tuple(range(n - contracted, n)), tuple(range(contracted))), ((), ()))
    out_shape = input_shape[:-contracted] + kernel_shape[contracted:]
    weights = jnp.asarray(rng.normal(size=out_shape), jnp.float32)

    def loss(dot_general):
        return lambda x, w: jnp.sum(jnp.sin(dot_general(x, w, dims)) * weights)

    np.testing.assert_allclose(t5.dense_dot_general(inputs, kernel, dims), jax.lax.dot_general(inputs, kernel, dims),
                               rtol=1e-6, atol=1e-6)
    ours = jax.grad(loss(t5.dense_dot_general), argnums=(0, 1))(inputs, kernel)
    plain = jax.grad(loss(jax.lax.dot_general), argnums=(0, 1))(inputs, kernel)
    for got, want in zip(ours, plain):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dense_dot_general_sums_bfloat16_in_float32():
    rng = np.random.default_rng(2)
    inputs = jnp.asarray(rng.normal(size=(2, 3, 256)), jnp.bfloat16)
    kernel = jnp.asarray(rng.normal(size=(256, 5)), jnp.bfloat16)
    dims = (((2,), (0,)), ((), ()))
    out = t5.dense_dot_general(inputs, kernel, dims)
    exact = jnp.einsum("btd,df->btf", inputs.astype(jnp.float32), kernel.astype(jnp.float32))
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(out, exact.astype(jnp.bfloat16))


def test_dense_dot_general_rejects_other_contractions():
    x = jnp.ones((2, 3, 4))
    with pytest.raises(ValueError, match="trailing input axes"):
        t5.dense_dot_general(x, jnp.ones((3, 5)), (((1,), (0,)), ((), ())))


@pytest.mark.parametrize("relative, bidirectional, expected", [
    # bidirectional, 32 buckets -> 16 per direction, 8 exact, log-spaced up to 128
    (0, True, 0), (-1, True, 1), (1, True, 17), (-7, True, 7), (-8, True, 8),
    (-20, True, 10),   # 8 + int(log(20/8) / log(128/8) * 8) = 8 + int(2.64)
    (-50, True, 13),   # 8 + int(log(50/8) / log(16) * 8) = 8 + int(5.29)
    (-128, True, 15), (-1000, True, 15), (1000, True, 31),
    # causal, 32 buckets, 16 exact: future keys share bucket 0
    (5, False, 0), (-3, False, 3), (-15, False, 15),
    (-32, False, 21),  # 16 + int(log(2) / log(8) * 16) = 16 + int(5.33)
    (-500, False, 31),
])
def test_relative_position_bucket_hand_values(relative, bidirectional, expected):
    assert int(t5.relative_position_bucket(relative, bidirectional, 32, 128)) == expected


def test_params_carry_t5x_logical_axes(network):
    _, boxed, params = network
    names = jax.tree_util.tree_map(lambda x: x.names, boxed, is_leaf=lambda x: isinstance(x, nn.LogicallyPartitioned))
    assert names["token_embedder"]["embedding"] == ("vocab", "embed")
    assert names["decoder"]["logits_dense"]["kernel"] == ("embed", "vocab")
    assert names["encoder"]["relpos_bias"]["rel_embedding"] == ("heads", "relpos_buckets")
    layer = names["decoder"]["layers_1"]
    assert layer["self_attention"]["query"]["kernel"] == ("embed", "heads", "kv")
    assert layer["encoder_decoder_attention"]["out"]["kernel"] == ("heads", "kv", "embed")
    assert layer["mlp"]["wi_0"]["kernel"] == ("embed", "mlp") and layer["mlp"]["wo"]["kernel"] == ("mlp", "embed")
    assert layer["pre_cross_attention_layer_norm"]["scale"] == ("embed",)
    # One bias table per stack, none inside the layers.
    assert "relpos_bias" not in names["encoder"]["layers_1"]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(params))
    # Every leaf is boxed: nothing escapes the partitioning rules.
    assert all(isinstance(x, nn.LogicallyPartitioned) for x in jax.tree_util.tree_leaves(
        boxed, is_leaf=lambda x: isinstance(x, nn.LogicallyPartitioned)))


def _example(rng, enc_len, tgt_len):
    enc = rng.randint(2, CONFIG.vocab_size, enc_len)
    tgt = rng.randint(2, CONFIG.vocab_size, tgt_len)
    return enc, tgt


def test_packed_examples_match_separate_ones(network):
    module, _, params = network
    rng = np.random.RandomState(0)
    examples = [_example(rng, 5, 3), _example(rng, 4, 4)]
    enc_len, tgt_len = 12, 9
    packed = {k: np.zeros((1, n), np.int32) for k, n in [
        ("encoder_input_tokens", enc_len), ("encoder_segment_ids", enc_len), ("encoder_positions", enc_len),
        ("decoder_input_tokens", tgt_len), ("decoder_target_tokens", tgt_len), ("decoder_segment_ids", tgt_len),
        ("decoder_positions", tgt_len)]}
    e0 = t0 = 0
    separate_logits = []
    for segment, (enc, tgt) in enumerate(examples, start=1):
        dec_in = np.concatenate([[0], tgt[:-1]])
        packed["encoder_input_tokens"][0, e0:e0 + len(enc)] = enc
        packed["encoder_segment_ids"][0, e0:e0 + len(enc)] = segment
        packed["encoder_positions"][0, e0:e0 + len(enc)] = np.arange(len(enc))
        packed["decoder_input_tokens"][0, t0:t0 + len(tgt)] = dec_in
        packed["decoder_target_tokens"][0, t0:t0 + len(tgt)] = tgt
        packed["decoder_segment_ids"][0, t0:t0 + len(tgt)] = segment
        packed["decoder_positions"][0, t0:t0 + len(tgt)] = np.arange(len(tgt))
        e0, t0 = e0 + len(enc), t0 + len(tgt)
        separate_logits.append(module.apply({"params": params}, enc[None], dec_in[None], tgt[None], enable_dropout=False)[0])
    logits = module.apply({"params": params}, **packed, enable_dropout=False)[0]
    np.testing.assert_allclose(logits[:3], separate_logits[0], atol=1e-5)
    np.testing.assert_allclose(logits[3:7], separate_logits[1], atol=1e-5)
    # Without segment ids the second example would see the first: the masks matter.
    unmasked = module.apply({"params": params}, packed["encoder_input_tokens"], packed["decoder_input_tokens"],
                            packed["decoder_target_tokens"], enable_dropout=False)[0]
    assert not np.allclose(unmasked[3:7], separate_logits[1], atol=1e-3)


def test_padding_does_not_change_real_positions(network):
    module, _, params = network
    rng = np.random.RandomState(1)
    enc, tgt = _example(rng, 5, 4)
    dec_in = np.concatenate([[0], tgt[:-1]])
    short = module.apply({"params": params}, enc[None], dec_in[None], tgt[None], enable_dropout=False)[0]
    pad = lambda x, n: np.pad(x, (0, n))[None]  # noqa: E731
    long = module.apply({"params": params}, pad(enc, 6), pad(dec_in, 3), pad(tgt, 3), enable_dropout=False)[0]
    np.testing.assert_allclose(long[:4], short, atol=1e-5)
    assert long.dtype == jnp.float32 and long.shape == (7, CONFIG.vocab_size)


def test_bfloat16_activations_keep_float32_logits(network):
    _, _, params = network
    module = t5.Transformer(t5.T5Config(**{**CONFIG.__dict__, "dtype": "bfloat16"}))
    tokens = jnp.arange(2, 10)[None]
    logits16 = module.apply({"params": params}, tokens, tokens, tokens, enable_dropout=False)
    logits32 = t5.Transformer(CONFIG).apply({"params": params}, tokens, tokens, tokens, enable_dropout=False)
    assert logits16.dtype == jnp.float32
    np.testing.assert_allclose(logits16, logits32, atol=0.1 * float(jnp.abs(logits32).max()))


def test_dropout_only_when_enabled(network):
    _, _, params = network
    module = t5.Transformer(t5.T5Config(**{**CONFIG.__dict__, "dropout_rate": 0.3}))
    tokens = jnp.arange(2, 10)[None]
    apply = lambda seed, enable: module.apply(  # noqa: E731
        {"params": params}, tokens, tokens, tokens, enable_dropout=enable, rngs={"dropout": jax.random.PRNGKey(seed)})
    np.testing.assert_array_equal(apply(0, False), apply(1, False))
    assert not np.allclose(apply(0, True), apply(1, True))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="num_heads"):
        t5.T5Config(**{**CONFIG.__dict__, "num_heads": 0})
    with pytest.raises(ValueError, match="dtype"):
        t5.T5Config(**{**CONFIG.__dict__, "dtype": "int8"})


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("dropout", [False, True])
def test_attention_products_gradients_match_autodiff(dtype, dropout):
    """attention_logits / attention_values (products written for XLA:CPU, FlashAttention's
    softmax backward) against plain einsum + softmax + dropout mask under autodiff."""
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    query, key, value = (jax.random.normal(k, shape).astype(dtype) for k, shape in zip(keys, [(2, 5, 3, 4), (2, 7, 3, 4), (2, 7, 3, 4)]))
    bias = jnp.where(jax.random.bernoulli(keys[3], 0.8, (2, 1, 5, 7)), 0.0, -1e10)  # some keys masked
    keep = jax.random.bernoulli(keys[4], 0.9, (2, 3, 5, 7)) / 0.9 if dropout else jnp.ones(())
    probe = jax.random.normal(keys[4], (2, 5, 3, 4))

    def ours(q, k, v):
        return jnp.sum(t5.attention_values(t5.attention_logits(q, k) + bias, v, keep) * probe)

    def reference(q, k, v):
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32) + bias
        weights = (jax.nn.softmax(logits, axis=-1) * keep).astype(dtype)
        return jnp.sum(jnp.einsum("bhqk,bkhd->bqhd", weights, v, preferred_element_type=jnp.float32) * probe)

    tolerance = 1e-5 if dtype == jnp.float32 else 3e-2
    np.testing.assert_allclose(ours(query, key, value), reference(query, key, value), rtol=tolerance)
    for a, b in zip(jax.grad(ours, (0, 1, 2))(query, key, value), jax.grad(reference, (0, 1, 2))(query, key, value)):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32), rtol=tolerance, atol=tolerance)
