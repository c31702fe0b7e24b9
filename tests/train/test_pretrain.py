"""`flan-jax pretrain`: trains once into a directory keyed by its config, then reuses the checkpoint."""
import pytest

from flan_jax.train import pretrain

# A seconds-long run of a one-layer model: 34 corpus bytes -> 32 inputs and 8 targets per example.
BINDINGS = ["TRAIN_STEPS = 2", "BATCH_SIZE = 8", 'TASK_FEATURE_LENGTHS = {"inputs": 32, "targets": 8}',
            "CHECKPOINT_PERIOD = 2", "LOG_PERIOD = 1", "train.eval_dataset = None",
            "network.T5Config.num_encoder_layers = 1", "network.T5Config.num_decoder_layers = 1",
            "network.T5Config.emb_dim = 16", "network.T5Config.mlp_dim = 32"]


def test_cache_key_ignores_where_the_run_goes_and_sees_the_rest():
    import numpy as np

    batch = {"encoder_input_tokens": np.arange(6).reshape(2, 3)}
    key = pretrain.cache_key("A = 1\nMODEL_DIR = None\nPRETRAIN_CACHE_DIR = 'x'", batch)
    assert key == pretrain.cache_key("A = 1\nMODEL_DIR = 'y'\nPRETRAIN_CACHE_DIR = 'z'", batch)
    assert key != pretrain.cache_key("A = 2\nMODEL_DIR = None", batch)
    assert key != pretrain.cache_key("A = 1\nMODEL_DIR = None", {"encoder_input_tokens": np.arange(6).reshape(3, 2)})


def test_pretrains_once_then_reuses_the_checkpoint(tmp_path, fresh_gin, monkeypatch, capsys):
    bindings = [*BINDINGS, f"PRETRAIN_CACHE_DIR = '{tmp_path}'"]
    path = pretrain.pretrained_checkpoint(gin_bindings=bindings, show_progress=False)
    assert path.name == "2" and (path / "params").is_dir() and path.parents[2] == tmp_path
    assert "TRAIN_STEPS = 2" in (path.parents[1] / "config.gin").read_text()
    assert "loss per target token: first" in capsys.readouterr().out

    # INITIAL_CHECKPOINT_PATH accepts it: the model of the same gin config restores its parameters.
    from flan_jax import gin_configurables
    from flan_jax.data import features
    from flan_jax.train import checkpoints

    model = gin_configurables.EncoderDecoderModel()
    shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, {"inputs": 32, "targets": 8}, pack=False)
    params, step = checkpoints.restore_model_params(model, path, shapes, source="INITIAL_CHECKPOINT_PATH")
    assert step == 2 and params["token_embedder"]["embedding"].shape == (384, 16)

    def must_not_train(flags):
        raise AssertionError("the finished checkpoint should have been reused")

    monkeypatch.setattr(pretrain.train_main, "run", must_not_train)
    assert pretrain.pretrained_checkpoint(gin_bindings=bindings, show_progress=False) == path


def test_cli_prints_the_checkpoint_of_a_model_dir_run(tmp_path, fresh_gin, monkeypatch, capsys):
    (tmp_path / "run" / "checkpoints" / "2" / "params").mkdir(parents=True)
    monkeypatch.setattr(pretrain.train_main, "run", lambda flags: pytest.fail("finished: nothing to train"))
    assert pretrain.main([*(f"--gin_bindings={b}" for b in BINDINGS), f"--gin.MODEL_DIR='{tmp_path / 'run'}'"]) == 0
    assert capsys.readouterr().out.strip().endswith(str(tmp_path / "run" / "checkpoints" / "2"))
