"""The train step on several meshes, micro-batching, resume, divergence, truncation and the loop."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import tiny_setup

# Runs against the model engineer's flan_jax.models (skipped only while it is absent).
pytest.importorskip("flan_jax.models.model")
from flan_jax.data import features  # noqa: E402
from flan_jax.train import checkpoints, optimizers, partitioning, steps, trainer  # noqa: E402

MESHES = [(8, 1), (4, 2), (2, 4)]  # (data, model)
NUM_STEPS = 3


@pytest.fixture(scope="module")
def model():
    return tiny_setup.tiny_model(dropout_rate=0.0)


@pytest.fixture(scope="module")
def batches():
    return tiny_setup.fixed_batches(NUM_STEPS, batch_size=8)


def _run_steps(model, batches, partitioner, num_microbatches=1):
    """Losses and final parameters of NUM_STEPS jitted train steps on `partitioner`'s mesh."""
    schedule = optimizers.constant_schedule(1e-2)
    optimizer = optimizers.adafactor(schedule)
    shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, tiny_setup.LENGTHS, pack=True)
    layout = steps.state_layout(model, optimizer, partitioner, shapes)
    state = steps.init_state(model, optimizer, layout, shapes, jax.random.PRNGKey(0))
    step = steps.jit_train_step(model, optimizer, schedule, layout, partitioner, num_microbatches)
    losses = []
    for batch in batches:
        state, metrics = step(state, partitioner.host_local_to_global(batch), jax.random.PRNGKey(1))
        losses.append(float(metrics["loss"]))
    return losses, state, layout


@pytest.fixture(scope="module")
def single_device_run(model, batches):
    losses, state, _ = _run_steps(model, batches, partitioning.Partitioner(devices=jax.devices()[:1]))
    return losses, jax.device_get(state.params)


@pytest.mark.parametrize("mesh_shape", MESHES, ids=lambda s: f"data{s[0]}_model{s[1]}")
def test_meshes_match_one_device(model, batches, single_device_run, mesh_shape):
    partitioner = partitioning.Partitioner(num_partitions=mesh_shape[1])
    assert tuple(partitioner.mesh.devices.shape) == mesh_shape
    losses, state, layout = _run_steps(model, batches, partitioner)
    reference_losses, reference_params = single_device_run
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), jax.device_get(state.params), reference_params
    )
    # Every parameter is placed as the rules say, and the state really is sharded that way.
    rules = dict(partitioner.logical_axis_rules)
    flat_logical = jax.tree_util.tree_leaves_with_path(layout.logical_specs, is_leaf=lambda x: isinstance(x, P))
    params = dict(jax.tree_util.tree_leaves_with_path(state.params))
    for path, logical in flat_logical:
        expected = P(*(rules[axis] for axis in logical))
        assert params[path].sharding.spec == expected, partitioning.path_name(path)
    if mesh_shape[1] > 1:
        names = {partitioning.path_name(path): spec for path, spec in flat_logical}
        # A few named parameters of the T5: vocab, heads and mlp go to 'model'.
        embedding = [n for n, s in names.items() if s == P("vocab", "embed")]
        mlp_in = [n for n, s in names.items() if s == P("embed", "mlp")]
        assert embedding and mlp_in, names
        spec_of = {partitioning.path_name(path): p.sharding.spec for path, p in params.items()}
        assert spec_of[embedding[0]] == P("model", None)
        assert spec_of[mlp_in[0]] == P(None, "model")


def test_microbatches_match_the_whole_batch(model, batches):
    partitioner = partitioning.Partitioner(num_partitions=2)
    whole, whole_state, _ = _run_steps(model, batches[:1], partitioner, num_microbatches=1)
    split, split_state, _ = _run_steps(model, batches[:1], partitioner, num_microbatches=2)
    np.testing.assert_allclose(split, whole, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
        jax.device_get(split_state.params), jax.device_get(whole_state.params),
    )


def _train(model_dir, train_steps, *, model, partitioner=None, schedule=None, checkpoint_config=None, **kwargs):
    return trainer.train(
        model=model,
        partitioner=partitioner or partitioning.Partitioner(num_partitions=1),
        train_dataset=tiny_setup.dataset_config(batch_size=8),
        learning_rate_schedule=schedule or optimizers.constant_schedule(1e-2),
        train_steps=train_steps,
        model_dir=str(model_dir),
        checkpoint_config=checkpoint_config or checkpoints.CheckpointConfig(period=2, async_save=False),
        log_period=1,
        truncation_check_examples=0,
        show_progress=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def dropout_model():
    return tiny_setup.tiny_model(dropout_rate=0.1)


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, clean_registries, dropout_model):
    tiny_setup.register()
    straight = _train(tmp_path / "straight", 4, model=dropout_model)
    first = _train(tmp_path / "resumed", 2, model=dropout_model)
    assert first.start_step == 0
    # Resume on another mesh: the checkpoint is resharded onto (4, 2).
    resumed = _train(tmp_path / "resumed", 4, model=dropout_model, partitioner=partitioning.Partitioner(num_partitions=2))
    assert resumed.start_step == 2
    assert [step for step, _ in resumed.history] == [3, 4]
    straight_losses = [m["loss"] for _, m in straight.history]
    resumed_losses = [m["loss"] for _, m in first.history + resumed.history]
    np.testing.assert_allclose(resumed_losses, straight_losses, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
        jax.device_get(resumed.state.params), jax.device_get(straight.state.params),
    )
    assert sorted(int(p.name) for p in (tmp_path / "resumed" / "checkpoints").iterdir() if p.name.isdigit()) == [2, 4]
    assert (tmp_path / "resumed" / "parameters.txt").read_text().startswith("mesh: {'data': 4, 'model': 2}")
    # A finished run is not trained further.
    again = _train(tmp_path / "straight", 4, model=dropout_model)
    assert again.start_step == 4 and again.history == []


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, clean_registries, model):
    tiny_setup.register()
    # An infinite learning rate from the 4th update on makes the parameters non-finite at step 4.
    exploding = lambda step: jnp.where(step >= 3, jnp.inf, 1e-2)  # noqa: E731
    config = checkpoints.CheckpointConfig(period=1, keep=2, async_save=False)
    with pytest.raises(trainer.TrainingDivergedError, match=r"diverged at step 4: .*last good checkpoint is step 3"):
        _train(tmp_path, 8, model=model, schedule=exploding, checkpoint_config=config)
    manager = checkpoints.CheckpointManager(tmp_path / "checkpoints", config)
    assert manager.all_steps() == [2, 3]  # keep-last-2, and nothing written from step 4 on
    shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, tiny_setup.LENGTHS, pack=True)
    partitioner = partitioning.Partitioner(num_partitions=1)
    layout = steps.state_layout(model, optimizers.adafactor(optimizers.constant_schedule(1e-2)), partitioner, shapes)
    abstract = checkpoints.abstract_like(layout.abstract_state.params, layout.shardings.params)
    params = checkpoints.restore_params(tmp_path, abstract)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params))
    manager.close()


def test_initial_checkpoint_path_starts_from_its_params_at_step_zero(tmp_path, clean_registries, model):
    tiny_setup.register()
    source = _train(tmp_path / "source", 2, model=model)
    fine = _train(tmp_path / "fine", 0, model=model, initial_checkpoint_path=str(tmp_path / "source"))
    assert fine.start_step == 0 and int(fine.state.step) == 0
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(fine.state.params), jax.device_get(source.state.params))
    # A fresh optimizer: Adafactor's update count starts again at 0.
    assert int(jax.tree.leaves(fine.state.opt_state)[0]) == 0


def test_unwritable_model_dir_fails_before_compiling(tmp_path, clean_registries, model, monkeypatch):
    tiny_setup.register()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(steps, "state_layout", lambda *a, **k: pytest.fail("compiled before checking MODEL_DIR"))
    with pytest.raises(PermissionError, match="MODEL_DIR .*a_file/run.* is not writable"):
        _train(blocker / "run", 1, model=model)


def test_unknown_task_suggests_close_names(tmp_path, clean_registries, model):
    tiny_setup.register()
    with pytest.raises(ValueError, match="Did you mean: tiny_reverse"):
        trainer.train(
            model=model, partitioner=partitioning.Partitioner(), train_dataset=tiny_setup.dataset_config(mixture_or_task_name="tiny_revers"),
            learning_rate_schedule=optimizers.constant_schedule(1e-2), train_steps=1, model_dir=str(tmp_path),
        )


def test_batch_size_not_divisible_by_the_mesh_is_rejected_up_front(tmp_path, clean_registries, model):
    tiny_setup.register()
    with pytest.raises(ValueError, match="BATCH_SIZE=6 .* multiple of 8"):
        trainer.train(
            model=model, partitioner=partitioning.Partitioner(), train_dataset=tiny_setup.dataset_config(batch_size=6),
            learning_rate_schedule=optimizers.constant_schedule(1e-2), train_steps=1, model_dir=str(tmp_path),
        )


def test_truncated_examples_are_counted_and_reported(clean_registries, caplog):
    tiny_setup.register()
    words = tiny_setup._words(tiny_setup.NUM_EXAMPLES)[:64]
    lengths = {"inputs": 16, "targets": 8}
    counts = trainer.count_truncated(tiny_setup.TASK_NAME, lengths, max_examples=64)
    # "reverse: " + word + EOS, and word + EOS.
    assert counts == {
        "examples": 64,
        "inputs": sum(len(w) + 10 > 16 for w in words),
        "targets": sum(len(w) + 1 > 8 for w in words),
    }
    assert counts["inputs"] > 0 and counts["targets"] > 0
    with caplog.at_level("WARNING"):
        trainer._warn_truncation(tiny_setup.dataset_config(task_feature_lengths=lengths), 64)
    assert f"{counts['inputs']} inputs, {counts['targets']} targets of the first 64 examples" in caplog.text


def test_summaries_divide_raw_sums_by_tokens():
    summary = steps.summarize_metrics({"cross_entropy_sum": 30.0, "z_loss_sum": 3.0, "correct_tokens": 5.0, "weight_sum": 10.0})
    assert summary == pytest.approx({"cross_entropy": 3.0, "z_loss": 0.3, "accuracy": 0.5, "loss_per_token": 3.3})


def test_evaluate_loss_sums_over_batches(clean_registries, model):
    tiny_setup.register()
    partitioner = partitioning.Partitioner(num_partitions=2)
    shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, tiny_setup.LENGTHS, pack=False)
    layout = steps.state_layout(model, optimizers.adafactor(optimizers.constant_schedule(1e-2)), partitioner, shapes)
    params = steps.init_state(model, optimizers.adafactor(optimizers.constant_schedule(1e-2)), layout, shapes, jax.random.PRNGKey(0)).params
    config = tiny_setup.dataset_config(split="validation", pack=False, batch_size=16)
    summary = trainer.evaluate_loss(model, params, config, partitioner, num_batches=2)
    # An untrained model over 384 ids: cross-entropy near log(384), accuracy near chance.
    assert abs(summary["cross_entropy"] - np.log(384)) < 1.0
    assert 0.0 <= summary["accuracy"] < 0.1
    # 64 validation examples at batch 16: asking for more batches than exist is fine.
    assert trainer.evaluate_loss(model, params, config, partitioner, num_batches=10)["cross_entropy"] > 0


def test_train_step_and_model_import_without_seqio():
    """The step, the network, the loss and decoding import with seqio and TensorFlow missing
    (as on accelerator machines that run benchmarks/): only the data side needs them."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['seqio'] = None; sys.modules['tensorflow'] = None; sys.modules['clu'] = None\n"
        "from flan_jax.train import steps\n"
        "from flan_jax.models import model\n"
        "assert 'seqio' not in sys.modules or sys.modules['seqio'] is None\n"
        "try:\n"
        "    model.EncoderDecoderModel.FEATURE_CONVERTER_CLS\n"
        "except ImportError:\n"
        "    print('lazy')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "lazy"  # the feature converter is the one thing that needs seqio
