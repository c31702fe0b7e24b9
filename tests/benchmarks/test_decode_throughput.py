"""benchmarks/decode_throughput.py --profile: a traced program's time comes back by the model
code of its ops, with the matrix products' share."""
import importlib.util
import pathlib
import sys

import jax
import jax.numpy as jnp
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO / "benchmarks"))  # it imports train_throughput's timer
    try:
        spec = importlib.util.spec_from_file_location("decode_throughput", REPO / "benchmarks" / "decode_throughput.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


def test_op_times_names_the_model_code_and_the_products_share(bench, tmp_path):
    def layers(x, w):
        for i in range(2):
            with jax.named_scope(f"layers_{i}"):
                x = jnp.tanh(x @ w)
        return jax.lax.fori_loop(0, 3, lambda _, y: jnp.exp(y) @ w, x)

    fn = jax.jit(layers)
    args = (jnp.ones((64, 256)), jnp.full((256, 256), 0.01))
    hlo = fn.lower(*args).compile().as_text()
    jax.block_until_ready(fn(*args))
    jax.profiler.start_trace(str(tmp_path))
    for _ in range(2):
        jax.block_until_ready(fn(*args))
    jax.profiler.stop_trace()
    times, product_share = bench.op_times(hlo, str(tmp_path), calls=2)
    assert times and all(seconds > 0 for seconds in times.values())
    assert not any("layers_0" in op or "layers_1" in op for op in times), times  # folded into layers_N
    assert any("layers_N" in op for op in times), times
    assert any(op.startswith("while/body") for op in times), times  # the loop body's ops, not the loop
    assert "while" not in times
    assert 0.0 < product_share <= 1.0
