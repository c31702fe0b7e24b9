"""Mesh construction, logical-axis rules, optimizer-state shardings and the errors they raise."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from flan_jax.train import optimizers, partitioning


class _TinyMlp(nn.Module):
    """A logically partitioned block shaped like a T5 MLP plus an embedding."""

    embed: int = 16
    mlp: int = 256
    vocab: int = 32
    extra_axis: str = "embed"

    @nn.compact
    def __call__(self, tokens):
        init = nn.initializers.normal(0.1)
        embedding = self.param(
            "embedding", nn.with_logical_partitioning(init, ("vocab", self.extra_axis)), (self.vocab, self.embed)
        )
        wi = self.param("wi", nn.with_logical_partitioning(init, ("embed", "mlp")), (self.embed, self.mlp))
        wo = self.param("wo", nn.with_logical_partitioning(init, ("mlp", "embed")), (self.mlp, self.embed))
        scale = self.param("scale", nn.with_logical_partitioning(nn.initializers.ones, ("embed",)), (self.embed,))
        x = embedding[tokens]
        return (jax.nn.relu(x @ wi) @ wo) * scale


def _abstract(module=None):
    module = module or _TinyMlp()
    return jax.eval_shape(module.init, jax.random.PRNGKey(0), jnp.zeros((4, 3), jnp.int32))["params"]


@pytest.mark.parametrize("num_partitions, shape", [(1, (8, 1)), (2, (4, 2)), (4, (2, 4)), (8, (1, 8))])
def test_mesh_shape_follows_num_partitions(num_partitions, shape):
    mesh = partitioning.make_mesh(num_partitions)
    assert mesh.axis_names == ("data", "model")
    assert tuple(mesh.devices.shape) == shape


def test_model_parallel_submesh_sets_the_model_axis():
    assert partitioning.make_mesh(None, model_parallel_submesh=(1, 2, 1, 2)).shape["model"] == 4
    with pytest.raises(ValueError, match="not both"):
        partitioning.make_mesh(2, model_parallel_submesh=(1, 1, 1, 2))
    with pytest.raises(ValueError, match="NUM_PARTITIONS=3 does not divide the 8 devices"):
        partitioning.make_mesh(3)


def test_standard_rules_shard_wide_weight_dims_over_model():
    partitioner = partitioning.Partitioner(num_partitions=2)
    logical, specs = partitioner.param_specs(_abstract())
    assert logical["wi"] == P("embed", "mlp")
    assert specs["wi"] == P(None, "model")
    assert specs["wo"] == P("model", None)
    assert specs["embedding"] == P("model", None)
    assert specs["scale"] == P(None)


def test_fsdp_rules_also_shard_embed_over_data():
    partitioner = partitioning.Partitioner(
        num_partitions=2, logical_axis_rules=partitioning.standard_logical_axis_rules(fsdp=True)
    )
    _, specs = partitioner.param_specs(_abstract())
    assert specs["wi"] == P("data", "model")
    assert specs["wo"] == P("model", "data")
    assert specs["scale"] == P("data")


def test_unknown_logical_axis_names_the_parameter():
    partitioner = partitioning.Partitioner(num_partitions=2)
    with pytest.raises(ValueError, match=r"Parameter embedding .*\['hidden'\] are not in the logical axis rules"):
        partitioner.param_specs(_abstract(_TinyMlp(extra_axis="hidden")))


def test_indivisible_dimension_names_the_parameter_and_axis():
    partitioner = partitioning.Partitioner(num_partitions=8)
    with pytest.raises(ValueError, match=r"Parameter wi of shape \(16, 36\): dimension 1 \('mlp', size 36\)"):
        partitioner.param_specs(_abstract(_TinyMlp(mlp=36)))


def test_batch_size_is_checked_against_data_parallelism():
    partitioner = partitioning.Partitioner(num_partitions=2)  # 4 data-parallel replicas
    partitioner.check_batch_size(8)
    partitioner.check_batch_size(8, num_microbatches=2)
    with pytest.raises(ValueError, match="BATCH_SIZE=6 .* multiple of 4"):
        partitioner.check_batch_size(6)
    with pytest.raises(ValueError, match="multiple of 16"):
        partitioner.check_batch_size(8, num_microbatches=4)


def test_adafactor_state_specs_drop_the_factored_dimension_and_init_sharded():
    partitioner = partitioning.Partitioner(
        num_partitions=2, logical_axis_rules=partitioning.standard_logical_axis_rules(fsdp=True)
    )
    module = _TinyMlp(embed=128, mlp=256)
    abstract_boxed = _abstract(module)
    _, param_specs = partitioner.param_specs(abstract_boxed)
    abstract_params = nn.meta.unbox(abstract_boxed)
    tx = optimizers.adafactor(optimizers.constant_schedule(1e-3))
    abstract_opt = jax.eval_shape(tx.init, abstract_params)
    opt_specs = partitioning.optimizer_state_specs(abstract_opt, abstract_params, param_specs)
    factored = opt_specs[0]
    # wi [embed=128 (data), mlp=256 (model)]: v_row drops the largest (mlp), v_col the other.
    assert factored.v_row["wi"] == P("data")
    assert factored.v_col["wi"] == P("model")
    # wo [mlp=256 (model), embed=128 (data)]
    assert factored.v_row["wo"] == P("data")
    assert factored.v_col["wo"] == P("model")
    # Unfactored (embedding is 32 x 128): full second moment with the parameter's spec.
    assert factored.v["embedding"] == P("model", "data")
    assert factored.v["wi"] == P()  # the (1,) placeholder
    assert factored.count == P()

    def init(rng):
        params = nn.meta.unbox(module.init(rng, jnp.zeros((4, 3), jnp.int32))["params"])
        return params, tx.init(params)

    shardings = (partitioner.to_shardings(param_specs), partitioner.to_shardings(opt_specs))
    params, opt_state = jax.jit(init, out_shardings=shardings)(jax.random.PRNGKey(0))
    assert params["wi"].sharding.spec == P("data", "model")
    assert opt_state[0].v_col["wi"].sharding.spec == P("model")
    # One update step runs with these shardings and keeps them.
    grads = jax.tree.map(jnp.ones_like, params)
    step = jax.jit(tx.update, out_shardings=(shardings[0], shardings[1]))
    _, new_state = step(grads, opt_state, params)
    assert new_state[0].v_row["wo"].sharding.spec == P("data")


def test_host_local_batch_becomes_a_global_array_sharded_over_data():
    partitioner = partitioning.Partitioner(num_partitions=2)
    local = {"tokens": np.arange(16, dtype=np.int32).reshape(8, 2)}
    batch = partitioner.host_local_to_global(local)
    assert batch["tokens"].shape == (8, 2)
    assert batch["tokens"].sharding.spec == P("data")
    np.testing.assert_array_equal(np.asarray(batch["tokens"]), local["tokens"])


def test_parameter_table_lists_names_axes_and_counts():
    partitioner = partitioning.Partitioner(num_partitions=2)
    abstract_boxed = _abstract()
    logical, specs = partitioner.param_specs(abstract_boxed)
    table = partitioning.describe_parameters(nn.meta.unbox(abstract_boxed), logical, specs, partitioner.mesh)
    assert "wi" in table and "('embed', 'mlp')" in table and "(None, 'model')" in table
    assert f"total parameters: {32 * 16 + 16 * 256 * 2 + 16:,}" in table
