"""gin/models/t5_1_1/*.gin build the FLAN-T5 sizes; the run files' dropout survives them."""
import pathlib

import flax.linen as nn
import gin
import jax
import numpy as np
import pytest

from flan_jax import gin_configurables  # noqa: F401  (registers network.*, models.*, vocabularies.*)
from flan_jax.models import model as model_lib

GIN_DIR = pathlib.Path(__file__).resolve().parents[2] / "gin"

# (emb_dim, encoder layers, decoder layers, heads, head_dim, mlp_dim): google/flan-t5-* config.json.
FLAN_T5_SIZES = {
    "small": (512, 8, 8, 6, 64, 1024),
    "base": (768, 12, 12, 12, 64, 2048),
    "large": (1024, 24, 24, 16, 64, 2816),
    "xl": (2048, 24, 24, 32, 64, 5120),
    "xxl": (4096, 24, 24, 64, 64, 10240),
}


@pytest.fixture
def fresh_gin():
    gin.clear_config()
    gin.add_config_file_search_path(str(GIN_DIR))
    yield
    gin.clear_config()


def _model(*files, bindings=()):
    gin.parse_config_files_and_bindings([str(GIN_DIR / f) for f in files], list(bindings))
    return gin.query_parameter("%MODEL").scoped_configurable_fn()


@pytest.mark.parametrize("size", sorted(FLAN_T5_SIZES))
def test_flan_t5_sizes(size, fresh_gin):
    model = _model(f"models/t5_1_1/{size}.gin")
    config = model.module.config
    assert isinstance(model, model_lib.EncoderDecoderModel)
    assert (config.emb_dim, config.num_encoder_layers, config.num_decoder_layers, config.num_heads,
            config.head_dim, config.mlp_dim) == FLAN_T5_SIZES[size]
    assert config.vocab_size == 32128 and config.dtype == "bfloat16" and config.dropout_rate == 0.0
    assert model.z_loss == 1e-4 and model.label_smoothing == 0.0 and model.loss_normalizing_factor is None


def test_small_parameter_count(fresh_gin):
    """FLAN-T5 small has 76,961,152 parameters (its safetensors file, untied lm_head)."""
    model = _model("models/t5_1_1/small.gin")
    shapes = {"encoder_input_tokens": (1, 8), "decoder_input_tokens": (1, 8)}
    abstract = jax.eval_shape(lambda: model.get_initial_variables(jax.random.PRNGKey(0), shapes)["params"])
    count = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(nn.meta.unbox(abstract)))
    assert count == 76_961_152


@pytest.mark.parametrize("order", ["run_first", "model_first"])
def test_run_file_dropout_survives_model_file(order, fresh_gin):
    files = ["runs/finetune.gin", "models/t5_1_1/small.gin"]
    model = _model(*(files if order == "run_first" else files[::-1]), bindings=["MODEL_DIR='/tmp/x'", "MIXTURE_OR_TASK_NAME='t'"])
    assert model.module.config.dropout_rate == 0.05


def test_tiny_runs_a_loss_step(fresh_gin):
    model = _model("models/t5_1_1/tiny.gin")
    assert model.module.config.vocab_size == 384 and model.input_vocabulary.vocab_size == 259
    shapes = {"encoder_input_tokens": (2, 8), "decoder_input_tokens": (2, 4)}
    params = nn.meta.unbox(model.get_initial_variables(jax.random.PRNGKey(0), shapes)["params"])
    tokens = np.arange(3, 11, dtype=np.int32).reshape(2, 4)
    batch = {"encoder_input_tokens": np.tile(tokens, 2), "decoder_input_tokens": tokens, "decoder_target_tokens": tokens,
             "decoder_loss_weights": np.ones((2, 4), np.float32)}
    loss, aux = model.loss_fn(params, batch, None)
    # A fresh model is near uniform over 384 ids: loss ~ log(384) = 5.95.
    assert 4.0 < float(loss) < 9.0 and float(aux["weight_sum"]) == 8.0
