"""Memory plans: FLAN-T5 parameter counts from abstract shapes, a tiny model's plan on 8 fake
devices (fsdp shards what data parallelism replicates), and the analytic FLOP count against
XLA's count of the same compiled step."""
import json
import pathlib

import gin
import pytest

from flan_jax import gin_configurables  # noqa: F401  (registers every configurable)
from flan_jax.train import plan, plan_command, utilization

GIN_DIR = pathlib.Path(__file__).resolve().parents[2] / "gin"

# The published FLAN-T5 sizes (google/flan-t5-*, untied lm_head).
FLAN_T5_PARAMETERS = {
    "small": 76_961_152, "base": 247_577_856, "large": 783_150_080, "xl": 2_849_757_184, "xxl": 11_135_332_352,
}


@pytest.mark.parametrize("size", sorted(FLAN_T5_PARAMETERS))
def test_parameter_counts_are_the_published_ones(size, fresh_gin):
    # Scanned layers trace one layer per stack, so even XXL's shapes come in a second or two.
    gin.parse_config_files_and_bindings([str(GIN_DIR / "models" / "t5_1_1" / f"{size}.gin")], ["SCAN_LAYERS = True"])
    model = gin.query_parameter("%MODEL").scoped_configurable_fn()
    assert plan.count_parameters(model) == FLAN_T5_PARAMETERS[size]


TINY_BINDINGS = ["BATCH_SIZE = 16", "TASK_FEATURE_LENGTHS = {'inputs': 64, 'targets': 32}", "DROPOUT_RATE = 0.0"]


@pytest.fixture(scope="module")
def fsdp_plan():
    """The library's plan of the tiny model's step with fsdp rules on 8 devices (no dropout, whose
    random bits XLA would count as FLOPs)."""
    gin.clear_config()
    gin.add_config_file_search_path(str(GIN_DIR))
    gin.parse_config_files_and_bindings(
        [str(GIN_DIR / "runs" / "plan.gin"), str(GIN_DIR / "models" / "t5_1_1" / "tiny.gin"),
         str(GIN_DIR / "partitioning" / "fsdp.gin")], TINY_BINDINGS, finalize_config=False,  # MODEL_DIR stays unset
    )
    model = gin.query_parameter("%MODEL").scoped_configurable_fn()
    result = gin_configurables.plan()
    gin.clear_config()
    return model, result


def test_tiny_plan_command_on_eight_devices_and_fsdp_shards_the_state(fsdp_plan, capsys, fresh_gin):
    argv = ["--gin_file=models/t5_1_1/tiny.gin", "--mesh", "8", "--batch", "16", "--lengths", "64/32",
            "--partitioning", "data_parallel", "--gin.DROPOUT_RATE=0.0", "--json"]
    assert plan_command.main(argv) == 0
    dense = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert dense["devices"] == 8 and dense["mesh"] == {"data": 8, "model": 1}
    assert dense["parameters"] == 246_784 and dense["rules"] == "standard" and dense["lengths"] == "64/32"
    dense_bytes = dense["per_device_bytes"]
    assert dense_bytes["params"] == 4 * dense["parameters"]  # every device holds every float32 weight
    assert dense_bytes["temp"] > 0 and all(dense["fits"].values())
    assert dense_bytes["total"] == sum(dense_bytes[k] for k in ("params", "opt_state", "temp", "other"))

    _, sharded = fsdp_plan
    sharded_bytes = sharded.per_device_bytes
    assert sharded.parameters == dense["parameters"] and sharded.devices == 8
    # Sharded 8 ways but for the few tensors without an 'embed' axis (relative position tables).
    assert dense_bytes["params"] / 8 <= sharded_bytes["params"] < dense_bytes["params"] / 8 * 1.05
    assert sharded_bytes["opt_state"] < dense_bytes["opt_state"] / 4
    # (Not the total: at this size the all-gathers' buffers outweigh the saved weights.)


def test_mesh_flag_conflicting_with_the_preset_is_named(capsys, fresh_gin):
    argv = ["--gin_file=models/t5_1_1/tiny.gin", "--mesh", "8x1", "--partitioning", "model_parallel_2"]
    assert plan_command.main(argv) == 1
    assert "use --mesh 4x2" in capsys.readouterr().err


def test_analytic_flops_match_xla_cost_analysis(fsdp_plan, load_benchmark):
    """The analytic count against XLA's count of the same compiled tiny step on 8 devices.

    XLA's cost analysis counts more: the elementwise work the analytic count leaves out (softmax,
    norms, GELU, the loss, Adafactor: 3.8% of it on one device at the tiny model's widths) and,
    multiplied by the devices, what every device repeats (the batch-independent position-bias
    tables and their gradients: 3.6% more on 8 devices). The matrix products alone, read from the
    compiled HLO, agree to 0.2% (the rest: the position-bias gradient's product with ones in
    `t5.add_shared_bias`)."""
    model, result = fsdp_plan
    assert result.train_flops == utilization.t5_train_flops(model.module.config, 16, 64, 32)
    cost = result.compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    xla_flops = float(cost["flops"]) * result.devices  # an SPMD program counts one device's share
    assert 1.0 < xla_flops / result.train_flops < 1.10
    products = load_benchmark("matmul_rate").products_in_hlo(result.compiled.as_text())
    product_flops = sum(product.flop * count for product, count in products.items()) * result.devices
    assert 1.0 <= product_flops / result.train_flops < 1.005
