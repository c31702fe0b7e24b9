"""Every accelerator figure of benchmarks/RESULTS.md in one call: train steps, decoding, end to
end on the offline mixture and the held-out suite's evaluation time, ours vs Hugging Face on the
same device, printed as a Markdown table at the end.

Each side of each configuration runs in its own process (`train_throughput.py --side ours` /
`--side peer`), so JAX's and PyTorch's allocators never share the device memory, and a failure
(say, out of memory) costs one row, not the run.

    python benchmarks/gpu_suite.py                 # train, decode, end-to-end and evaluation rows
    python benchmarks/gpu_suite.py --part end_to_end  # needs ../shared/data (or FLAN_JAX_NIV2_DIR, FLAN_JAX_COT_DIR)
    python benchmarks/gpu_suite.py --part train --out $OUT/table.md
    python benchmarks/gpu_suite.py --part mfu      # our bf16 base and large steps alone: model TFLOP/s, MFU

MFU is the analytic FLOP count of the step (`flan_jax.train.utilization.t5_train_flops`) over
the device's dense bf16 peak; XLA's cost analysis is no measure of it on a GPU, where it leaves
out the cuBLAS matrix products.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent

# (model, dtype, batch, input_len, target_len): batches that keep an H100 busy without running
# the float32 peer (eager PyTorch keeps every attention matrix) out of memory.
TRAIN_CONFIGS = (
    ("small", "float32", 64, 512, 128),
    ("small", "bfloat16", 64, 512, 128),
    ("base", "float32", 32, 512, 128),
    ("base", "bfloat16", 32, 512, 128),
)
# (model, batch, input_len, target_len): bfloat16 steps of ours alone, for MFU (issue 15's goal:
# 40% for base at 64 x 512/128).
MFU_CONFIGS = (("base", 64, 512, 128), ("large", 64, 512, 128))
# (size, batch, input_length, new_tokens): greedy decoding.
DECODE_CONFIGS = (("small", 64, 512, 128),)
# (model, examples, packed rows, HF batch): end_to_end.py at its 2048/512-byte lengths; about 7
# examples fill a packed row, so 4 rows hold about as many examples as HF's 32.
END_TO_END_CONFIGS = (("small", 480, 4, 32),)
# (model, batch, prompts per sampled subtask, subtasks per benchmark): eval_suite.py.
EVAL_CONFIGS = (("small", 64, 64, 2),)


def _run(command: list[str], timeout: int) -> tuple[dict | None, str]:
    """The RESULT json of a benchmark process and its output tail (for the log)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as error:
        output = f"timed out after {timeout} s\n{error.stdout or ''}"
    print(f"$ {' '.join(command)}  ({time.perf_counter() - start:.0f} s)", flush=True)
    shown = ("T5 ", "flan-jax", "HF ", "ratio", "                ")
    print("\n".join(line for line in output.splitlines() if line.startswith(shown)), flush=True)
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if not lines:
        print("\n".join(output.splitlines()[-15:]), flush=True)
        return None, output
    return json.loads(lines[-1][len("RESULT "):]), output


def train_rows(models: list[str], steps: int, warmup: int, timeout: int) -> list[str]:
    rows = []
    for model, dtype, batch, input_len, target_len in TRAIN_CONFIGS:
        if model not in models:
            continue
        base = [sys.executable, str(HERE / "train_throughput.py"), "--model", model, "--dtype", dtype, "--batch", str(batch),
                "--input_len", str(input_len), "--target_len", str(target_len), "--steps", str(steps), "--warmup", str(warmup)]
        ours, _ = _run(base + ["--side", "ours"], timeout)
        peer, _ = _run(base + ["--side", "peer"], timeout)
        cell = lambda result, key, fmt: format(result[key], fmt) if result else "failed"  # noqa: E731
        ratio = f"{peer['peer_ms'] / ours['ours_ms']:.2f}x" if ours and peer else "-"
        rows.append(
            f"| train {model} | {dtype} | {batch} x {input_len}/{target_len} | {cell(ours, 'ours_tokens_per_s', ',.0f')} "
            f"| {cell(peer, 'peer_tokens_per_s', ',.0f')} | {ratio} | {_model_rate(ours)} |"
        )
        print(rows[-1], flush=True)
    return rows


def _model_rate(ours: dict | None) -> str:
    """'TFLOP/s (MFU)' of our step by the analytic count."""
    if not ours:
        return "-"
    mfu = f" ({ours['mfu']:.1%})" if "mfu" in ours else ""
    return f"{ours['model_tflops_per_device']:.1f}{mfu}"


def mfu_rows(steps: int, warmup: int, timeout: int, profile_dir: str | None) -> list[str]:
    rows = []
    for model, batch, input_len, target_len in MFU_CONFIGS:
        command = [sys.executable, str(HERE / "train_throughput.py"), "--model", model, "--dtype", "bfloat16",
                   "--batch", str(batch), "--input_len", str(input_len), "--target_len", str(target_len),
                   "--steps", str(steps), "--warmup", str(warmup), "--side", "ours"]
        if profile_dir:
            command += ["--profile", str(pathlib.Path(profile_dir) / model)]
        ours, _ = _run(command, timeout)
        rows.append(f"| train {model} (ours alone) | bfloat16 | {batch} x {input_len}/{target_len} | "
                    f"{format(ours['ours_tokens_per_s'], ',.0f') if ours else 'failed'} | - | - | {_model_rate(ours)} |")
        print(rows[-1], flush=True)
    return rows


def decode_rows(repeats: int, timeout: int) -> list[str]:
    rows = []
    for size, batch, input_length, new_tokens in DECODE_CONFIGS:
        result, _ = _run([sys.executable, str(HERE / "decode_throughput.py"), "--size", size, "--batch", str(batch),
                          "--input_length", str(input_length), "--new_tokens", str(new_tokens),
                          "--repeats", str(repeats)], timeout)
        if result:
            rows.append(
                f"| greedy decode {size} | float32 | {batch} x {input_length} -> {new_tokens} | {result['ours']:,.0f} "
                f"| {result['theirs']:,.0f} | {result['ours'] / result['theirs']:.2f}x | - |"
            )
        else:
            rows.append(f"| greedy decode {size} | float32 | {batch} x {input_length} -> {new_tokens} | failed | failed | - | - |")
        print(rows[-1], flush=True)
    return rows


def end_to_end_rows(repeats: int, timeout: int) -> list[str]:
    rows = []
    for model, examples, rows_per_step, batch in END_TO_END_CONFIGS:
        result, _ = _run([sys.executable, str(HERE / "end_to_end.py"), "--model", model, "--examples", str(examples),
                          "--rows", str(rows_per_step), "--batch", str(batch), "--repeats", str(repeats)], timeout)
        what = f"| end to end {model}, offline Flan 2022 mixture | float32 | {rows_per_step} rows / HF {batch} x 2048/512 bytes |"
        if result:
            tokens, seconds = result["non_pad_tokens"], result["seconds"]
            rate = lambda side: format(tokens / statistics.median(seconds[side]), ",.0f")  # noqa: E731
            rows.append(f"{what} {rate('flan-jax')} | {rate(result['better_hf'])} | {result['ratio']:.2f}x | - |")
        else:
            rows.append(f"{what} failed | failed | - | - |")
        print(rows[-1], flush=True)
    return rows


def eval_rows(timeout: int) -> list[str]:
    rows = []
    for model, batch, prompts, subtasks in EVAL_CONFIGS:
        result, _ = _run([sys.executable, str(HERE / "eval_suite.py"), "--model", model, "--batch", str(batch),
                          "--max_examples", str(prompts), "--subtasks", str(subtasks)], timeout)
        hours = f"{result['hours']['bucketed']:.2f} h extrapolated" if result else "failed"
        rows.append(f"| held-out suite eval, {model}, random weights: {hours} | float32 | {batch} x 2048 -> 256 bytes "
                    f"| - | - | - | - |")
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["all", "train", "decode", "end_to_end", "eval", "mfu"], default="all")
    parser.add_argument("--profile", default=None, help="with --part mfu: jax.profiler traces under this directory")
    parser.add_argument("--models", default="small,base", help="comma-separated train models to run")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=int, default=240, help="seconds per benchmark process")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    rows = []
    if args.part in ("all", "train"):
        rows += train_rows(args.models.split(","), args.steps, args.warmup, args.timeout)
    if args.part in ("all", "decode"):
        rows += decode_rows(args.repeats, args.timeout)
    if args.part in ("all", "end_to_end"):
        rows += end_to_end_rows(2, 3 * args.timeout)
    if args.part in ("all", "eval"):
        rows += eval_rows(3 * args.timeout)
    if args.part == "mfu":
        rows += mfu_rows(args.steps, args.warmup, args.timeout, args.profile)
    table = "\n".join([
        "| what | dtype | batch x lengths | flan-jax tokens/s | HF (PyTorch eager) tokens/s | ratio | flan-jax model TFLOP/s (MFU) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
        *rows,
    ])
    print("\n" + table)
    if args.out:
        pathlib.Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
