"""gin/models/decoder/*.gin build the published Llama 3.2 / Qwen2.5 sizes (counted abstractly,
nothing allocated) and a tiny model that trains on the byte vocabulary."""
import pathlib

import flax.linen as nn
import gin
import jax
import numpy as np
import pytest

from flan_jax.models import model as model_lib

GIN_DIR = pathlib.Path(__file__).resolve().parents[2] / "gin"

# Parameter counts of the Hugging Face checkpoints (tied embeddings counted once), which
# `model.num_parameters()` of transformers reports for meta-llama/Llama-3.2-1B,
# Qwen/Qwen2.5-0.5B and Qwen/Qwen2.5-1.5B.
PUBLISHED = {"llama3_2_1b": 1_235_814_400, "qwen2_5_0_5b": 494_032_768, "qwen2_5_1_5b": 1_543_714_304}


def _model(path: str, bindings=()):
    gin.parse_config_files_and_bindings([str(GIN_DIR / path)], list(bindings))
    return gin.query_parameter("%MODEL").scoped_configurable_fn()


def _count(model) -> int:
    shapes = {"decoder_input_tokens": (1, 8)}
    abstract = jax.eval_shape(lambda: model.get_initial_variables(jax.random.PRNGKey(0), shapes)["params"])
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(nn.meta.unbox(abstract)))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_sizes(name, fresh_gin, make_hf_tokenizer, tmp_path):
    tokenizer = make_hf_tokenizer(tmp_path)
    model = _model(f"models/decoder/{name}.gin", bindings=[f"TOKENIZER_PATH = '{tokenizer}'"])
    assert isinstance(model, model_lib.DecoderOnlyModel)
    config = model.module.config
    assert config.dtype == "bfloat16" and config.tie_word_embeddings and config.qkv_bias == name.startswith("qwen")
    assert model.output_vocabulary.eos_id == 1 and not model.inputs_bidirectional_attention
    assert _count(model) == PUBLISHED[name]


def test_the_tokenizer_path_is_required(fresh_gin):
    with pytest.raises(Exception, match="TOKENIZER_PATH"):
        _model("models/decoder/qwen2_5_0_5b.gin")


def test_tiny_runs_a_loss_step(fresh_gin):
    model = _model("models/decoder/tiny.gin")
    assert model.module.config.vocab_size == 384 and model.input_vocabulary.vocab_size == 259
    shapes = {"decoder_input_tokens": (2, 8)}
    params = jax.jit(lambda rng: nn.meta.unbox(model.get_initial_variables(rng, shapes)["params"]))(jax.random.PRNGKey(0))
    tokens = np.arange(3, 19, dtype=np.int32).reshape(2, 8)
    batch = {"decoder_input_tokens": tokens, "decoder_target_tokens": tokens + 1,
             "decoder_loss_weights": np.ones((2, 8), np.float32)}
    loss, aux = jax.jit(model.loss_fn)(params, batch, None)
    # A fresh model is near uniform over 384 ids: loss ~ log(384) = 5.95.
    assert 5.0 < float(loss) < 7.0 and float(aux["weight_sum"]) == 16.0
