"""`python -m flan_jax.train` / `flan-jax train`: t5x-style gin flags -> `trainer.train`.

    python -m flan_jax.train --gin_file=gin/runs/finetune.gin \\
      --gin_file=gin/models/t5_1_1/small.gin \\
      --gin.MODEL_DIR="'runs/x'" --gin.MIXTURE_OR_TASK_NAME="'flan2022'"

The flags are t5x's (`flan_jax.gin_flags`): `--gin_file`, `--gin_bindings`, `--gin.NAME=VALUE`,
`--gin_search_paths`, `--seqio_additional_cache_dirs` and the multi-host flags.
MIXTURE_OR_TASK_MODULE, if set, is imported before training so its tasks are registered (and,
with gin/runs/infer_eval.gin, EVAL_SUITE's as `flan-jax eval` registers them); with
EVAL_AFTER_TRAINING = True the `evaluate` bindings (flan-jax eval's) run on the final checkpoint.
"""
import argparse
import pathlib
import sys
from typing import Sequence

from flan_jax import console, gin_flags

PROG = "flan-jax train"


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    """t5x's flags (see `flan_jax.gin_flags`)."""
    return gin_flags.parse(gin_flags.make_parser(PROG, __doc__.split("\n\n")[0]), argv)


def run(flags: argparse.Namespace) -> None:
    """Initialises multi-host JAX, parses gin, imports the tasks and trains."""
    import gin
    import jax

    gin_flags.setup(flags)
    model_dir = pathlib.Path(str(gin_flags.macro("MODEL_DIR"))).absolute()
    # Process 0 logs to MODEL_DIR/log.txt, the others beside it (log.process1.txt, ...).
    log_file = console.log_to(model_dir, "log.txt" if jax.process_index() == 0 else f"log.process{jax.process_index()}.txt")
    gin_flags.import_module(gin_flags.macro("MIXTURE_OR_TASK_MODULE"))
    if gin_flags.macro("EVAL_SUITE") is not None:  # gin/runs/infer_eval.gin: the suite's tasks, as flan-jax eval's
        from flan_jax.eval import main as eval_main

        eval_main.register_suite_tasks()
    if gin_flags.macro("USE_CACHED_TASKS", False):
        check_cached(gin_flags.macro("MIXTURE_OR_TASK_NAME"))
    from flan_jax import gin_configurables

    result = gin_configurables.train(operative_config=gin.operative_config_str, show_progress=not flags.no_progress)
    if jax.process_index() == 0:
        # gin records `train`'s own bindings only once it returns: rewrite the file written at the
        # start of training so it holds the complete operative config.
        (model_dir / "config.gin").write_text(gin.operative_config_str())
    if result.preempted:
        report_preemption(int(result.state.step))
        return
    if jax.process_index() == 0 and result.last_metrics:
        first, last = result.first_metrics, result.last_metrics
        resumed = f", resumed from step {result.start_step}" if result.start_step else ""
        print(
            f"loss per target token: first {first['loss_per_token']:.4f} -> last {last['loss_per_token']:.4f} "
            f"(token accuracy {first['accuracy']:.3f} -> {last['accuracy']:.3f}) at step {int(result.state.step)}{resumed}"
        )
    if jax.process_index() == 0:
        print(f"MODEL_DIR {model_dir}: checkpoints/, config.gin, TensorBoard events" + (f"; log {log_file}" if log_file else ""))
    if gin_flags.macro("EVAL_AFTER_TRAINING", False):
        evaluate_after_training(show_progress=not flags.no_progress)


def report_preemption(step: int) -> None:
    """After SIGTERM: says where the step was saved (exit status 0: the scheduler may simply rerun)."""
    import jax

    from flan_jax.train import checkpoints

    if jax.process_index() == 0:
        model_dir = str(gin_flags.macro("MODEL_DIR"))
        saved = checkpoints.checkpoint_directory(model_dir if "://" in model_dir else pathlib.Path(model_dir).absolute()) / str(step)
        print(f"Preempted (SIGTERM): saved the checkpoint of step {step} in {saved}; "
              "rerun the same command to resume from it.")


def check_cached(mixture_or_task_name) -> None:
    """With USE_CACHED_TASKS = True, fails before compiling when a task has no `flan-jax cache` output where seqio looks.

    Raises:
      ValueError naming the uncached tasks, the directories searched and the two fixes.
    """
    import seqio

    from flan_jax.data import registry

    if not isinstance(mixture_or_task_name, str):  # e.g. @mixtures.flan2022(): resolved by gin later
        return
    tasks = registry.tasks_of(mixture_or_task_name)
    uncached = [t.name for t in tasks if not t.cache_dir]
    if uncached:
        shown = ", ".join(uncached[:5]) + (f" and {len(uncached) - 5} more" if len(uncached) > 5 else "")
        raise ValueError(
            f"USE_CACHED_TASKS = True but {len(uncached)} task(s) of {mixture_or_task_name!r} have no completed "
            f"cache in {list(seqio.get_global_cache_dirs())} ({shown}): pass the `flan-jax cache` output directory with "
            "--seqio_additional_cache_dirs=DIR (or SEQIO_ADDITIONAL_CACHE_DIRS), or set USE_CACHED_TASKS = False."
        )


def evaluate_after_training(show_progress: bool = True):
    """Runs `flan-jax eval`'s `evaluate` as bound in the gin files (e.g. gin/runs/demo.gin).

    It restores the checkpoint just written (bind `evaluate.checkpoint_path = %MODEL_DIR`), so it
    evaluates exactly what a later `flan-jax eval` would, with the suite's tasks registered as
    `flan-jax eval` registers them.
    """
    from flan_jax import gin_configurables
    from flan_jax.eval import main as eval_main

    import gin

    eval_main.register_suite_tasks()
    return gin_configurables.evaluate(show_progress=show_progress, operative_config=gin.operative_config_str)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m flan_jax.train` and `flan-jax train`; returns the exit code."""
    flags = parse_flags(list(sys.argv[1:] if argv is None else argv))
    return gin_flags.run_command(PROG, lambda: run(flags), verbose=flags.verbose)
