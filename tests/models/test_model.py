"""EncoderDecoderModel: loss normalisation and raw sums, scoring weights, initial variables."""
import flax.linen as nn
import jax
import numpy as np
import pytest

from flan_jax.data import vocabularies
from flan_jax.models import losses, model, t5

CONFIG = t5.T5Config(vocab_size=260, emb_dim=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=2, head_dim=4, mlp_dim=24)
SHAPES = {"encoder_input_tokens": (3, 10), "decoder_input_tokens": (3, 6)}


def _make(**kwargs):
    vocabulary = vocabularies.byte_vocabulary()
    return model.EncoderDecoderModel(t5.Transformer(CONFIG), vocabulary, vocabulary, **kwargs)


@pytest.fixture(scope="module")
def params():
    boxed = _make().get_initial_variables(jax.random.PRNGKey(0), SHAPES)["params"]
    specs = nn.get_partition_spec(boxed)
    assert specs["token_embedder"]["embedding"] == jax.sharding.PartitionSpec("vocab", "embed")
    return nn.meta.unbox(boxed)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.RandomState(0)
    enc = rng.randint(3, 259, (3, 10)).astype(np.int32)
    enc[1, 7:] = 0
    targets = rng.randint(3, 259, (3, 6)).astype(np.int32)
    targets[2, 3:] = 0
    weights = (targets > 0).astype(np.float32)
    weights[0, 0] = 0.0  # e.g. a token the task does not score
    dec_in = np.concatenate([np.zeros((3, 1), np.int32), targets[:, :-1]], 1)
    return {"encoder_input_tokens": enc, "decoder_input_tokens": dec_in, "decoder_target_tokens": targets,
            "decoder_loss_weights": weights}


def test_loss_is_sum_over_weights_and_aux_are_raw_sums(params, batch):
    m = _make()
    loss, aux = m.loss_fn(params, batch, None)
    logits = m.module.apply({"params": params}, batch["encoder_input_tokens"], batch["decoder_input_tokens"],
                            batch["decoder_target_tokens"], enable_dropout=False)
    expected = losses.weighted_token_losses(logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"], z_loss=1e-4)
    assert float(aux["weight_sum"]) == batch["decoder_loss_weights"].sum() == 14.0
    np.testing.assert_allclose(float(aux["cross_entropy_sum"]), float(expected["cross_entropy_sum"]), rtol=1e-6)
    np.testing.assert_allclose(float(loss), (float(aux["cross_entropy_sum"]) + float(aux["z_loss_sum"])) / 14.0, rtol=1e-6)
    # A fixed normalising factor divides by that number instead.
    fixed_loss, _ = _make(loss_normalizing_factor=100.0).loss_fn(params, batch, None)
    np.testing.assert_allclose(float(fixed_loss), float(loss) * 14.0 / 100.0, rtol=1e-5)
    assert float(_make(z_loss=0.0).loss_fn(params, batch, None)[1]["z_loss_sum"]) == 0.0


def test_score_batch_sums_weighted_log_likelihoods(params, batch):
    m = _make()
    scores = np.asarray(m.score_batch(params, batch))
    _, aux = m.loss_fn(params, batch, None)
    # With z_loss and smoothing off, the summed scores are minus the cross entropy sum.
    _, aux0 = _make(z_loss=0.0).loss_fn(params, batch, None)
    np.testing.assert_allclose(-scores.sum(), float(aux0["cross_entropy_sum"]), rtol=1e-5)
    # Scores of one row do not depend on the other rows.
    single = {k: v[1:2] for k, v in batch.items()}
    np.testing.assert_allclose(np.asarray(m.score_batch(params, single))[0], scores[1], rtol=1e-5)


def test_dropout_rng_changes_the_loss():
    vocabulary = vocabularies.byte_vocabulary()
    m = model.EncoderDecoderModel(t5.Transformer(t5.T5Config(**{**CONFIG.__dict__, "dropout_rate": 0.5})), vocabulary, vocabulary)
    p = nn.meta.unbox(m.get_initial_variables(jax.random.PRNGKey(0), SHAPES)["params"])
    tokens = np.arange(3, 21, dtype=np.int32).reshape(3, 6)
    b = {"encoder_input_tokens": tokens, "decoder_input_tokens": tokens, "decoder_target_tokens": tokens,
         "decoder_loss_weights": np.ones((3, 6), np.float32)}
    a0 = float(m.loss_fn(p, b, None)[0])
    assert a0 == float(m.loss_fn(p, b, None)[0])
    assert float(m.loss_fn(p, b, jax.random.PRNGKey(1))[0]) != a0


def test_bad_inputs_are_named():
    vocabulary = vocabularies.byte_vocabulary()
    small = t5.T5Config(**{**CONFIG.__dict__, "vocab_size": 100})
    with pytest.raises(ValueError, match="vocab_size"):
        model.EncoderDecoderModel(t5.Transformer(small), vocabulary, vocabulary)
    with pytest.raises(KeyError, match="decoder_input_tokens"):
        _make().get_initial_variables(jax.random.PRNGKey(0), {"encoder_input_tokens": (1, 4)})
    with pytest.raises(ValueError, match="beam_search"):
        _make().predict_batch({}, {"encoder_input_tokens": np.ones((1, 2)), "decoder_input_tokens": np.ones((1, 2))}, method="nucleus")
