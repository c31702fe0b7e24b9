"""`python -m flan_jax.train` / `flan-jax train`: t5x-style gin flags -> `trainer.train`.

    python -m flan_jax.train --gin_file=gin/runs/finetune.gin \\
      --gin_file=gin/models/t5_1_1/small.gin \\
      --gin.MODEL_DIR="'runs/x'" --gin.MIXTURE_OR_TASK_NAME="'flan2022'"

Flags as in t5x: `--gin_file` (repeatable; resolved against `--gin_search_paths`, which
include the repository's gin/ directory), `--gin_bindings` and `--gin.NAME=VALUE` (the same as
`--gin_bindings=NAME=VALUE`). MIXTURE_OR_TASK_MODULE, if set, is imported before training so its
tasks are registered; with EVAL_AFTER_TRAINING = True the `evaluate` bindings (flan-jax eval's)
run on the final checkpoint. Multi-host: `--coordinator_address/--num_processes/--process_id`, or
`--distributed` to let `jax.distributed.initialize()` read SLURM / TPU settings.
"""
import argparse
import importlib
import logging
import os
import pathlib
import sys
from typing import Sequence

REPO_GIN_DIR = pathlib.Path(__file__).resolve().parents[2] / "gin"

# Errors whose message says what to fix; anything else keeps its traceback.
_USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, ImportError, FloatingPointError)


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    """t5x's flags, with `--gin.NAME=VALUE` rewritten into gin bindings."""
    parser = argparse.ArgumentParser(prog="flan-jax train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gin_file", action="append", default=[], help="gin file (repeatable)")
    parser.add_argument("--gin_bindings", action="append", default=[], help="gin binding (repeatable)")
    parser.add_argument(
        "--gin_search_paths", default="", help="comma-separated directories to resolve gin files and includes in "
        f"(always followed by '.' and {REPO_GIN_DIR})",
    )
    parser.add_argument("--coordinator_address", default=None, help="host:port of process 0 (multi-host)")
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)
    parser.add_argument("--distributed", action="store_true", help="jax.distributed.initialize() from the environment")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar (logs only)")
    gin_overrides, rest = [], []
    for arg in argv:
        if arg.startswith("--gin.") and "=" in arg:
            name, value = arg[len("--gin."):].split("=", 1)
            gin_overrides.append(f"{name} = {value}")
        else:
            rest.append(arg)
    flags = parser.parse_args(rest)
    flags.gin_bindings = list(flags.gin_bindings) + gin_overrides
    flags.gin_search_paths = [p for p in flags.gin_search_paths.split(",") if p] + [".", str(REPO_GIN_DIR)]
    return flags


def parse_gin(gin_files: Sequence[str], gin_bindings: Sequence[str], search_paths: Sequence[str]) -> None:
    """Registers the configurables, then parses files and bindings (gin's errors name file and line)."""
    import gin

    from flan_jax import gin_configurables  # noqa: F401  (registers every configurable)

    _guard_gin_file_checks()
    for path in search_paths:
        gin.add_config_file_search_path(path)
    if not gin_files:
        raise ValueError("No --gin_file given: start from --gin_file=gin/runs/finetune.gin plus a model gin file.")
    gin.parse_config_files_and_bindings(list(gin_files), list(gin_bindings), finalize_config=False)


def _guard_gin_file_checks() -> None:
    """Makes gin's "does this file exist" checks answer False instead of raising.

    gin's package-resource check treats 'runs/finetune.gin' as package 'runs'; a `runs/`
    directory in the working directory (the default MODEL_DIR parent) is a namespace package
    without a file, and gin raises TypeError instead of trying the search paths. gin has no
    public hook for this, hence the private list.
    """
    from gin import config as gin_config

    def safe(check):
        if getattr(check, "_flan_jax_safe", False):
            return check

        def guarded(path):
            try:
                return check(path)
            except TypeError:
                return False

        guarded._flan_jax_safe = True
        return guarded

    gin_config._FILE_READERS[:] = [(reader, safe(check)) for reader, check in gin_config._FILE_READERS]


def import_task_module() -> str | None:
    """Imports MIXTURE_OR_TASK_MODULE (t5x's DatasetConfig.module) so its tasks register."""
    module = _macro("MIXTURE_OR_TASK_MODULE")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ImportError(
                f"MIXTURE_OR_TASK_MODULE={module!r} could not be imported ({error}); it should be the "
                "module that registers MIXTURE_OR_TASK_NAME, e.g. 'flan_jax_tasks.mixtures'."
            ) from error
    return module


def run(flags: argparse.Namespace) -> None:
    """Parses gin, initialises multi-host JAX, imports the tasks and trains."""
    import gin
    import jax

    if flags.coordinator_address or flags.distributed:
        # CPU processes need a collectives backend to talk to each other; accelerators ignore it.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if flags.coordinator_address:
        jax.distributed.initialize(
            coordinator_address=flags.coordinator_address, num_processes=flags.num_processes, process_id=flags.process_id
        )
    elif flags.distributed:
        jax.distributed.initialize()
    parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths)
    import_task_module()
    from flan_jax import gin_configurables

    result = gin_configurables.train(operative_config=gin.operative_config_str, show_progress=not flags.no_progress)
    if jax.process_index() == 0:
        # gin records `train`'s own bindings only once it returns: rewrite the file written at the
        # start of training so it holds the complete operative config.
        (pathlib.Path(_macro("MODEL_DIR")).absolute() / "config.gin").write_text(gin.operative_config_str())
    if jax.process_index() == 0 and result.last_metrics:
        first, last = result.first_metrics, result.last_metrics
        print(
            f"loss per target token: first {first['loss_per_token']:.4f} -> last {last['loss_per_token']:.4f} "
            f"(token accuracy {first['accuracy']:.3f} -> {last['accuracy']:.3f}) at step {int(result.state.step)}"
        )
    if _macro("EVAL_AFTER_TRAINING", False):
        evaluate_after_training(show_progress=not flags.no_progress)


def evaluate_after_training(show_progress: bool = True):
    """Runs `flan-jax eval`'s `evaluate` as bound in the gin files (e.g. gin/runs/demo.gin).

    It restores the checkpoint just written (bind `evaluate.checkpoint_path = %MODEL_DIR`), so it
    evaluates exactly what a later `flan-jax eval` would.
    """
    from flan_jax import gin_configurables

    evaluate = getattr(gin_configurables, "evaluate", None)
    if evaluate is None:
        raise ImportError("EVAL_AFTER_TRAINING is set but no `evaluate` configurable is registered in flan_jax.gin_configurables.")
    return evaluate(show_progress=show_progress)


def _macro(name: str, default=None):
    import gin

    try:
        return gin.query_parameter(f"%{name}")
    except ValueError:
        return default


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m flan_jax.train` and `flan-jax train`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    flags = parse_flags(argv)
    try:
        run(flags)
    except _USER_ERRORS as error:
        logging.debug("Training stopped", exc_info=True)
        print(f"flan-jax train: error: {error}", file=sys.stderr)
        return 1
    return 0
