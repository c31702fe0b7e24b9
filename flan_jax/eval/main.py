"""`flan-jax eval` / `python -m flan_jax.eval.main`: evaluate a checkpoint on held-out suites.

    flan-jax eval --gin_file=gin/runs/eval.gin --gin_file=gin/models/t5_1_1/small.gin \\
      --gin.CHECKPOINT_PATH="'runs/x'" --gin.EVAL_SUITE="'flan_held_out'" \\
      --gin.EVAL_OUTPUT_DIR="'runs/x/eval'"

EVAL_SUITE: "flan_held_out" (all six: MMLU direct/CoT, BBH direct/CoT, TyDiQA, MGSM), one
benchmark ("mmlu", "bbh_cot", ...), or any comma-separated list of tasks and mixtures (e.g.
"synthetic_held_out" with MIXTURE_OR_TASK_MODULE='flan_jax_tasks.mixtures'). The benchmarks'
files come from EVAL_DATA_DIRS (gin) or the environment: FLAN_JAX_MMLU_DIR,
FLAN_JAX_MMLU_COT_FILE, FLAN_JAX_BBH_DIR, FLAN_JAX_TYDIQA_DIR, FLAN_JAX_MGSM_DIR,
FLAN_JAX_GSM8K_TRAIN_FILE.

Writes to EVAL_OUTPUT_DIR: results.json, results.md (per subtask, aggregates, the normalised
average), predictions/*.jsonl (`flan-jax score` format) and TensorBoard scalars; prints the
Markdown. `--dump-prompts DIR` writes the suite's exact prompts as JSON lines (subtask, index,
inputs, targets) so other systems answer identical inputs; without CHECKPOINT_PATH it stops there.
"""
import argparse
import json
import os
import pathlib
import sys
from typing import Any, Mapping, Sequence

from flan_jax import gin_flags
from flan_jax.eval import benchmarks, evaluator

PROG = "flan-jax eval"
CHECKPOINT_MACRO = "CHECKPOINT_PATH"  # eval.gin / infer.gin's name for the checkpoint to restore

HELD_OUT_MODULE = "flan_jax_tasks.held_out"
# EVAL_DATA_DIRS keys -> the environment variables the task modules read.
DATA_DIR_KEYS = {
    "mmlu": benchmarks.ENV_VARS["mmlu"],
    "mmlu_cot_file": benchmarks.MMLU_COT_FILE_ENV,
    "bbh": benchmarks.ENV_VARS["bbh"],
    "tydiqa": benchmarks.ENV_VARS["tydiqa"],
    "mgsm": benchmarks.ENV_VARS["mgsm"],
    "gsm8k_train_file": benchmarks.GSM8K_TRAIN_FILE_ENV,
}


def suite_names(suite: str | Sequence[str]) -> list[str]:
    """EVAL_SUITE -> task / mixture names: "a,b" and ["a", "b"] both give ["a", "b"]."""
    parts = suite.split(",") if isinstance(suite, str) else list(suite)
    names = [p.strip() for p in parts if p and p.strip()]
    if not names:
        raise ValueError("EVAL_SUITE is empty: name 'flan_held_out', a benchmark, or tasks / mixtures.")
    return names


def apply_data_dirs(data_dirs: Mapping[str, str] | None) -> None:
    """Exports EVAL_DATA_DIRS as the FLAN_JAX_* variables the task modules read at import."""
    for key, value in (data_dirs or {}).items():
        if key not in DATA_DIR_KEYS:
            raise ValueError(f"EVAL_DATA_DIRS key {key!r} is unknown; use {sorted(DATA_DIR_KEYS)}.")
        if value:
            os.environ[DATA_DIR_KEYS[key]] = str(value)


def import_task_modules(modules: Sequence[str]) -> None:
    """Imports the modules that register the suite's tasks (the held-out benchmarks always)."""
    gin_flags.import_module(HELD_OUT_MODULE, "the held-out benchmarks' module")
    for module in [m for m in modules if m and m != HELD_OUT_MODULE]:
        gin_flags.import_module(module)


def dump_prompts(suite: str | Sequence[str], directory: str | os.PathLike, split: str | None = None) -> dict[str, int]:
    """Writes each task's exact prompts as JSON lines; returns file name -> lines written.

    Held-out benchmark tasks go to `{benchmark}.jsonl` with the keys `flan-jax score` uses
    (subtask, index) plus inputs and targets; other tasks to `{task}.jsonl` with task, index.
    """
    from flan_jax.eval import held_out_tasks

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[dict[str, Any]]] = {}
    for task in evaluator.expand_tasks(suite_names(suite)):
        info = held_out_tasks.benchmark_of(task.name)
        task_split = evaluator.evaluation_split(task, split)
        for position, ex in enumerate(evaluator.load_examples(task, task_split)):
            key = {"subtask": info.subtask, "index": int(ex["index"])} if info else {"task": task.name, "index": position}
            record = {**key, "inputs": ex["inputs_pretokenized"].decode("utf-8"),
                      "targets": ex["targets_pretokenized"].decode("utf-8")}
            files.setdefault(info.benchmark if info else task.name, []).append(record)
    for name, records in files.items():
        with open(directory / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return {f"{name}.jsonl": len(records) for name, records in files.items()}


def restore_params(model: Any, checkpoint_path: str, task_feature_lengths: Mapping[str, int], partitioner: Any = None):
    """The checkpoint's parameters, placed by the partitioner's logical axis rules (default: one replica per device set).

    Returns:
      (params, step): step is the checkpoint's step directory number, or 0 when it has none.
    """
    import jax
    from flax import linen as nn

    from flan_jax.train import checkpoints, partitioning, trainer

    partitioner = partitioner or partitioning.Partitioner()
    input_shapes = trainer.model_input_shapes(model, task_feature_lengths, pack=False)
    abstract_boxed = jax.eval_shape(lambda rng: model.get_initial_variables(rng, input_shapes)["params"], jax.random.PRNGKey(0))
    _, mesh_specs = partitioner.param_specs(abstract_boxed)
    abstract = checkpoints.abstract_like(nn.meta.unbox(abstract_boxed), partitioner.to_shardings(mesh_specs))
    params = checkpoints.restore_params(checkpoint_path, abstract, source=CHECKPOINT_MACRO)
    step_dir = checkpoints.find_params_directory(checkpoint_path, CHECKPOINT_MACRO).parent.name
    return params, int(step_dir) if step_dir.isdigit() else 0


def evaluate(
    *,
    model: Any,
    checkpoint_path: str | None,
    suite: str | Sequence[str],
    output_dir: str | None,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 32,
    split: str | None = None,
    max_examples: int | None = None,
    rank_classification: bool = False,
    decode: evaluator.DecodeOptions = evaluator.DecodeOptions(),
    partitioner: Any = None,
    show_progress: bool = True,
) -> evaluator.EvalResults:
    """Restores CHECKPOINT_PATH, evaluates the suite, writes results, Markdown, predictions, TensorBoard.

    Args:
      model: the EncoderDecoderModel of the model gin file (MODEL).
      checkpoint_path: a step directory, a checkpoints directory (latest step) or a MODEL_DIR.
      suite: EVAL_SUITE (see the module docstring).
      output_dir: EVAL_OUTPUT_DIR; None = `{checkpoint_path}/eval`.
      task_feature_lengths: input / target (decode) lengths.
      batch_size, split, max_examples, rank_classification, decode: see `evaluator.evaluate`.
      partitioner: places the parameters (default: `partitioning.Partitioner()`); in several JAX
        processes each one decodes its share of the examples on it (see `evaluator.evaluate`).
      show_progress: progress bars.

    Returns:
      The results (also written under `output_dir`).
    """
    import jax
    from clu import metric_writers

    from flan_jax.train import partitioning

    if not checkpoint_path:
        raise ValueError("No checkpoint to evaluate: set --gin.CHECKPOINT_PATH=\"'runs/x'\" (a MODEL_DIR, its "
                         "checkpoints/ directory or one step directory).")
    output_dir = output_dir or str(pathlib.Path(checkpoint_path) / "eval")
    partitioner = partitioner or partitioning.Partitioner()
    params, step = restore_params(model, checkpoint_path, task_feature_lengths, partitioner)
    results = evaluator.evaluate(
        model, params, suite_names(suite), task_feature_lengths=task_feature_lengths, batch_size=batch_size,
        split=split, max_examples=max_examples, rank_classification=rank_classification, decode=decode,
        progress=show_progress, placer=partitioner,
    )
    if jax.process_index() != 0:  # every process holds the gathered results; the chief writes them
        return results
    written = evaluator.write_results(results, output_dir)
    writer = metric_writers.create_default_writer(output_dir, just_logging=False)
    writer.write_scalars(step, results.scalars())
    writer.flush()
    writer.close()
    print(evaluator.format_markdown(results))
    print(f"Wrote {written['json']}, {written['markdown']} and {written['predictions']}/ (step {step}).")
    return results


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    """t5x's flags (`flan_jax.gin_flags`) plus --dump-prompts."""
    parser = gin_flags.make_parser(PROG, __doc__.split("\n\n")[0])
    parser.add_argument("--dump-prompts", dest="dump_prompts", default=None, metavar="DIR",
                        help="write the suite's prompts as JSON lines to DIR (no model needed)")
    return gin_flags.parse(parser, argv)


def run(flags: argparse.Namespace) -> None:
    gin_flags.setup(flags)
    apply_data_dirs(gin_flags.macro("EVAL_DATA_DIRS", {}))
    import_task_modules([gin_flags.macro("MIXTURE_OR_TASK_MODULE")])
    import jax

    if flags.dump_prompts and jax.process_index() == 0:  # the same files from every process: the chief writes
        written = dump_prompts(gin_flags.macro("EVAL_SUITE"), flags.dump_prompts, gin_flags.macro("EVAL_SPLIT"))
        for name, count in written.items():
            print(f"{pathlib.Path(flags.dump_prompts) / name}: {count} prompts")
    if flags.dump_prompts and not gin_flags.macro("CHECKPOINT_PATH"):
        return
    from flan_jax import gin_configurables

    gin_configurables.evaluate(show_progress=not flags.no_progress)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flan-jax eval`; returns the exit code."""
    flags = parse_flags(list(sys.argv[1:] if argv is None else argv))
    return gin_flags.run_command(PROG, lambda: run(flags))


if __name__ == "__main__":
    sys.exit(main())
