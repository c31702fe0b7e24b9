"""One matrix product, XLA (jax.jit) against torch, in GFLOP/s: the kernel both train steps spend
most of their time in, so it bounds how far a jitted step can outrun an eager one on a machine.

Default shape: T5-small's feed-forward input projection for batch 8 x 256 tokens
([2048, 512] x [512, 1024]). bfloat16 multiplies bfloat16 inputs and sums in float32 on both
sides (`preferred_element_type=float32` in JAX, as flan_jax's projections do; torch's bf16 GEMM
accumulates in float32 itself).

    python benchmarks/matmul_rate.py [--m 2048 --k 512 --n 1024] [--dtype bfloat16]
"""
import argparse
import os
import statistics
import sys
import timeit


def median_seconds(run, repeats: int) -> float:
    run()  # compile / warm up
    return statistics.median(timeit.repeat(run, number=1, repeat=repeats))


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
    import jax.numpy as jnp
    import numpy as np
    import torch

    torch.set_num_threads(flags.threads)
    rng = np.random.default_rng(0)
    lhs = rng.normal(size=(flags.m, flags.k)).astype(np.float32)
    rhs = rng.normal(size=(flags.k, flags.n)).astype(np.float32)
    flop = 2 * flags.m * flags.k * flags.n

    dtype = jnp.dtype(flags.dtype)
    product = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32).astype(dtype))
    a, b = jnp.asarray(lhs, dtype), jnp.asarray(rhs, dtype)
    ours = median_seconds(lambda: product(a, b).block_until_ready(), flags.repeats)

    torch_dtype = torch.bfloat16 if flags.dtype == "bfloat16" else torch.float32
    ta, tb = torch.from_numpy(lhs).to(torch_dtype), torch.from_numpy(rhs).to(torch_dtype)
    peer = median_seconds(lambda: ta @ tb, flags.repeats)

    print(f"[{flags.m}, {flags.k}] x [{flags.k}, {flags.n}] {flags.dtype} on {jax.devices()[0].device_kind}")
    for name, seconds in (("XLA (jax.jit)", ours), (f"torch ({flags.threads} threads)", peer)):
        print(f"{name:24s} {flop / seconds / 1e9:8.1f} GFLOP/s")
    print(f"ratio XLA / torch: {peer / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
