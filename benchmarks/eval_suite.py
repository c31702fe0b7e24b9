"""Evaluation time of the whole held-out suite (`flan_held_out`: MMLU direct + CoT, BBH direct +
CoT, TyDiQA, MGSM) for T5 v1.1 with random weights on this machine, measured on a sample and
extrapolated.

The suite has 48,933 prompts; on a 2-core CPU every one decodes for seconds, so the script runs
`flan_jax.eval.evaluator.evaluate` (what `flan-jax eval` runs: greedy, `--batch` rows per
call, inputs cut from the left) on the first `--max_examples` prompts of `--subtasks` subtasks
of each benchmark, times each such task, and extrapolates each benchmark as (its measured
seconds per prompt) x (its number of prompts), then sums. Compilation (one per bucket length
the evaluator pads to) is timed apart, before. The data is ../shared/data (the FLAN_JAX_*
variables of tests/eval/conftest.py, set here unless already set). Offline there is no T5
SentencePiece model, so the vocabulary is bytes and the lengths are bytes (2048/256 bytes is
about 512/64 SentencePiece tokens; eval.gin's 2048/256 tokens would be ~8192/1024 bytes).

Random weights almost never emit EOS: every row decodes the full target length, the worst case
(a trained model stops a batch when all its rows have ended). `--compare` also times each task
with the evaluator's length bucketing replaced by one shape in file order (the evaluator before
`flan_jax.eval.length_buckets`), the two taking turns task by task. The last line is
`RESULT {json}`.

    python benchmarks/eval_suite.py --max_examples 32 --subtasks 2 --compare
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
DATA_ENV = {
    "FLAN_JAX_MMLU_DIR": "mmlu", "FLAN_JAX_BBH_DIR": "bbh", "FLAN_JAX_TYDIQA_DIR": "tydiqa", "FLAN_JAX_MGSM_DIR": "mgsm",
    "FLAN_JAX_MMLU_COT_FILE": "mmlu-cot/mmlu-cot.json", "FLAN_JAX_GSM8K_TRAIN_FILE": "gsm8k/train.jsonl",
}


def parse_flags(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "small", "base"], default="small")
    parser.add_argument("--lengths", type=int, nargs=2, default=(2048, 256), metavar=("INPUTS", "TARGETS"),
                        help="input and decode lengths in bytes")
    parser.add_argument("--batch", type=int, default=32, help="rows per predict call (eval.gin's EVAL_BATCH_SIZE)")
    parser.add_argument("--max_examples", type=int, default=32, help="prompts timed per sampled subtask")
    parser.add_argument("--subtasks", type=int, default=2, help="subtasks sampled per benchmark (evenly spaced)")
    parser.add_argument("--compare", action="store_true", help="also time one shape in file order (no bucketing)")
    return parser.parse_args(argv)


def one_shape_plan(lengths, batch_size, limit):
    """`length_buckets.plan` without bucketing: file order, every row padded to the input length."""
    return list(range(len(lengths))), [limit] * len(lengths)


def main(argv=None) -> int:
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    for name, path in DATA_ENV.items():
        os.environ.setdefault(name, str(SHARED / path))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    sys.path.insert(0, str(HERE))
    import flax.linen as nn
    import jax
    import seqio
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")  # as t5x: seqio's tf.data stays off the accelerator JAX uses

    import flan_jax_tasks.held_out  # noqa: F401 - registers the benchmarks and flan_held_out
    from flan_jax.data import vocabularies
    from flan_jax.eval import batching, benchmarks, evaluator, held_out_tasks, length_buckets, metrics
    from flan_jax.models import model as models_lib
    from flan_jax.models import t5
    from train_throughput import t5_dims

    config = t5.T5Config(**t5_dims(flags.model), dtype="float32")
    vocabulary = vocabularies.byte_vocabulary()
    model = models_lib.EncoderDecoderModel(t5.Transformer(config), vocabulary, vocabulary)
    shapes = {"encoder_input_tokens": (1, 8), "decoder_input_tokens": (1, 8)}
    params = jax.jit(lambda rng: nn.meta.unbox(model.get_initial_variables(rng, shapes)["params"]))(jax.random.PRNGKey(0))
    lengths = {"inputs": flags.lengths[0], "targets": flags.lengths[1]}

    # Every subtask's prompt count (Python, no tf.data) and the sample of subtasks timed.
    counts, sample = {}, {}
    for benchmark in metrics.BENCHMARKS:
        tasks = [t.name for t in seqio.get_mixture_or_task(benchmark).tasks]
        for name in tasks:
            info = held_out_tasks.benchmark_of(name)
            counts[name] = len(benchmarks.examples(benchmark, info.subtask, info.data_dir))
        step = len(tasks) / flags.subtasks
        sample[benchmark] = [tasks[int(i * step)] for i in range(min(flags.subtasks, len(tasks)))]
    total = sum(counts.values())
    print(f"T5 1.1 {flags.model} (random weights), byte vocabulary, lengths {flags.lengths[0]}/{flags.lengths[1]} bytes, "
          f"batch {flags.batch}, greedy; flan_held_out: {len(counts)} tasks, {total} prompts; timing the first "
          f"{flags.max_examples} prompts of {flags.subtasks} subtasks per benchmark; jax {jax.__version__}, "
          f"{os.cpu_count()} CPU cores", flush=True)

    # Compile every shape the evaluator can pad to (one per bucket; one without bucketing).
    decode = evaluator.DecodeOptions()
    compiled = evaluator._steps(model, decode)
    start = time.perf_counter()
    for length in length_buckets.bucket_lengths(lengths["inputs"]):
        batch = batching.unpacked_batch(compiled.build, [[1]], [[]], flags.batch, {**lengths, "inputs": length})
        jax.block_until_ready(compiled.predict(params, batch, jax.random.PRNGKey(0)))
    compile_s = time.perf_counter() - start
    print(f"compiled {len(length_buckets.bucket_lengths(lengths['inputs']))} bucket shapes in {compile_s:.0f} s", flush=True)

    ways = {"bucketed": length_buckets.plan}
    if flags.compare:
        ways["one shape"] = one_shape_plan
    seconds = {way: {} for way in ways}
    for benchmark, names in sample.items():
        for name in names:
            for way, plan in ways.items():
                length_buckets_plan, length_buckets.plan = length_buckets.plan, plan
                try:
                    start = time.perf_counter()
                    result = evaluator.evaluate(model, params, [name], task_feature_lengths=lengths, batch_size=flags.batch,
                                                max_examples=flags.max_examples, decode=decode)
                    seconds[way][name] = (time.perf_counter() - start, result.tasks[name].num_examples)
                finally:
                    length_buckets.plan = length_buckets_plan
            print(f"  {name:45s} " + "  ".join(
                f"{way} {seconds[way][name][0]:7.1f} s / {seconds[way][name][1]} prompts" for way in ways), flush=True)

    print(f"{'benchmark':12s}{'prompts':>9s}" + "".join(f"{way + ' s/prompt':>22s}{'extrapolated h':>16s}" for way in ways))
    estimate = {way: {} for way in ways}
    for benchmark, names in sample.items():
        prompts = sum(counts[n] for n in counts if held_out_tasks.benchmark_of(n).family == benchmark)
        cells = ""
        for way in ways:
            per_prompt = sum(seconds[way][n][0] for n in names) / sum(seconds[way][n][1] for n in names)
            estimate[way][benchmark] = per_prompt * prompts
            cells += f"{per_prompt:22.2f}{estimate[way][benchmark] / 3600:16.1f}"
        print(f"{benchmark:12s}{prompts:9d}{cells}")
    hours = {way: sum(estimate[way].values()) / 3600 for way in ways}
    print("whole suite, extrapolated: " + ", ".join(f"{way} {h:.1f} h" for way, h in hours.items())
          + f" (+ {compile_s:.0f} s compiling)")
    if flags.compare:
        pairs = [seconds["one shape"][n][0] / seconds["bucketed"][n][0] for n in seconds["bucketed"]]
        print(f"one shape / bucketed: {hours['one shape'] / hours['bucketed']:.2f}x on the suite "
              f"(per task {min(pairs):.2f}-{max(pairs):.2f}x, median {statistics.median(pairs):.2f}x)")
    result = {"model": flags.model, "lengths": list(flags.lengths), "batch": flags.batch, "prompts": total,
              "compile_s": compile_s, "hours": hours, "benchmark_seconds": estimate,
              "task_seconds": {way: {n: v[0] for n, v in s.items()} for way, s in seconds.items()}}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
