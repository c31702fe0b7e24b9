"""t5x's command line, shared by every gin entry point (`flan-jax train | eval | infer`).

    flan-jax train --gin_file=runs/finetune.gin --gin_file=models/t5_1_1/small.gin \\
      --gin.MODEL_DIR="'runs/x'" --gin_bindings="BATCH_SIZE = 32" \\
      --gin_search_paths=my/gin --seqio_additional_cache_dirs=/data/seqio_cache

- `--gin_file` (repeatable) is resolved against `--gin_search_paths` (comma-separated), then
  '.', then the repository's gin/ directory.
- `--gin_bindings` (repeatable) and `--gin.NAME=VALUE` (the same as `--gin_bindings='NAME = VALUE'`).
- `--seqio_additional_cache_dirs` (comma-separated, repeatable) and the gin macro
  SEQIO_ADDITIONAL_CACHE_DIRS: where seqio looks for caches written by `flan-jax cache`, which
  USE_CACHED_TASKS = True reads.
- Multi-host: `--coordinator_address/--num_processes/--process_id`, or `--distributed` to let
  `jax.distributed.initialize()` read SLURM / TPU settings.

Each command builds its parser with `make_parser`, adds its own arguments and calls `parse`;
`setup` then initialises JAX's processes, parses gin and adds the cache directories, and
`run_command` turns the errors that say what to fix into an exit status.
"""
import argparse
import importlib
import logging
import os
import pathlib
import sys
from typing import Any, Callable, Sequence

REPO_GIN_DIR = pathlib.Path(__file__).resolve().parents[1] / "gin"
CACHE_DIRS_MACRO = "SEQIO_ADDITIONAL_CACHE_DIRS"

# Errors whose message says what to fix: printed without a traceback, exit status 1.
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, ImportError, FloatingPointError)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser holding t5x's gin, cache and multi-host flags; commands add their own."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--gin_file", action="append", default=[], help="gin file (repeatable)")
    parser.add_argument("--gin_bindings", action="append", default=[], help="gin binding (repeatable)")
    parser.add_argument(
        "--gin_search_paths", default="",
        help=f"comma-separated directories to resolve gin files and includes in (then '.' and {REPO_GIN_DIR})",
    )
    parser.add_argument(
        "--seqio_additional_cache_dirs", action="append", default=[],
        help="comma-separated directories holding `flan-jax cache` output, read with USE_CACHED_TASKS = True",
    )
    parser.add_argument("--coordinator_address", default=None, help="host:port of process 0 (multi-host)")
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)
    parser.add_argument("--distributed", action="store_true", help="jax.distributed.initialize() from the environment")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars (logs only)")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parses `argv`, with `--gin.NAME=VALUE` appended to the gin bindings and the lists split.

    Returns:
      The flags; `gin_bindings` holds `--gin_bindings` then the `--gin.` ones, `gin_search_paths`
      and `seqio_additional_cache_dirs` are lists (search paths end with '.' and the repo's gin/).
    """
    overrides, rest = [], []
    for arg in argv:
        if arg.startswith("--gin.") and "=" in arg:
            name, value = arg[len("--gin."):].split("=", 1)
            overrides.append(f"{name} = {value}")
        else:
            rest.append(arg)
    flags = parser.parse_args(rest)
    flags.gin_bindings = list(flags.gin_bindings) + overrides
    flags.gin_search_paths = _split(flags.gin_search_paths) + [".", str(REPO_GIN_DIR)]
    flags.seqio_additional_cache_dirs = [d for value in flags.seqio_additional_cache_dirs for d in _split(value)]
    return flags


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def setup(flags: argparse.Namespace) -> None:
    """Initialises multi-host JAX (if asked), parses gin and adds the seqio cache directories."""
    initialize_distributed(flags)
    parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths)
    add_cache_dirs(flags.seqio_additional_cache_dirs)


def initialize_distributed(flags: argparse.Namespace) -> None:
    """`jax.distributed.initialize` from the multi-host flags (nothing without them)."""
    if not (flags.coordinator_address or flags.distributed):
        return
    import jax

    # CPU processes need a collectives backend to talk to each other; accelerators ignore it.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if flags.coordinator_address:
        jax.distributed.initialize(
            coordinator_address=flags.coordinator_address, num_processes=flags.num_processes, process_id=flags.process_id
        )
    else:
        jax.distributed.initialize()


def parse_gin(gin_files: Sequence[str], gin_bindings: Sequence[str], search_paths: Sequence[str]) -> None:
    """Registers the configurables, then parses files and bindings (gin's errors name file and line)."""
    import gin

    from flan_jax import gin_configurables  # noqa: F401  (registers every configurable)

    _guard_gin_file_checks()
    for path in search_paths:
        gin.add_config_file_search_path(path)
    if not gin_files:
        raise ValueError("No --gin_file given: start from a gin/runs/*.gin file (finetune.gin, eval.gin, infer.gin) "
                         "plus a model gin file such as gin/models/t5_1_1/small.gin.")
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


def macro(name: str, default: Any = None) -> Any:
    """The value of gin macro `name` as parsed, or `default` when no file or binding sets it."""
    import gin

    try:
        return gin.query_parameter(f"%{name}")
    except ValueError:
        return default


def add_cache_dirs(flag_dirs: Sequence[str] = ()) -> list[str]:
    """Adds `--seqio_additional_cache_dirs` and SEQIO_ADDITIONAL_CACHE_DIRS to seqio's cache search path.

    Returns:
      The directories added (flags first), so tasks cached there are found by USE_CACHED_TASKS.
    """
    import seqio

    from_gin = macro(CACHE_DIRS_MACRO) or []
    if isinstance(from_gin, str):
        from_gin = _split(from_gin)
    directories = list(dict.fromkeys([*flag_dirs, *from_gin]))
    if directories:
        seqio.add_global_cache_dirs(directories)
    return directories


def import_module(module: str | None, macro_name: str = "MIXTURE_OR_TASK_MODULE") -> None:
    """Imports the module that registers the tasks (t5x's DatasetConfig.module); its error names `macro_name`."""
    if not module:
        return
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{macro_name}={module!r} could not be imported ({error}); it should be the module that "
            "registers the tasks, e.g. 'flan_jax_tasks.mixtures'."
        ) from error


def run_command(prog: str, run: Callable[[], Any], user_errors: tuple[type[BaseException], ...] = USER_ERRORS) -> int:
    """Runs a command's body; an error that says what to fix is printed as `PROG: error: ...` (exit 1).

    Other exceptions keep their traceback: they are bugs, not bad input.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run()
    except user_errors as error:
        logging.debug("%s stopped", prog, exc_info=True)
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    return 0
