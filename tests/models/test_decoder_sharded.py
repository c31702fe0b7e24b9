"""The tiny decoder trained sharded: 8 host devices as a (data 4, model 2) mesh under the fsdp
rules, state created sharded (steps.state_layout / init_state), one jitted train step."""
import dataclasses

import jax
import numpy as np
import seqio
from jax.sharding import PartitionSpec as P

import decoder_setup
from flan_jax.models import decoder, model
from flan_jax.train import optimizers, partitioning, steps


def _packed_prefix_lm_batch(rows: int = 8, length: int = 16) -> dict[str, np.ndarray]:
    """Two prefix-LM examples per row (seqio's packed layout): 3 inputs + 4 targets, 4 + 3."""
    rng = np.random.default_rng(0)
    targets = rng.integers(2, 64, (rows, length)).astype(np.int32)
    segments = np.array([1] * 8 + [2] * 8)
    positions = np.concatenate([np.arange(8), np.arange(8)])
    prefix = np.array([1] * 4 + [0] * 4 + [1] * 5 + [0] * 3)
    inputs = np.where(positions == 0, 0, np.roll(targets, 1, axis=1))
    weights = (1 - prefix) * (segments > 0)
    tile = lambda x: np.tile(x, (rows, 1)).astype(np.int32)  # noqa: E731
    return {"decoder_input_tokens": inputs, "decoder_target_tokens": targets, "decoder_loss_weights": tile(weights),
            "decoder_segment_ids": tile(segments), "decoder_positions": tile(positions),
            "decoder_causal_attention": tile(prefix)}


def test_fsdp_and_model_parallel_train_step():
    assert jax.device_count() == 8
    config = dataclasses.replace(decoder_setup.CONFIG, num_layers=1)  # one layer: the sharding is the same, compiles faster
    m = model.DecoderOnlyModel(decoder.Decoder(config), seqio.PassThroughVocabulary(size=64, eos_id=1),
                               inputs_bidirectional_attention=True)
    partitioner = partitioning.Partitioner(num_partitions=2, logical_axis_rules=partitioning.standard_logical_axis_rules(fsdp=True))
    schedule = optimizers.constant_schedule(1e-2)
    optimizer = optimizers.adafactor(schedule)
    batch = _packed_prefix_lm_batch()
    shapes = {key: value.shape for key, value in batch.items()}
    layout = steps.state_layout(m, optimizer, partitioner, shapes)
    state = steps.init_state(m, optimizer, layout, shapes, jax.random.PRNGKey(0))
    query = state.params["layers_0"]["attention"]["query"]["kernel"]
    assert query.sharding.spec == P("data", "model", None)
    assert state.params["token_embedder"]["embedding"].sharding.spec == P("model", "data")
    # The sharded loss is the loss of the same parameters on one device.
    single_device = jax.jit(m.loss_fn)(jax.device_get(state.params), batch, None)[0]

    train_step = steps.jit_train_step(m, optimizer, schedule, layout, partitioner)
    state, metrics = train_step(state, partitioner.host_local_to_global(batch), jax.random.PRNGKey(1))
    assert int(state.step) == 1
    np.testing.assert_allclose(float(metrics["loss"]), float(single_device), rtol=1e-5)
    assert float(metrics["weight_sum"]) == 8 * 7 and np.isfinite(float(metrics["grad_norm"]))
    assert state.params["layers_0"]["attention"]["query"]["kernel"].sharding.spec == P("data", "model", None)
