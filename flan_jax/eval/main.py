"""`flan-jax eval` / `python -m flan_jax.eval.main`: evaluate a checkpoint on held-out suites.

    flan-jax eval --gin_file=gin/runs/eval.gin --gin_file=gin/models/t5_1_1/small.gin \\
      --gin.CHECKPOINT_PATH="'runs/x'" --gin.EVAL_SUITE="'flan_held_out'" \\
      --gin.EVAL_OUTPUT_DIR="'runs/x/eval'"     # results in runs/x/eval/<step>/

EVAL_SUITE: "flan_held_out" (all six: MMLU direct/CoT, BBH direct/CoT, TyDiQA, MGSM), one
benchmark ("mmlu", "bbh_cot", ...), or any comma-separated list of tasks and mixtures (e.g.
"synthetic_held_out" with MIXTURE_OR_TASK_MODULE='flan_jax_tasks.mixtures'). The benchmarks'
files come from EVAL_DATA_DIRS (gin; registered from those directories) or the environment:
FLAN_JAX_MMLU_DIR, FLAN_JAX_MMLU_COT_FILE, FLAN_JAX_BBH_DIR, FLAN_JAX_TYDIQA_DIR,
FLAN_JAX_MGSM_DIR, FLAN_JAX_GSM8K_TRAIN_FILE.

Writes to EVAL_OUTPUT_DIR/<step>/ (default MODEL_DIR/eval/<step>/, never inside a checkpoint):
results.json (with what was measured: step, checkpoint, suite, decode options, time, gin config),
results.md (per subtask, aggregates, the normalised average), predictions/*.jsonl (`flan-jax score`
format); TensorBoard scalars and log.txt go to EVAL_OUTPUT_DIR; prints the Markdown. `--dump-prompts DIR` writes the suite's exact prompts as JSON lines (subtask, index,
inputs, targets) so other systems answer identical inputs; without CHECKPOINT_PATH it stops there.
The job itself is `flan_jax.eval.jobs.evaluate`.
"""
import argparse
import pathlib
import sys
from typing import Sequence

from flan_jax import console, gin_flags

PROG = "flan-jax eval"


def register_suite_tasks() -> None:
    """Registers what the suite needs: the held-out benchmarks (from EVAL_DATA_DIRS where given,
    else the environment) and MIXTURE_OR_TASK_MODULE's tasks."""
    from flan_jax_tasks import held_out

    held_out.register_data_dirs(gin_flags.macro("EVAL_DATA_DIRS", None) or {})
    gin_flags.import_module(gin_flags.macro("MIXTURE_OR_TASK_MODULE"))


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    """t5x's flags (`flan_jax.gin_flags`) plus --dump-prompts."""
    parser = gin_flags.make_parser(PROG, __doc__.split("\n\n")[0])
    parser.add_argument("--dump-prompts", dest="dump_prompts", default=None, metavar="DIR",
                        help="write the suite's prompts as JSON lines to DIR (no model needed)")
    return gin_flags.parse(parser, argv)


def run(flags: argparse.Namespace) -> None:
    gin_flags.setup(flags)
    register_suite_tasks()
    import jax

    from flan_jax import gin_configurables
    from flan_jax.eval import jobs

    if flags.dump_prompts and jax.process_index() == 0:  # the same files from every process: the chief writes
        written = jobs.dump_prompts(gin_flags.macro("EVAL_SUITE"), flags.dump_prompts, gin_flags.macro("EVAL_SPLIT"))
        for name, count in written.items():
            print(f"{pathlib.Path(flags.dump_prompts) / name}: {count} prompts")
    if flags.dump_prompts and not gin_flags.macro("CHECKPOINT_PATH"):
        return
    try:  # the log goes beside the results (an unusable CHECKPOINT_PATH is reported by `evaluate`)
        console.log_to(jobs.results_root(gin_flags.macro("CHECKPOINT_PATH"), gin_flags.macro("EVAL_OUTPUT_DIR")))
    except (TypeError, ValueError, OSError):
        pass
    import gin

    gin_configurables.evaluate(show_progress=not flags.no_progress, operative_config=gin.operative_config_str)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flan-jax eval`; returns the exit code."""
    flags = parse_flags(list(sys.argv[1:] if argv is None else argv))
    return gin_flags.run_command(PROG, lambda: run(flags), verbose=flags.verbose)


if __name__ == "__main__":
    sys.exit(main())
