"""benchmarks/train_throughput.py --family decoder: the dimensions it reads are the gin files',
its rows are the prefix-LM layout, and the analytic FLOPs (utilization.decoder_train_flops, which
the trainer and the benchmark use) are the model's matrix products."""
import flax.linen as nn
import jax
import numpy as np
import pytest

from flan_jax.train import utilization


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("train_throughput")


def test_decoder_dims_follow_the_gin_files(bench):
    llama = bench.decoder_dims("llama3_2_1b")
    assert llama["emb_dim"] == 2048 and llama["tie_word_embeddings"] is True and llama["qkv_bias"] is False
    assert llama["rope_scaling"] == {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 8192}
    assert bench.decoder_config(llama, "bfloat16").rope_scaling.factor == 32.0
    assert bench.t5_dims("small")["emb_dim"] == 512


def test_prefix_lm_rows_hold_inputs_then_targets(bench):
    t5_batch = bench.random_batch(384, 2, 5, 3)
    rows = bench.prefix_lm_batch(t5_batch)
    np.testing.assert_array_equal(rows["decoder_target_tokens"][:, :5], t5_batch["encoder_input_tokens"])
    np.testing.assert_array_equal(rows["decoder_input_tokens"][:, 1:], rows["decoder_target_tokens"][:, :-1])
    np.testing.assert_array_equal(rows["decoder_loss_weights"][0], [0] * 5 + [1] * 3)


def test_analytic_flops_count_every_matrix_parameter(bench):
    """For one token of length 1 the count is 6 x the matrix parameters plus one attention term:
    all parameters but the norm scales (the tied embedding counts once, as the output projection;
    its lookup is no product)."""
    dims = bench.decoder_dims("100m")
    model = bench.our_model(dims, type("Flags", (), {"family": "decoder", "dtype": "float32"}))
    abstract = jax.eval_shape(lambda: model.get_initial_variables(jax.random.PRNGKey(0), {"decoder_input_tokens": (1, 1)}))
    leaves = jax.tree_util.tree_leaves_with_path(nn.meta.unbox(abstract["params"]))
    total = sum(int(np.prod(x.shape)) for _, x in leaves)
    scales = sum(int(np.prod(x.shape)) for path, x in leaves if path[-1].key == "scale")
    assert total == 100_092_672
    attention = 12 * dims["num_layers"] * dims["num_heads"] * dims["head_dim"]
    expected = 6 * (total - scales) + attention
    assert utilization.decoder_train_flops(bench.decoder_config(dims, "float32"), 1, 1) == expected
    assert utilization.train_flops(model, 1, {"decoder_input_tokens": (1, 1)}) == expected  # what the trainer logs
