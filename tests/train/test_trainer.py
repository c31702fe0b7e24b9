"""The train step on several meshes, micro-batching, resume, divergence, truncation and the loop."""
import contextlib
import json
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import tiny_setup

# Runs against the model engineer's flan_jax.models (skipped only while it is absent).
pytest.importorskip("flan_jax.models.model")
from flan_jax.data import features, pipeline  # noqa: E402
from flan_jax.eval import jobs  # noqa: E402
from flan_jax.models import layer_stacking  # noqa: E402
from flan_jax.train import checkpoints, optimizers, partitioning, steps, trainer, utilization  # noqa: E402

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


def _train(model_dir, train_steps, *, model, partitioner=None, schedule=None, checkpoint_config=None, train_dataset=None,
           **kwargs):
    return trainer.train(
        model=model,
        partitioner=partitioner or partitioning.Partitioner(num_partitions=1),
        train_dataset=train_dataset or tiny_setup.dataset_config(batch_size=8),
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


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, clean_registries, dropout_model, caplog):
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
    # A finished run is not trained further, and says so.
    with caplog.at_level("WARNING"):
        again = _train(tmp_path / "straight", 4, model=dropout_model)
    assert again.start_step == 4 and again.history == []
    assert "is already at step 4 (TRAIN_STEPS = 4): nothing to train; raise TRAIN_STEPS" in caplog.text


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


def test_initial_checkpoint_path_carries_its_step(tmp_path, clean_registries, model):
    """As t5x: a run from a checkpoint of step S starts at S (TRAIN_STEPS counts S too), with a fresh
    optimizer and the data read from its start; a checkpoint without a step (converted) starts at 0."""
    tiny_setup.register()
    source = _train(tmp_path / "source", 2, model=model)
    # Without a step directory (as `flan-jax convert from-hf` writes): step 0, its parameters exactly.
    checkpoints.save_params(tmp_path / "converted", jax.device_get(source.state.params))
    converted = _train(tmp_path / "from_converted", 0, model=model, initial_checkpoint_path=str(tmp_path / "converted"))
    assert converted.start_step == 0 and int(converted.state.step) == 0
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(converted.state.params), jax.device_get(source.state.params))
    # The same unrolled checkpoint starts a model with scanned layers, stacked.
    scanned = _train(tmp_path / "scanned", 0, model=tiny_setup.tiny_model(scan_layers=True),
                     initial_checkpoint_path=str(tmp_path / "converted"))
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(scanned.state.params),
                 layer_stacking.stack_layers(jax.device_get(source.state.params)))
    # From MODEL_DIR/checkpoints/2: TRAIN_STEPS = 2 would train nothing, and is refused up front.
    with pytest.raises(ValueError, match=r"INITIAL_CHECKPOINT_PATH .* is at step 2 and TRAIN_STEPS = 2: .*--gin.TRAIN_STEPS=1002"):
        _train(tmp_path / "fine", 2, model=model, initial_checkpoint_path=str(tmp_path / "source"))
    assert not (tmp_path / "fine").exists()
    starts = []

    def batches(config, converter, start_step, shard_info):
        starts.append(start_step)
        return pipeline.train_batches(config, converter, start_step, shard_info)

    fine = _train(tmp_path / "fine", 3, model=model, initial_checkpoint_path=str(tmp_path / "source"), get_batches=batches)
    assert fine.start_step == 2 and [step for step, _ in fine.history] == [3] and int(fine.state.step) == 3
    assert starts == [0]  # the fine-tuning data from its first batch, not skipped by the checkpoint's 2 steps
    # A fresh optimizer: Adafactor's update count is 1 after the one fine-tuning step.
    assert int(jax.tree.leaves(fine.state.opt_state)[0]) == 1
    # Resuming in MODEL_DIR skips what this run read (1 batch), whatever the initial checkpoint's step.
    _train(tmp_path / "fine", 4, model=model, initial_checkpoint_path=str(tmp_path / "source"), get_batches=batches)
    assert starts == [0, 1]


@pytest.mark.parametrize("lengths, problem", [
    ({"inputs": 0, "targets": 0}, "'inputs' is 0, not a number of tokens >= 1; 'targets' is 0"),
    ({"inputs": 32, "targets": 0}, "'targets' is 0, not a number of tokens >= 1"),
    ({"inputs": 64}, "'targets' is missing"),
])
def test_lengths_the_model_cannot_use_are_refused_before_anything_is_built(tmp_path, clean_registries, model, lengths, problem):
    """{"inputs": 0, "targets": 0} used to hang at step 0; {"targets": 0} trained on nothing; no targets
    ended in seqio's KeyError. Each is refused at once (the guard fails the test if it hangs), naming the
    binding, and MODEL_DIR is not created."""
    tiny_setup.register()
    with _fails_after(seconds=60), pytest.raises(ValueError) as error:
        _train(tmp_path / "run", 2, model=model, train_dataset=tiny_setup.dataset_config(task_feature_lengths=lengths))
    assert str(error.value).startswith(f"TASK_FEATURE_LENGTHS = {lengths!r}: {problem}")
    assert "EncDecFeatureConverter builds the model's features from 'inputs', 'targets'" in str(error.value)
    assert "--gin.TASK_FEATURE_LENGTHS='{\"inputs\": " in str(error.value)
    assert not (tmp_path / "run").exists()


@contextlib.contextmanager
def _fails_after(seconds: int):
    """Fails the test (instead of hanging the suite) when the block runs longer than `seconds`."""
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: hangs instead of refusing the input")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _prediction_scores(targets, predictions):
    """Exact match, and a score that moves with the parameters even while nothing is right."""
    return {"exact_match": float(np.mean([t == p for t, p in zip(targets, predictions)])),
            "prediction_chars": float(np.mean([len(p) for p in predictions]))}


def _tensorboard_scalars(directory) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from the TensorBoard event files in `directory`."""
    import tensorflow as tf

    out = {}
    for path in directory.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return out


def test_profile_trace_model_flops_and_infer_eval_scalars_are_written(tmp_path, clean_registries, model):
    """What a run shows besides its losses (one tiny run for all, to compile once): PROFILE_STEPS'
    trace, the analytic model FLOP rate, and the held-out suite's scalars (t5x's infer_eval) every
    EVAL_PERIOD steps and at the last, read back from the TensorBoard event files."""
    tiny_setup.register(metric_fns=[_prediction_scores])
    with pytest.raises(ValueError, match="tiny_revers.*tiny_reverse"):  # a misspelt suite fails before training
        jobs.InferEval("tiny_revers", tiny_setup.LENGTHS)
    infer_eval = jobs.InferEval(tiny_setup.TASK_NAME, tiny_setup.LENGTHS, batch_size=8, split="validation", max_examples=8)
    result = _train(tmp_path, 3, model=model, profile_steps=(2, 3), eval_period=2, infer_eval=infer_eval)
    assert list((tmp_path / "profile").rglob("*.xplane.pb")), "no jax.profiler trace in MODEL_DIR/profile"
    shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, tiny_setup.LENGTHS, pack=True)
    flops = utilization.train_flops(model, 8, shapes)
    assert flops == utilization.t5_train_flops(model.module.config, 8, tiny_setup.LENGTHS["inputs"], tiny_setup.LENGTHS["targets"])
    for _, metrics in result.history:
        per_device = flops * metrics["steps_per_second"] / jax.device_count() / 1e12
        assert metrics["model_tflops_per_device"] == pytest.approx(per_device, rel=1e-3)
        assert "mfu" not in metrics  # a CPU has no peak in utilization.ACCELERATORS

    scalars = _tensorboard_scalars(tmp_path)
    task = f"infer_eval/{tiny_setup.TASK_NAME}"
    for tag in (f"{task}/exact_match", f"{task}/prediction_chars", "infer_eval/other_tasks_average"):
        assert sorted(scalars[tag]) == [2, 3], tag
    assert sorted(scalars["train/loss"]) == [1, 2, 3]
    # The last scalars are the final parameters' scores, and each evaluation's files are kept.
    final = infer_eval.results(model, result.state.params, partitioning.Partitioner(num_partitions=1))
    assert scalars[f"{task}/prediction_chars"][3] == pytest.approx(final.tasks[tiny_setup.TASK_NAME].metrics["prediction_chars"])
    assert scalars["infer_eval/other_tasks_average"][3] == pytest.approx(scalars[f"{task}/exact_match"][3])
    for step in (2, 3):
        assert json.loads((tmp_path / "infer_eval" / str(step) / "results.json").read_text())["run"]["step"] == step
    with pytest.raises(ValueError, match="PROFILE_STEPS"):
        _train(tmp_path / "bad", 3, model=model, profile_steps=(3, 2))


def test_unwritable_model_dir_fails_before_compiling(tmp_path, clean_registries, model, monkeypatch):
    tiny_setup.register()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(steps, "state_layout", lambda *a, **k: pytest.fail("compiled before checking MODEL_DIR"))
    with pytest.raises(PermissionError, match="MODEL_DIR .*a_file/run.* is not writable"):
        _train(blocker / "run", 1, model=model)


def test_unknown_task_suggests_close_names_and_leaves_no_model_dir(tmp_path, clean_registries, model):
    tiny_setup.register()
    with pytest.raises(ValueError, match="Did you mean: tiny_reverse"):
        trainer.train(
            model=model, partitioner=partitioning.Partitioner(), train_dataset=tiny_setup.dataset_config(mixture_or_task_name="tiny_revers"),
            learning_rate_schedule=optimizers.constant_schedule(1e-2), train_steps=1, model_dir=str(tmp_path / "run"),
        )
    assert not (tmp_path / "run").exists()


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

    # Independently: the same batches built with seqio's converter, scored one by one on one device
    # by the model's log-likelihood (not the loss function evaluate_loss uses).
    import seqio

    task = seqio.get_mixture_or_task(tiny_setup.TASK_NAME)
    dataset = task.get_dataset(tiny_setup.LENGTHS, split="validation", shuffle=False)
    host_params = jax.device_get(params)
    per_batch = []
    for batch in seqio.EncDecFeatureConverter(pack=False)(dataset, tiny_setup.LENGTHS).batch(16).as_numpy_iterator():
        per_batch.append((-float(np.sum(model.score_batch(host_params, batch))), float(np.sum(batch["decoder_loss_weights"]))))
    assert len(per_batch) == 4  # 64 validation examples at batch 16

    def expected(n):
        return sum(nll for nll, _ in per_batch[:n]) / sum(tokens for _, tokens in per_batch[:n])

    two = trainer.evaluate_loss(model, params, config, partitioner, num_batches=2)
    np.testing.assert_allclose(two["cross_entropy"], expected(2), rtol=1e-5)
    assert abs(expected(2) - expected(1)) > 1e-4  # two batches, not one counted twice
    assert 0.0 <= two["accuracy"] < 0.1  # an untrained model over 384 ids
    # Asking for more batches than exist sums all four.
    np.testing.assert_allclose(trainer.evaluate_loss(model, params, config, partitioner, num_batches=10)["cross_entropy"],
                               expected(4), rtol=1e-5)


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
