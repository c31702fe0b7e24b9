"""Resuming after faults: an unreadable latest checkpoint, and a different mesh.

One uninterrupted 4-step run on the (8, 1) mesh saves every step; each test resumes from a copy
of its first checkpoints and must continue with exactly that run's losses.
"""
import shutil

import jax
import numpy as np
import pytest
import seqio

import tiny_setup

# Runs against the model engineer's flan_jax.models (skipped only while it is absent).
pytest.importorskip("flan_jax.models.model")
from flan_jax.train import checkpoints, optimizers, partitioning, trainer  # noqa: E402

STEPS = 4


@pytest.fixture(scope="module")
def model():
    # Dropout: the resumed steps must draw the same keys. One layer per stack keeps compiling cheap.
    return tiny_setup.tiny_model(dropout_rate=0.1, num_encoder_layers=1, num_decoder_layers=1)


@pytest.fixture(scope="module")
def tiny_task():
    added = tiny_setup.TASK_NAME not in seqio.TaskRegistry.names()
    if added:
        tiny_setup.register()
    yield
    if added:
        seqio.TaskRegistry.remove(tiny_setup.TASK_NAME)


def _train(model_dir, model, num_partitions=1):
    return trainer.train(
        model=model,
        partitioner=partitioning.Partitioner(num_partitions=num_partitions),
        train_dataset=tiny_setup.dataset_config(batch_size=8),
        learning_rate_schedule=optimizers.constant_schedule(1e-2),
        train_steps=STEPS,
        model_dir=str(model_dir),
        checkpoint_config=checkpoints.CheckpointConfig(period=1, async_save=False),
        log_period=1,
        truncation_check_examples=0,
        show_progress=False,
    )


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_task, model):
    """The uninterrupted run: (checkpoint directory, {step: loss}, final params)."""
    model_dir = tmp_path_factory.mktemp("straight")
    result = _train(model_dir, model)
    return model_dir / "checkpoints", {step: m["loss"] for step, m in result.history}, jax.device_get(result.state.params)


def _resume_dir(tmp_path, straight, up_to: int):
    """A MODEL_DIR holding the straight run's checkpoints of steps 1..up_to: as if it stopped there."""
    source = straight[0]
    shutil.copytree(source, tmp_path / "checkpoints", ignore=lambda d, names: [n for n in names if d == str(source) and n.isdigit() and int(n) > up_to])
    return tmp_path


def _assert_continues_like_straight(result, straight, start_step):
    _, losses, params = straight
    assert result.start_step == start_step
    assert [step for step, _ in result.history] == list(range(start_step + 1, STEPS + 1))
    np.testing.assert_allclose([m["loss"] for _, m in result.history], [losses[s] for s, _ in result.history], rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), jax.device_get(result.state.params), params)


def test_resumes_on_another_mesh_with_the_same_losses(tmp_path, straight, model):
    """Saved on (8, 1) (data x model), resumed on (2, 4): orbax reshards onto the new layout."""
    model_dir = _resume_dir(tmp_path, straight, up_to=2)
    result = _train(model_dir, model, num_partitions=4)
    assert (model_dir / "parameters.txt").read_text().startswith("mesh: {'data': 2, 'model': 4}")
    _assert_continues_like_straight(result, straight, start_step=2)


def _data_file(item):
    """A file every restore of an orbax item reads: its merged OCDBT data (`d/<hash>`: the b-tree,
    with small arrays stored inline; the per-process files beside it may hold nothing still referenced)."""
    return max(item.glob("d/*"), key=lambda p: p.stat().st_size)


def test_unreadable_steps_are_moved_aside_and_the_newest_good_one_resumed(tmp_path, straight, model, caplog):
    """Step 3 lost a file, step 2 has one cut short (an interrupted copy): both are set aside, step 1 resumes."""
    model_dir = _resume_dir(tmp_path, straight, up_to=3)
    missing = _data_file(model_dir / "checkpoints" / "3" / "opt_state")
    missing.unlink()
    truncated = _data_file(model_dir / "checkpoints" / "2" / "params")
    with open(truncated, "r+b") as f:
        f.truncate(truncated.stat().st_size // 2)
    with caplog.at_level("WARNING"):
        result = _train(model_dir, model)
    _assert_continues_like_straight(result, straight, start_step=1)
    warnings = [r.getMessage() for r in caplog.records if "cannot be restored" in r.getMessage()]
    assert len(warnings) == 2 and warnings[0].startswith("Checkpoint step 3 in ") and warnings[1].startswith("Checkpoint step 2 in "), warnings
    # tensorstore's error names the item (and the array) it could not read.
    assert str(missing.parent.parent) in warnings[0] and str(truncated.parent.parent) in warnings[1]
    # Moved aside, not deleted: each damaged step is kept as it was under its new name; steps 2 and 3 were saved anew.
    for step, broken, warning in ((3, missing, warnings[0]), (2, truncated, warnings[1])):
        (aside,) = (model_dir / "checkpoints").glob(f"{step}.unreadable-*")
        assert str(aside) in warning
        assert (aside / broken.relative_to(model_dir / "checkpoints" / str(step))).exists() == (broken is truncated)
    assert sorted(p.name for p in (model_dir / "checkpoints").iterdir() if p.name.isdigit()) == ["1", "2", "3", "4"]


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(tmp_path, straight, model):
    model_dir = _resume_dir(tmp_path, straight, up_to=1)
    broken = _data_file(model_dir / "checkpoints" / "1" / "params")
    broken.write_bytes(b"")
    with pytest.raises(checkpoints.UnreadableCheckpointError, match=r"No checkpoint in .* can be restored \(step 1: .*Nothing was moved"):
        _train(model_dir, model)
    assert sorted(p.name for p in (model_dir / "checkpoints").iterdir()) == ["1"]
