"""benchmarks/decode_throughput.py --profile: a traced program's time comes back by the model
code of its ops, with the matrix products' share."""
import pathlib

import jax
import jax.numpy as jnp
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench(load_benchmark):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))  # it imports train_throughput's timer
        return load_benchmark("decode_throughput")


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
