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
- `--tfds_data_dir`: where TFDS datasets are prepared, for every task (seqio's override, as t5x).
- Multi-host: `--coordinator_address/--num_processes/--process_id` (t5x's `--process_count` /
  `--process_index` too), or `--distributed` (t5x's `--multiprocess_gpu`) to let
  `jax.distributed.initialize()` read SLURM / TPU settings.
- `--verbose`: library logs on the terminal too (they always go to the command's log file).

Each command builds its parser with `make_parser`, adds its own arguments and calls `parse`;
`setup` then initialises JAX's processes, parses gin (a syntax error, a missing file or a
`--gin.NAME` no binding reads is reported in one line) and adds the cache directories, and
`run_command` turns the errors that say what to fix into an exit status.
"""
import argparse
import difflib
import importlib
import logging
import os
import pathlib
import re
import sys
import tokenize
from typing import Any, Callable, Sequence

from flan_jax import console

REPO_GIN_DIR = pathlib.Path(__file__).resolve().parents[1] / "gin"
CACHE_DIRS_MACRO = "SEQIO_ADDITIONAL_CACHE_DIRS"
# The macros the command-line modules read themselves (`macro(...)`): set by a flag, they are used
# even where no gin binding refers to them.
COMMAND_MACROS = frozenset({
    "MIXTURE_OR_TASK_MODULE", "MIXTURE_OR_TASK_NAME", "USE_CACHED_TASKS", "MODEL_DIR", "EVAL_AFTER_TRAINING",
    "EVAL_DATA_DIRS", "EVAL_SUITE", "EVAL_SPLIT", "CHECKPOINT_PATH", "EVAL_OUTPUT_DIR", CACHE_DIRS_MACRO,
    "TRAIN_STEPS", "PRETRAIN_CACHE_DIR",  # flan-jax pretrain: its cache key and finished check
    "BATCH_SIZE", "TASK_FEATURE_LENGTHS", "NUM_PARTITIONS", "REMAT_POLICY", "SCAN_LAYERS",  # flan-jax plan
    "LEARNING_RATE",  # flan-jax experiment prints it
    "MODEL",  # flan-jax convert --gin_file: the model a model gin file defines
})

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
    parser.add_argument("--tfds_data_dir", default=None,
                        help="directory of prepared TFDS datasets, for every task (overrides the tasks' own)")
    parser.add_argument("--coordinator_address", default=None, help="host:port of process 0 (multi-host)")
    parser.add_argument("--num_processes", "--process_count", dest="num_processes", type=int, default=None)
    parser.add_argument("--process_id", "--process_index", dest="process_id", type=int, default=None)
    parser.add_argument("--distributed", "--multiprocess_gpu", dest="distributed", action="store_true",
                        help="jax.distributed.initialize() (from the environment without --coordinator_address)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars (logs only)")
    parser.add_argument("--verbose", action="store_true", help="library logs on the terminal too, not only in the log file")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parses `argv`, with `--gin.NAME=VALUE` appended to the gin bindings and the lists split.

    Returns:
      The flags; `gin_bindings` holds `--gin_bindings` then the `--gin.` ones, `gin_search_paths`
      and `seqio_additional_cache_dirs` are lists (search paths end with '.', the repo's gin/ and
      the repo itself, so 'gin/runs/x.gin' is found from any directory); `gin_binding_flags`
      holds the flag each binding came from, for errors.
    """
    overrides, override_flags, rest = [], [], []
    for arg in argv:
        if arg.startswith("--gin.") and "=" in arg:
            name, value = arg[len("--gin."):].split("=", 1)
            overrides.append(f"{name} = {value}")
            override_flags.append(arg)
        else:
            rest.append(arg)
    flags = parser.parse_args(rest)
    flags.gin_binding_flags = [f"--gin_bindings={b!r}" for b in flags.gin_bindings] + override_flags
    flags.gin_bindings = list(flags.gin_bindings) + overrides
    flags.gin_search_paths = _split(flags.gin_search_paths) + [".", str(REPO_GIN_DIR), str(REPO_GIN_DIR.parent)]
    flags.seqio_additional_cache_dirs = [d for value in flags.seqio_additional_cache_dirs for d in _split(value)]
    return flags


def add_binding(flags: argparse.Namespace, binding: str) -> None:
    """Appends a binding a command sets itself (after the user's), as if passed with --gin_bindings."""
    flags.gin_bindings = [*flags.gin_bindings, binding]
    flags.gin_binding_flags = [*flags.gin_binding_flags, f"--gin_bindings={binding!r}"]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def setup(flags: argparse.Namespace) -> None:
    """Initialises multi-host JAX (if asked), parses gin and adds the seqio cache directories.

    TensorFlow's and XLA's start-up lines (written by their C++ code) go to the log, not the terminal.
    """
    if flags.tfds_data_dir:
        import seqio

        seqio.set_tfds_data_dir_override(flags.tfds_data_dir)  # before registration checks what is prepared
    initialize_distributed(flags)
    with console.native_stderr_to_log():
        parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths, getattr(flags, "gin_binding_flags", None))
        import jax
        import tensorflow as tf

        jax.devices()  # starts the backend
        # As t5x: TensorFlow (the input pipeline) stays off the accelerators JAX uses.
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow already started (a second command in one process)
            pass
    warn_unused_macros(flags.gin_bindings, getattr(flags, "gin_binding_flags", None))
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


class GinConfigError(ValueError):
    """A gin file or binding that cannot be read: one line naming where, and the likely fix."""


def parse_gin(gin_files: Sequence[str], gin_bindings: Sequence[str], search_paths: Sequence[str],
              binding_flags: Sequence[str] | None = None) -> None:
    """Registers the configurables, then parses files and bindings.

    Args:
      gin_files: paths, absolute or relative to one of `search_paths`.
      gin_bindings: "NAME = VALUE" bindings, applied after the files.
      search_paths: where relative files (and the files they include) are looked up.
      binding_flags: the flag each binding came from (named in errors); default the bindings.

    Raises:
      GinConfigError: a file found in no search path, or a syntax error (file or flag, line, fix).
      ValueError / gin's errors: unknown configurables and parameters (gin names file and line).
    """
    import gin

    from flan_jax import gin_configurables  # noqa: F401  (registers every configurable)

    guard_gin_file_checks()
    for path in search_paths:
        gin.add_config_file_search_path(path)
    if not gin_files:
        raise ValueError("No --gin_file given: start from a gin/runs/*.gin file (finetune.gin, eval.gin, infer.gin) "
                         "plus a model gin file such as gin/models/t5_1_1/small.gin.")
    for gin_file in gin_files:
        path = find_gin_file(gin_file, search_paths)
        try:
            gin.parse_config_file(path or gin_file)  # not a file: maybe a package resource (gin's readers)
        except (SyntaxError, tokenize.TokenError) as error:
            raise GinConfigError(_syntax_message(error, f"--gin_file={gin_file}", path)) from None
        except OSError as error:
            if path is None:
                tried = [gin_file] if os.path.isabs(gin_file) else [os.path.join(p, gin_file) for p in search_paths]
                raise GinConfigError(f"--gin_file={gin_file}: no such file; tried {', '.join(tried)} (add its "
                                     "directory with --gin_search_paths, or give the full path).") from None
            raise GinConfigError(f"--gin_file={gin_file}: {error}") from None  # an `include` found nowhere
    for binding, flag in zip(gin_bindings, binding_flags or gin_bindings):
        try:
            gin.parse_config(binding)
        except (SyntaxError, tokenize.TokenError) as error:
            raise GinConfigError(_syntax_message(error, flag, None)) from None


def find_gin_file(gin_file: str, search_paths: Sequence[str]) -> str | None:
    """The absolute path of `gin_file`: as given, or under the first search path holding it; None if no such file."""
    candidates = [gin_file] if os.path.isabs(gin_file) else [os.path.join(p, gin_file) for p in search_paths]
    return next((os.path.abspath(c) for c in candidates if os.path.isfile(c)), None)


_BARE_VALUE = re.compile(r"^[^'\"\[\]{}()@%0-9\-+.][^'\"]*$")


def _syntax_message(error: SyntaxError | tokenize.TokenError, where: str, path: str | None) -> str:
    """One line: where (flag or file:line), what gin could not read, and the likely fix."""
    if isinstance(error, tokenize.TokenError):
        what, line, text = error.args[0], None, None
    else:
        # gin's message for a bare word is Python's ("malformed node or string ... <ast.Name ...>") then its own.
        what = [m.strip() for m in error.msg.splitlines() if m.strip() and "<ast." not in m][-1:] or ["invalid value"]
        what, line, text = what[0], error.lineno, (error.text or "").strip()
    if path is not None and line is not None:
        with open(path, encoding="utf-8") as f:  # gin's own text can be the joined statement
            lines = f.read().splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else text
    name, _, value = (text or "").partition("=")
    value = value.strip()
    if value and _BARE_VALUE.match(value) and value not in ("True", "False", "None"):
        flag = where.split("=")[0]
        example = f"{flag}=\"'{value}'\"" if flag.startswith("--gin.") else f"{name.strip()} = '{value}'"
        fix = f"strings need quotes: {example}"
    elif "EOF" in what or "multi-line" in what:
        fix = "a bracket or quote is not closed"
    else:
        fix = "check the quotes, brackets and commas of the value"
    place = f"{path}, line {line}" if path is not None else where
    return f"gin cannot read {place}" + (f" ({text})" if text and path is not None else "") + f": {what}; {fix}."


def warn_unused_macros(gin_bindings: Sequence[str], binding_flags: Sequence[str] | None = None) -> list[str]:
    """Warns about macros set by flags (`--gin.NAME=...`, `--gin_bindings='NAME = ...'`) that nothing reads.

    A macro is read when a gin binding refers to it (`%NAME`) or the command line reads it
    (`COMMAND_MACROS`); any other one is a typo or a leftover (`--gin.TRAIN_STEP=5` for
    TRAIN_STEPS) that gin, like t5x, would ignore silently.

    Returns:
      The flags whose macro nothing reads.
    """
    import gin

    referenced = set(re.findall(r"%([A-Za-z_][\w./]*)", gin.config_str())) | COMMAND_MACROS
    defined = set(re.findall(r"^([A-Za-z_]\w*) = ", gin.config_str(), re.MULTILINE))
    unused = []
    for binding, flag in zip(gin_bindings, binding_flags or gin_bindings):
        for name in re.findall(r"^\s*([A-Za-z_]\w*)\s*=", binding, re.MULTILINE):
            if name not in referenced:
                close = difflib.get_close_matches(name, sorted((referenced | defined) - {name}), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                logging.warning("%s sets the gin macro %s, but no gin binding reads it (no %%%s): it has no "
                                "effect%s.", flag, name, name, hint)
                unused.append(flag)
    return unused


def guard_gin_file_checks() -> None:
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


def run_command(prog: str, run: Callable[[], Any], user_errors: tuple[type[BaseException], ...] = USER_ERRORS,
                verbose: bool = False) -> int:
    """Runs a command's body; an error that says what to fix is printed as `PROG: error: ...` (exit 1).

    Logging is set up by `console.setup` (quiet terminal unless `verbose`). Other exceptions keep
    their traceback: they are bugs, not bad input.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    console.setup(verbose)
    try:
        run()
    except user_errors as error:
        logging.info("%s stopped", prog, exc_info=True)
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    finally:
        console.finish()
    return 0
