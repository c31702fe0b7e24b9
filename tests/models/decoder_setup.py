"""A tiny decoder config and random parameters for the decoder-only tests, built without running
flax's initialisers (their random draws take seconds to compile on a CPU)."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from flan_jax.models import decoder

# GQA (4 query heads over 2 key/value heads), heads * head_dim (32) != emb_dim (24), Qwen2's
# biases and Llama 3's rope scaling, so every option runs.
CONFIG = decoder.DecoderConfig(
    vocab_size=64, emb_dim=24, num_heads=4, num_kv_heads=2, num_layers=2, head_dim=8, mlp_dim=40,
    rope_theta=100.0, rope_scaling=decoder.Llama3RopeScaling(factor=4.0, original_max_position_embeddings=8),
    qkv_bias=True, layer_norm_epsilon=1e-6,
)


def abstract_params(module: decoder.Decoder, length: int = 8):
    """The boxed (logically partitioned) parameter shapes."""
    tokens = jnp.ones((1, length), jnp.int32)
    return jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), tokens, enable_dropout=False))["params"]


def random_params(module: decoder.Decoder, seed: int = 0) -> dict:
    """float32 parameters: norm scales near 1, everything else (biases too) N(0, 0.2)."""
    rng = np.random.default_rng(seed)

    def draw(path, leaf):
        noise = rng.normal(0.0, 0.2, leaf.shape).astype(np.float32)
        return 1.0 + noise / 2 if path[-1].key == "scale" else noise

    return jax.tree_util.tree_map_with_path(draw, nn.meta.unbox(abstract_params(module)))
