"""Input pipeline at scale: the hierarchical sampler beside the plain seqio way, ~1,800 tasks.

    python benchmarks/pipeline.py --tasks 1800 --batches 60 --plain-timeout 420
    python benchmarks/pipeline.py --tasks 1800 --plain-timeout 0      # hierarchical only
    python benchmarks/pipeline.py --tasks 1800 --data function        # plain seqio tasks (tf.data)

The mixture (`--data flan`, the issue's setup): the NIv2 directory of ../shared/data plus
generated NIv2-format task files (benchmarks/collection_import.py's generator) until NIv2 has
`--tasks` minus the other collections' seqio tasks; the CoT TSVs of ../shared/data; and the
synthetic suite, standing in for the collections whose data is not here (Flan 2021, T0-SF,
Dialog). Weights are Flan 2022's (Longpre et al. 2023): NIv2 0.20, CoT 0.05, and the stand-in
0.75 (= 0.40 + 0.32 + 0.03), with the Flan 2022 caps. `--data function` instead registers
`--tasks` seqio tasks over `FunctionDataSource`s of `--examples` short examples each (the
tf.data path every plain seqio task takes).

Each side runs in its own process (so peak RSS is that side's) and reports the time to the
first batch (registration and mixture rates included; then the same counted from the process
start, importing TensorFlow and seqio included), then over `--batches` more batches:
packed rows/s, examples/s, non-pad tokens/s, token slots/s (what a train step consumes: batch
x (inputs + targets length)), packing efficiency (non-pad fraction of the slots) and peak RSS.
"The plain way" is `seqio.get_dataset` over a flat `seqio.Mixture` of every leaf task at its
effective rate, with seqio's EncDecFeatureConverter (sampler="seqio").

The last line compares the sustained slot rate with what a T5-small train step consumes on the
same machine: `--train-tokens-per-s` (from `benchmarks/train_throughput.py --model small`).
"""
import argparse
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
# Flan 2022 weights (tasks/mixtures.py); "synthetic" stands in for Flan 2021 + T0-SF + Dialog.
WEIGHTS = {"synthetic": 0.75, "niv2": 0.20, "cot": 0.05}
CAPS = {"synthetic": 30_000, "niv2": 5_000, "cot": 100_000}
MIXTURE = "bench_mixture"


# --------------------------------------------------------------------------- the task setups
def register_function_tasks(num_tasks: int, num_examples: int) -> str:
    """`num_tasks` plain seqio tasks (FunctionDataSource, byte vocabulary) and a capped mixture."""
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
    mixing.add_mixture(MIXTURE, [(n, mixing.CappedExamplesRate(cap=30_000)) for n in names])
    return MIXTURE


def register_flan_tasks() -> str:
    """The collections from $FLAN_JAX_NIV2_DIR / $FLAN_JAX_COT_DIR plus the synthetic suite, and
    a Flan-2022-weighted mixture over them."""
    import flan_jax_tasks.cot  # noqa: F401 - registers at import
    import flan_jax_tasks.niv2  # noqa: F401
    import flan_jax_tasks.synthetic  # noqa: F401
    from flan_jax.data import mixing, registry

    def leaf_tasks(collection):
        return [mixing.LeafTask(i.task, i.family, i.format) for i in registry.all_infos() if i.collection == collection]

    mixing.add_collections_mixture(MIXTURE, WEIGHTS, CAPS, leaf_tasks)
    return MIXTURE


def other_task_count() -> tuple[int, int]:
    """(seqio tasks of the synthetic suite + shared CoT, NIv2 task files of the shared checkout
    that register): what the generated NIv2 files are added to."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", FLAN_JAX_COT_DIR=str(SHARED / "flan_v2/flan/v2/cot_data"))
    env.pop("FLAN_JAX_NIV2_DIR", None)
    code = ("import flan_jax_tasks.synthetic as s, flan_jax_tasks.cot as c, flan_jax_tasks.niv2 as n\n"
            f"print(len(s.TASKS) + len(c.TASKS), len(n.task_entries({str(SHARED / 'natural-instructions')!r})[0]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    others, shared_files = out.stdout.split()[-2:]
    return int(others), int(shared_files)


def write_niv2_checkout(root: pathlib.Path, extra_files: int, instances: int) -> None:
    """The shared NIv2 checkout (linked) plus `extra_files` generated task files that register."""
    sys.path.insert(0, str(HERE))
    from collection_import import write_checkout  # the NIv2-format generator (one place)

    # write_checkout lists 1 in 20 files as test (never registered): generate enough to keep
    # `extra_files`.
    total = 0
    while sum(i % 20 != 18 for i in range(total)) < extra_files:
        total += 1
    write_checkout(root, total, instances)
    shared = SHARED / "natural-instructions"
    for path in (shared / "tasks").glob("*.json"):
        (root / "tasks" / path.name).symlink_to(path)
    for split in ("train", "test"):
        generated = (root / "splits" / "default" / f"{split}_tasks.txt").read_text()
        ours = (shared / "splits" / "default" / f"{split}_tasks.txt").read_text()
        (root / "splits" / "default" / f"{split}_tasks.txt").write_text(generated + ours)


# --------------------------------------------------------------------------- one side
def run_side(args) -> dict:
    """One side's figures (runs in a child process)."""
    import seqio

    from flan_jax.data import mixing, pipeline

    start = time.perf_counter()
    name = register_function_tasks(args.tasks, args.examples) if args.data == "function" else register_flan_tasks()
    rates = mixing.leaf_rates(name)
    if args.side == "seqio":  # the plain way: one flat seqio.Mixture over every leaf task
        name = mixing.add_mixture("bench_plain", sorted(rates.items())).name
    config = pipeline.DatasetConfig(
        name, {"inputs": args.lengths[0], "targets": args.lengths[1]}, batch_size=args.batch, sampler=args.side
    )
    stream = pipeline.train_batches(config, seqio.EncDecFeatureConverter(pack=True), 0, seqio.ShardInfo(0, 1))
    next(stream)
    first = time.perf_counter() - start
    first_with_imports = time.time() - args.launched_at
    rows = examples = tokens = slots = 0
    t0 = time.perf_counter()
    for _ in range(args.batches):
        batch = next(stream)
        rows += batch["encoder_input_tokens"].shape[0]
        examples += int(batch["encoder_segment_ids"].max(axis=1).sum())
        tokens += int((batch["encoder_input_tokens"] != 0).sum() + (batch["decoder_target_tokens"] != 0).sum())
        slots += batch["encoder_input_tokens"].size + batch["decoder_target_tokens"].size
    elapsed = time.perf_counter() - t0
    return {
        "side": args.side,
        "tasks": len(rates),
        "first_batch_s": first,
        "first_batch_with_imports_s": first_with_imports,
        "rows_per_s": rows / elapsed,
        "examples_per_s": examples / elapsed,
        "tokens_per_s": tokens / elapsed,
        "slots_per_s": slots / elapsed,
        "packing_efficiency": tokens / slots,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1800, help="seqio leaf tasks in the mixture")
    parser.add_argument("--data", choices=("flan", "function"), default="flan")
    parser.add_argument("--examples", type=int, default=25,
                        help="instances per generated NIv2 file (--data flan) or examples per task (function)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", type=int, nargs=2, default=(512, 64), metavar=("INPUTS", "TARGETS"))
    parser.add_argument("--batches", type=int, default=20, help="batches timed after the first")
    parser.add_argument("--plain-timeout", type=float, default=300, help="seconds; 0 skips the plain side")
    parser.add_argument("--hierarchical-timeout", type=float, default=600)
    parser.add_argument("--train-tokens-per-s", type=float, default=None,
                        help="what a T5-small train step consumes here (benchmarks/train_throughput.py --model small)")
    parser.add_argument("--side", choices=("hierarchical", "seqio"), help=argparse.SUPPRESS)
    parser.add_argument("--launched-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # child process
        print(json.dumps(run_side(args)))
        return 0

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    tmp = tempfile.mkdtemp(prefix="pipeline_bench_")
    try:
        if args.data == "flan":
            others, shared_files = other_task_count()
            niv2_files = -(-(args.tasks - others) // 2)  # two formats per file
            niv2_root = pathlib.Path(tmp) / "natural-instructions"
            write_niv2_checkout(niv2_root, max(niv2_files - shared_files, 0), args.examples)
            env.update(FLAN_JAX_NIV2_DIR=str(niv2_root), FLAN_JAX_COT_DIR=str(SHARED / "flan_v2/flan/v2/cot_data"))
            setup = (f"NIv2 ({shared_files} shared + {max(niv2_files - shared_files, 0)} generated files of "
                     f"{args.examples} instances, 2 formats) + synthetic + CoT ({others} tasks)")
        else:
            setup = f"FunctionDataSource tasks of {args.examples} short examples"
        results = {}
        for side, timeout in (("hierarchical", args.hierarchical_timeout), ("seqio", args.plain_timeout)):
            if timeout <= 0:
                continue
            command = [sys.executable, __file__, "--side", side, "--tasks", str(args.tasks), "--data", args.data,
                       "--examples", str(args.examples), "--batch", str(args.batch),
                       "--lengths", *map(str, args.lengths), "--batches", str(args.batches),
                       "--launched-at", repr(time.time())]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                results[side] = f"> {timeout:g} s"
                continue
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            results[side] = json.loads(lines[-1]) if lines else f"failed: {done.stderr[-2000:]}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    counted = next((r["tasks"] for r in results.values() if isinstance(r, dict)), args.tasks)
    print(f"{counted} tasks: {setup}; packed {args.lengths[0]}/{args.lengths[1]}, batch {args.batch}, "
          f"{args.batches} batches timed after the first")
    keys = [("first_batch_s", "time to first batch (s)", "{:.1f}"),
            ("first_batch_with_imports_s", "  + importing TF, seqio", "{:.1f}"), ("rows_per_s", "packed rows/s", "{:.1f}"),
            ("examples_per_s", "examples/s", "{:.0f}"), ("tokens_per_s", "non-pad tokens/s", "{:.0f}"),
            ("slots_per_s", "token slots/s", "{:.0f}"),
            ("packing_efficiency", "packing efficiency", "{:.3f}"), ("peak_rss_gib", "peak RSS (GiB)", "{:.2f}")]
    print(f"{'':<26}" + "".join(f"{s:>18}" for s in results))
    for key, label, fmt in keys:
        cells = [fmt.format(r[key]) if isinstance(r, dict) else r if key == "first_batch_s" else "-"
                 for r in results.values()]
        print(f"{label:<26}" + "".join(f"{c:>18}" for c in cells))
    ours = results.get("hierarchical")
    if args.train_tokens_per_s and isinstance(ours, dict):
        print(f"T5-small train step consumes {args.train_tokens_per_s:.0f} token slots/s here: the hierarchical "
              f"stream sustains {ours['slots_per_s'] / args.train_tokens_per_s:.1f}x that")
    for side, r in results.items():
        if isinstance(r, str) and r.startswith("failed"):
            print(f"{side}: {r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
