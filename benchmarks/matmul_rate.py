"""Matrix products, XLA (jax.jit) against torch, in GFLOP/s: the kernel both train steps spend
most of their time in, so it bounds how far a jitted step can outrun an eager one on a machine.

One product here (default shape: T5-small's feed-forward input projection for batch 8 x 256
tokens, [2048, 512] x [512, 1024]); `train_throughput.py --products` times every product of the
compiled train step this way, each alone. bfloat16 multiplies bfloat16 inputs and sums in float32
on both sides (`preferred_element_type=float32` in JAX, as flan_jax's projections do; torch's
bf16 GEMM accumulates in float32 itself).

    python benchmarks/matmul_rate.py [--m 2048 --k 512 --n 1024] [--dtype bfloat16]
"""
import argparse
import collections
import dataclasses
import math
import os
import re
import sys
import timeit


@dataclasses.dataclass(frozen=True)
class Product:
    """One `lax.dot_general`: operand shapes, dimension numbers as XLA writes them, operand dtype."""

    lhs: tuple[int, ...]
    rhs: tuple[int, ...]
    lhs_contracting: tuple[int, ...]
    rhs_contracting: tuple[int, ...]
    lhs_batch: tuple[int, ...] = ()
    rhs_batch: tuple[int, ...] = ()
    dtype: str = "float32"

    @property
    def flop(self) -> int:
        contracted = math.prod(self.lhs[d] for d in self.lhs_contracting)
        lhs_free = math.prod(n for d, n in enumerate(self.lhs) if d not in self.lhs_contracting)
        rhs_free = math.prod(n for d, n in enumerate(self.rhs) if d not in self.rhs_contracting + self.rhs_batch)
        return 2 * lhs_free * rhs_free * contracted

    def __str__(self) -> str:
        return f"{list(self.lhs)} x {list(self.rhs)} contracting {self.lhs_contracting}/{self.rhs_contracting}" + (
            f" batch {self.lhs_batch}/{self.rhs_batch}" if self.lhs_batch else ""
        )


_HLO_DTYPES = {"f32": "float32", "bf16": "bfloat16"}
_DOT = re.compile(
    r"= \w+\[[\d,]*\]\S* dot\(%(?P<lhs>[\w.\-]+), %(?P<rhs>[\w.\-]+)\)"
    r"(?:, lhs_batch_dims=\{(?P<lb>[\d,]*)\})?, lhs_contracting_dims=\{(?P<lc>[\d,]*)\}"
    r"(?:, rhs_batch_dims=\{(?P<rb>[\d,]*)\})?, rhs_contracting_dims=\{(?P<rc>[\d,]*)\}"
)


def products_in_hlo(text: str) -> collections.Counter:
    """Every dot of an optimized HLO module (fused or not), counted by `Product`."""
    shapes = {name: (dtype, dims) for name, dtype, dims in re.findall(r"%([\w.\-]+) = (\w+)\[([\d,]*)\]", text)}

    def dims(text):
        return tuple(int(d) for d in text.split(",")) if text else ()

    found = collections.Counter()
    for match in _DOT.finditer(text):
        (dtype, lhs), (_, rhs) = shapes[match["lhs"]], shapes[match["rhs"]]
        found[Product(dims(lhs), dims(rhs), dims(match["lc"]), dims(match["rc"]), dims(match["lb"]), dims(match["rb"]),
                      _HLO_DTYPES.get(dtype, dtype))] += 1
    return found


def best_seconds(run, repeats: int, wait=lambda result: result) -> float:
    """Seconds of one `run()`, the best of `repeats` (on a shared machine the others measure the
    neighbours). Calls are repeated back to back before `wait`ing on the last (at least 20 ms of
    them), so that JAX's asynchronous dispatch overlaps small products."""
    wait(run())  # compile / warm up
    number = max(1, int(0.02 / timeit.timeit(lambda: wait(run()), number=1)))

    def runs():
        for _ in range(number - 1):
            run()
        wait(run())

    return min(timeit.repeat(runs, number=1, repeat=repeats)) / number


def xla_seconds(product: Product, repeats: int) -> float:
    import jax
    import jax.numpy as jnp

    a = jnp.ones(product.lhs, product.dtype) * 0.5
    b = jnp.ones(product.rhs, product.dtype) * 0.5
    dimension_numbers = ((product.lhs_contracting, product.rhs_contracting), (product.lhs_batch, product.rhs_batch))
    run = jax.jit(lambda a, b: jax.lax.dot_general(a, b, dimension_numbers, preferred_element_type=jnp.float32))
    return best_seconds(lambda: run(a, b), repeats, wait=jax.block_until_ready)


def as_bmm(operand, batch: tuple[int, ...], contracting: tuple[int, ...], contracting_last: bool):
    """A dot_general operand laid out for a batched GEMM: [batch, free, contracting] (the left
    operand) or [batch, contracting, free] (the right one); numpy arrays and torch tensors alike."""
    shape = tuple(operand.shape)
    free = tuple(d for d in range(len(shape)) if d not in batch + contracting)
    size = lambda dims: math.prod(shape[d] for d in dims)  # noqa: E731
    outer, inner = (free, contracting) if contracting_last else (contracting, free)
    order = (*batch, *outer, *inner)
    permuted = operand.permute(*order) if hasattr(operand, "permute") else operand.transpose(order)
    return permuted.reshape(size(batch), size(outer), size(inner))


def torch_seconds(product: Product, repeats: int) -> float:
    """The same product as torch's batched GEMM on contiguous [batch, m, k] x [batch, k, n] operands
    (an eager step lays its operands out for the GEMM it calls: `as_bmm`), on the device the peer
    step uses (CUDA when there is one, as JAX's default device is then the GPU too)."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def operand(shape, batch, contracting, contracting_last):
        full = torch.full(shape, 0.5, dtype=getattr(torch, product.dtype), device=device)
        return as_bmm(full, batch, contracting, contracting_last).contiguous()

    a = operand(product.lhs, product.lhs_batch, product.lhs_contracting, True)
    b = operand(product.rhs, product.rhs_batch, product.rhs_contracting, False)
    # CUDA kernels run asynchronously: wait for the last one; CPU products are done on return.
    wait = (lambda result: torch.cuda.synchronize()) if device.type == "cuda" else (lambda result: result)
    return best_seconds(lambda: torch.bmm(a, b), repeats, wait=wait)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--m", type=int, default=2048)
    parser.add_argument("--k", type=int, default=512)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (CPU)")
    flags = parser.parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    import jax
    import torch

    torch.set_num_threads(flags.threads)
    product = Product((flags.m, flags.k), (flags.k, flags.n), (1,), (0,), dtype=flags.dtype)
    ours, peer = xla_seconds(product, flags.repeats), torch_seconds(product, flags.repeats)
    print(f"{product} {flags.dtype} on {jax.devices()[0].device_kind}")
    for name, seconds in (("XLA (jax.jit)", ours), (f"torch ({flags.threads} threads)", peer)):
        print(f"{name:24s} {product.flop / seconds / 1e9:8.1f} GFLOP/s")
    print(f"ratio XLA / torch: {peer / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
