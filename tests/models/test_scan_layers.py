"""Scanned and rematerialised layers: the same loss, gradients, updates and decodes as the
unrolled network, and parameter layouts that convert both ways."""
import dataclasses
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flan_jax.models import layer_stacking, t5
from flan_jax.models import model as model_lib
from flan_jax.train import optimizers, partitioning, steps

CONFIG = t5.T5Config(
    vocab_size=64, emb_dim=16, num_heads=2, num_encoder_layers=2, num_decoder_layers=3, head_dim=4, mlp_dim=24,
    relative_attention_num_buckets=8, relative_attention_max_distance=16,
)
VOCABULARY = types.SimpleNamespace(vocab_size=CONFIG.vocab_size, eos_id=1)


def _model(**overrides) -> model_lib.EncoderDecoderModel:
    return model_lib.EncoderDecoderModel(t5.Transformer(dataclasses.replace(CONFIG, **overrides)), VOCABULARY, VOCABULARY)


def _batch():
    rng = np.random.RandomState(0)
    enc = rng.randint(2, CONFIG.vocab_size, (3, 9)).astype(np.int32)
    enc[1, 5:] = 0
    targets = rng.randint(2, CONFIG.vocab_size, (3, 6)).astype(np.int32)
    targets[2, 4:] = 0
    return {
        "encoder_input_tokens": enc, "decoder_target_tokens": targets,
        "decoder_input_tokens": np.concatenate([np.zeros((3, 1), np.int32), targets[:, :-1]], 1),
    }


@pytest.fixture(scope="module")
def unrolled():
    model = _model()
    batch = _batch()
    shapes = {k: (1, v.shape[1]) for k, v in batch.items()}
    params = jax.jit(lambda rng: nn.meta.unbox(model.get_initial_variables(rng, shapes)["params"]))(jax.random.PRNGKey(0))
    loss, grads = jax.jit(jax.value_and_grad(lambda p: model.loss_fn(p, batch, None)[0]))(params)
    return model, params, batch, loss, grads


def test_layouts_convert_both_ways(unrolled):
    _, params, _, _, _ = unrolled
    scanned = layer_stacking.stack_layers(params)
    assert layer_stacking.is_scanned(params) is False and layer_stacking.is_scanned(scanned) is True
    assert set(scanned["encoder"]) == {"layers", "relpos_bias", "encoder_norm"}
    assert scanned["decoder"]["layers"]["mlp"]["wi_0"]["kernel"].shape == (3, 16, 24)
    np.testing.assert_array_equal(scanned["decoder"]["layers"]["mlp"]["wo"]["kernel"][2],
                                  params["decoder"]["layers_2"]["mlp"]["wo"]["kernel"])
    back = layer_stacking.unstack_layers(scanned)
    jax.tree.map(np.testing.assert_array_equal, back, params)
    assert layer_stacking.to_layout(params, scanned=False) is params
    # The conversion gives exactly the tree a scanned network initialises.
    model = _model(scan_layers=True)
    shapes = {"encoder_input_tokens": (1, 9), "decoder_input_tokens": (1, 6)}
    abstract = jax.eval_shape(lambda: nn.meta.unbox(model.get_initial_variables(jax.random.PRNGKey(0), shapes)["params"]))
    assert jax.tree.map(lambda x: (x.shape, x.dtype), abstract) == jax.tree.map(lambda x: (x.shape, x.dtype), scanned)


def test_scanned_stack_is_logically_partitioned_on_an_unsharded_layers_axis():
    model = _model(scan_layers=True)
    shapes = {"encoder_input_tokens": (1, 8), "decoder_input_tokens": (1, 8)}
    boxed = jax.eval_shape(lambda: model.get_initial_variables(jax.random.PRNGKey(0), shapes)["params"])
    partitioner = partitioning.Partitioner(num_partitions=2, logical_axis_rules=partitioning.standard_logical_axis_rules(fsdp=True))
    logical, mesh_specs = partitioner.param_specs(boxed)
    assert tuple(logical["encoder"]["layers"]["attention"]["query"]["kernel"]) == ("layers", "embed", "heads", "kv")
    assert tuple(mesh_specs["encoder"]["layers"]["attention"]["query"]["kernel"]) == (None, "data", "model", None)
    assert tuple(logical["encoder"]["relpos_bias"]["rel_embedding"]) == ("heads", "relpos_buckets")


@pytest.mark.parametrize("scan_layers, remat_policy", [(True, "minimal"), (True, "full"), (False, "minimal")])
def test_loss_and_gradients_equal_the_plain_unrolled_network(unrolled, scan_layers, remat_policy):
    """float32, to rounding: scanning and rematerialising change where values live, not what they are."""
    _, params, batch, loss, grads = unrolled
    model = _model(scan_layers=scan_layers, remat_policy=remat_policy)
    layout = layer_stacking.stack_layers if scan_layers else (lambda tree: tree)
    other_loss, other_grads = jax.jit(jax.value_and_grad(lambda p: model.loss_fn(p, batch, None)[0]))(layout(params))
    np.testing.assert_allclose(other_loss, loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 layer_stacking.to_layout(other_grads, scanned=False), grads)


def test_adafactor_updates_each_scanned_layer_as_unrolled(unrolled):
    """Adafactor's parameter scale and clipping are per layer, so one step gives the same parameters."""
    _, params, _, _, grads = unrolled
    optimizer = optimizers.adafactor(optimizers.constant_schedule(0.1))
    scanned_params, scanned_grads = layer_stacking.stack_layers(params), layer_stacking.stack_layers(grads)
    state = optimizer.init(params)
    scanned_state = optimizer.init(scanned_params)
    assert isinstance(scanned_state, optimizers.PerLayerState) and not isinstance(state, optimizers.PerLayerState)
    update = jax.jit(optimizer.update)
    for _ in range(2):
        updates, state = update(grads, state, params)
        scanned_updates, scanned_state = update(scanned_grads, scanned_state, scanned_params)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                     layer_stacking.unstack_layers(scanned_updates), updates)


def test_scanned_decoding_equals_unrolled(unrolled):
    model, params, batch, _, _ = unrolled
    scanned = _model(scan_layers=True)
    scanned_params = layer_stacking.stack_layers(params)
    batch = {k: batch[k] for k in ("encoder_input_tokens", "decoder_input_tokens")}
    predict = lambda m: jax.jit(m.predict_batch, static_argnames=("method", "num_beams"))  # noqa: E731
    greedy = np.asarray(predict(model)(params, batch))
    np.testing.assert_array_equal(np.asarray(predict(scanned)(scanned_params, batch)), greedy)
    assert len(set(map(tuple, greedy))) > 1
    # Beam search reorders the self-attention caches, stacked behind the layer axis when scanned.
    beams = np.asarray(predict(model)(params, batch, method="beam_search", num_beams=2))
    np.testing.assert_array_equal(np.asarray(predict(scanned)(scanned_params, batch, method="beam_search", num_beams=2)), beams)


def test_config_rejects_unknown_remat_policy():
    with pytest.raises(ValueError, match="remat_policy"):
        dataclasses.replace(CONFIG, remat_policy="dots")
