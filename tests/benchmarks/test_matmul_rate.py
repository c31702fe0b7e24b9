"""benchmarks/matmul_rate.py: the products it finds in a compiled step are the step's own."""
import math

import jax
import jax.numpy as jnp
import pytest


@pytest.fixture(scope="module")
def matmul_rate(load_benchmark):
    return load_benchmark("matmul_rate")


def test_products_in_hlo_finds_every_product_with_its_flops(matmul_rate):
    def step(x, w, q, k):
        hidden = jnp.tanh(x @ w)  # [6, 8] x [8, 16]
        weight_gradient = jax.lax.dot_general(x, hidden, (((0,), (0,)), ((), ())))  # contracts the rows
        scores = jnp.einsum("bhqd,bhkd->bhqk", q, k)  # batched over b and h
        return hidden.sum() + weight_gradient.sum() + scores.sum()

    args = (jnp.ones((6, 8)), jnp.ones((8, 16)), jnp.ones((2, 3, 5, 4)), jnp.ones((2, 3, 7, 4)))
    compiled = jax.jit(step).lower(*args).compile()

    products = matmul_rate.products_in_hlo(compiled.as_text())

    assert sum(products.values()) == 3
    assert {p.dtype for p in products} == {"float32"}
    assert sorted(p.flop for p in products) == sorted([2 * 6 * 8 * 16, 2 * 8 * 16 * 6, 2 * 2 * 3 * 5 * 7 * 4])
    assert [p.lhs_batch for p in products if p.lhs_batch] == [(0, 1)]


@pytest.mark.parametrize("product", [
    ((2, 3, 5, 4), (2, 3, 4, 7), (3,), (2,), (0, 1), (0, 1)),  # attention scores: batched over b and h
    ((6, 8), (8, 16), (1,), (0,), (), ()),  # a projection
    ((6, 8), (6, 16), (0,), (0,), (), ()),  # a weight gradient: contracts the rows
], ids=["batched", "projection", "gradient"])
def test_torch_runs_the_same_product_as_xla(matmul_rate, product):
    """The layout torch's GEMM is timed on computes XLA's dot_general exactly (on distinct values)."""
    torch = pytest.importorskip("torch")
    import numpy as np

    product = matmul_rate.Product(*product)
    rng = np.random.default_rng(0)
    lhs, rhs = rng.standard_normal(product.lhs, np.float32), rng.standard_normal(product.rhs, np.float32)
    numbers = ((product.lhs_contracting, product.rhs_contracting), (product.lhs_batch, product.rhs_batch))
    xla = np.asarray(jax.lax.dot_general(jnp.asarray(lhs), jnp.asarray(rhs), numbers, precision="highest"))
    a = matmul_rate.as_bmm(torch.from_numpy(lhs), product.lhs_batch, product.lhs_contracting, True)
    b = matmul_rate.as_bmm(torch.from_numpy(rhs), product.rhs_batch, product.rhs_contracting, False)
    np.testing.assert_allclose(torch.bmm(a, b).numpy().reshape(xla.shape), xla, rtol=1e-5, atol=1e-5)
    assert torch.bmm(a, b).numpy().size * 2 * a.shape[-1] == product.flop
    for seconds in (matmul_rate.xla_seconds(product, 1), matmul_rate.torch_seconds(product, 1)):
        assert 0 < seconds < 1 and math.isfinite(seconds)
