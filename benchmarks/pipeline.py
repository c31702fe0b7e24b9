"""Input pipeline at scale: the hierarchical sampler beside the plain seqio way.

    python benchmarks/pipeline.py --tasks 1800            # both sides, plain cut off at 300 s
    python benchmarks/pipeline.py --tasks 1800 --plain-timeout 0   # hierarchical only

Registers `--tasks` small seqio tasks (FunctionDataSource, `--examples` short examples each,
byte vocabulary) and one mixture over them, then for each side, in its own process (so peak
RSS is that side's): time to the first batch (mixture built included), then `--batches` more
batches: packed rows/s, examples/s, tokens/s (non-pad), packing efficiency (non-pad fraction of
encoder and decoder slots) and peak RSS. "The plain way" is `seqio.get_dataset` over a
`seqio.Mixture` of all leaf tasks with seqio's EncDecFeatureConverter (sampler="seqio").
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def register_tasks(num_tasks: int, num_examples: int) -> str:
    import seqio
    import tensorflow as tf

    from flan_jax.data import mixing
    from flan_jax.data.vocabularies import byte_vocabulary

    features = {
        "inputs": seqio.Feature(byte_vocabulary(), add_eos=True),
        "targets": seqio.Feature(byte_vocabulary(), add_eos=True),
    }
    names = []
    for t in range(num_tasks):
        name = f"bench_task_{t:04d}"

        def dataset_fn(split, shuffle_files, seed=None, t=t):
            del split, shuffle_files, seed
            return tf.data.Dataset.from_tensor_slices(
                {
                    "inputs": tf.constant([f"Task {t}: what comes after {i}?" for i in range(num_examples)]),
                    "targets": tf.constant([f"{i + 1}" for i in range(num_examples)]),
                }
            )

        seqio.TaskRegistry.add(
            name,
            seqio.FunctionDataSource(dataset_fn, splits=["train"], num_input_examples={"train": num_examples}),
            output_features=features,
            preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
        )
        names.append(name)
    mixing.add_mixture("bench_mixture", [(n, mixing.CappedExamplesRate(cap=30_000)) for n in names])
    return "bench_mixture"


def run_side(args) -> dict:
    """One side's figures (runs in a child process)."""
    import seqio

    from flan_jax.data import pipeline

    start = time.perf_counter()
    name = register_tasks(args.tasks, args.examples)
    config = pipeline.DatasetConfig(
        name, {"inputs": args.lengths[0], "targets": args.lengths[1]}, batch_size=args.batch, sampler=args.side
    )
    stream = pipeline.train_batches(config, seqio.EncDecFeatureConverter(pack=True), 0, seqio.ShardInfo(0, 1))
    next(stream)
    first = time.perf_counter() - start
    rows = examples = tokens = slots = 0
    t0 = time.perf_counter()
    for _ in range(args.batches):
        batch = next(stream)
        rows += batch["encoder_input_tokens"].shape[0]
        examples += int(batch["encoder_segment_ids"].max(axis=1).sum())
        nonpad = int((batch["encoder_input_tokens"] != 0).sum() + (batch["decoder_target_tokens"] != 0).sum())
        tokens += nonpad
        slots += batch["encoder_input_tokens"].size + batch["decoder_target_tokens"].size
    elapsed = time.perf_counter() - t0
    return {
        "side": args.side,
        "first_batch_s": first,
        "rows_per_s": rows / elapsed,
        "examples_per_s": examples / elapsed,
        "tokens_per_s": tokens / elapsed,
        "packing_efficiency": tokens / slots,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1800)
    parser.add_argument("--examples", type=int, default=25, help="examples per task")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", type=int, nargs=2, default=(512, 64), metavar=("INPUTS", "TARGETS"))
    parser.add_argument("--batches", type=int, default=20, help="batches timed after the first")
    parser.add_argument("--plain-timeout", type=float, default=300, help="seconds; 0 skips the plain side")
    parser.add_argument("--hierarchical-timeout", type=float, default=600)
    parser.add_argument("--side", choices=("hierarchical", "seqio"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # child process
        print(json.dumps(run_side(args)))
        return 0

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    results = {}
    for side, timeout in (("hierarchical", args.hierarchical_timeout), ("seqio", args.plain_timeout)):
        if timeout <= 0:
            continue
        command = [sys.executable, __file__, "--side", side, "--tasks", str(args.tasks), "--examples",
                   str(args.examples), "--batch", str(args.batch), "--lengths", *map(str, args.lengths),
                   "--batches", str(args.batches)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            results[side] = f"> {timeout:g} s"
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        results[side] = json.loads(lines[-1]) if lines else f"failed: {done.stderr[-500:]}"

    print(f"{args.tasks} tasks x {args.examples} examples, packed {args.lengths[0]}/{args.lengths[1]}, "
          f"batch {args.batch}, {args.batches} batches timed after the first")
    keys = [("first_batch_s", "time to first batch (s)", "{:.1f}"), ("rows_per_s", "packed rows/s", "{:.1f}"),
            ("examples_per_s", "examples/s", "{:.0f}"), ("tokens_per_s", "non-pad tokens/s", "{:.0f}"),
            ("packing_efficiency", "packing efficiency", "{:.3f}"), ("peak_rss_gib", "peak RSS (GiB)", "{:.2f}")]
    sides = list(results)
    print(f"{'':<26}" + "".join(f"{s:>18}" for s in sides))
    for key, label, fmt in keys:
        cells = [fmt.format(r[key]) if isinstance(r, dict) else r if key == "first_batch_s" else "-"
                 for r in results.values()]
        print(f"{label:<26}" + "".join(f"{c:>18}" for c in cells))
    for side, r in results.items():
        if isinstance(r, str) and r.startswith("failed"):
            print(f"{side}: {r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
