"""Orbax checkpoints: keep-last-K, restore onto a different mesh, INITIAL_CHECKPOINT_PATH lookup."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from flan_jax.models import layer_stacking
from flan_jax.train import checkpoints, partitioning


def _items(mesh, value):
    sharding = NamedSharding(mesh, P("data", "model"))
    params = {"kernel": jax.device_put(jnp.full((8, 4), value, jnp.float32), sharding)}
    opt_state = {"v": jax.device_put(jnp.full((8, 4), -value, jnp.float32), sharding), "count": jnp.int32(value)}
    return {"params": params, "opt_state": opt_state}


def test_keeps_the_last_k_and_saves_on_the_period(tmp_path):
    mesh = partitioning.make_mesh(2)
    manager = checkpoints.CheckpointManager(tmp_path, checkpoints.CheckpointConfig(period=2, keep=2))
    saved = [step for step in range(1, 8) if manager.save(step, _items(mesh, float(step)))]
    manager.wait_until_finished()
    assert saved == [2, 4, 6]
    assert manager.all_steps() == [4, 6]
    assert manager.latest_step() == 6
    assert manager.save(7, _items(mesh, 7.0), force=True)
    manager.wait_until_finished()
    assert manager.all_steps() == [6, 7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["6", "7"]  # no leftover temporaries
    manager.close()


def test_restore_reshards_onto_another_mesh(tmp_path):
    manager = checkpoints.CheckpointManager(tmp_path, checkpoints.CheckpointConfig(period=1, async_save=False))
    manager.save(3, _items(partitioning.make_mesh(1), 3.0))
    manager.wait_until_finished()

    other = partitioning.make_mesh(4)  # (2, 4) instead of (8, 1)
    target = NamedSharding(other, P("model", None))
    replicated = NamedSharding(other, P())
    abstract = {
        "params": {"kernel": jax.ShapeDtypeStruct((8, 4), jnp.float32, sharding=target)},
        "opt_state": {
            "v": jax.ShapeDtypeStruct((8, 4), jnp.float32, sharding=target),
            "count": jax.ShapeDtypeStruct((), jnp.int32, sharding=replicated),
        },
    }
    restored = manager.restore(manager.latest_step(), abstract)
    assert restored["params"]["kernel"].sharding == target
    np.testing.assert_array_equal(restored["params"]["kernel"], np.full((8, 4), 3.0))
    np.testing.assert_array_equal(restored["opt_state"]["v"], np.full((8, 4), -3.0))
    assert int(restored["opt_state"]["count"]) == 3
    manager.close()


def test_initial_checkpoint_path_accepts_step_checkpoint_and_model_dirs(tmp_path):
    mesh = partitioning.make_mesh(2)
    model_dir = tmp_path / "run"
    manager = checkpoints.CheckpointManager(checkpoints.checkpoint_directory(model_dir))
    for step in (10, 20):
        manager.save(step, _items(mesh, float(step)), force=True)
    manager.wait_until_finished()
    manager.close()

    sharding = NamedSharding(mesh, P(None, "model"))
    abstract = {"kernel": jax.ShapeDtypeStruct((8, 4), jnp.float32, sharding=sharding)}
    for path, expected in [(model_dir, 20), (model_dir / "checkpoints", 20), (model_dir / "checkpoints" / "10", 10)]:
        params = checkpoints.restore_params(path, abstract)
        np.testing.assert_array_equal(params["kernel"], np.full((8, 4), expected))
        assert params["kernel"].sharding == sharding

    wrong = {"kernel": jax.ShapeDtypeStruct((4, 4), jnp.float32, sharding=sharding)}
    with pytest.raises(ValueError, match="do not match the model's parameters"):
        checkpoints.restore_params(model_dir, wrong)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoints.restore_params(tmp_path / "missing", abstract)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="^INITIAL_CHECKPOINT_PATH .* holds no orbax checkpoint"):
        checkpoints.restore_params(tmp_path / "empty", abstract)


def test_errors_name_the_macro_that_gave_the_path(tmp_path):
    """Eval restores CHECKPOINT_PATH: its errors must not send the user to INITIAL_CHECKPOINT_PATH."""
    abstract = {"kernel": jax.ShapeDtypeStruct((2, 3), jnp.float32, sharding=NamedSharding(partitioning.make_mesh(1), P()))}
    with pytest.raises(FileNotFoundError, match="^CHECKPOINT_PATH .*missing' does not exist"):
        checkpoints.restore_params(tmp_path / "missing", abstract, source="CHECKPOINT_PATH")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="^CHECKPOINT_PATH .* holds no orbax checkpoint"):
        checkpoints.find_params_directory(tmp_path / "empty", "CHECKPOINT_PATH")
    checkpoints.save_params(tmp_path / "small", {"kernel": jnp.zeros((4, 4))})
    with pytest.raises(ValueError, match=r"\(CHECKPOINT_PATH\) do not match"):
        checkpoints.restore_params(tmp_path / "small", abstract, source="CHECKPOINT_PATH")


def test_save_params_writes_what_restore_params_reads(tmp_path):
    checkpoints.save_params(tmp_path / "converted", {"kernel": jnp.arange(6.0).reshape(2, 3)})
    abstract = {"kernel": jax.ShapeDtypeStruct((2, 3), jnp.float32, sharding=NamedSharding(partitioning.make_mesh(1), P()))}
    np.testing.assert_array_equal(checkpoints.restore_params(tmp_path / "converted", abstract)["kernel"], np.arange(6.0).reshape(2, 3))


def test_restore_params_converts_unrolled_layers_for_a_scanned_model_and_back(tmp_path):
    """A checkpoint of unrolled layers (every existing one, HF conversions) restores into a model
    with scan_layers, stacked on the model's shardings, and a scanned one into an unrolled model."""
    rng = np.random.default_rng(0)
    unrolled = {
        "encoder": {f"layers_{i}": {"mlp": {"kernel": rng.normal(size=(4, 8)).astype(np.float32)}} for i in range(3)},
        "token_embedder": {"embedding": rng.normal(size=(16, 4)).astype(np.float32)},
    }
    checkpoints.save_params(tmp_path / "unrolled", unrolled)
    mesh = partitioning.make_mesh(2)
    abstract = {
        "encoder": {"layers": {"mlp": {"kernel": jax.ShapeDtypeStruct((3, 4, 8), jnp.float32, sharding=NamedSharding(mesh, P(None, None, "model")))}}},
        "token_embedder": {"embedding": jax.ShapeDtypeStruct((16, 4), jnp.float32, sharding=NamedSharding(mesh, P("model")))},
    }
    scanned = checkpoints.restore_params(tmp_path / "unrolled", abstract)
    kernel = scanned["encoder"]["layers"]["mlp"]["kernel"]
    assert kernel.sharding.spec == P(None, None, "model")
    np.testing.assert_array_equal(kernel, layer_stacking.stack_layers(unrolled)["encoder"]["layers"]["mlp"]["kernel"])
    np.testing.assert_array_equal(scanned["token_embedder"]["embedding"], unrolled["token_embedder"]["embedding"])

    checkpoints.save_params(tmp_path / "scanned", scanned)
    back = checkpoints.restore_params(tmp_path / "scanned", layer_stacking.unstack_abstract(abstract))
    assert back["encoder"]["layers_2"]["mlp"]["kernel"].sharding.spec == P(None, "model")
    jax.tree.map(np.testing.assert_array_equal, back, unrolled)
