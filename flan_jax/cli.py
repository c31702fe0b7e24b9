"""`flan-jax COMMAND ...`: one console script over the library's entry points.

Each command's arguments are parsed by the module that owns the command, so this file only
dispatches; modules are imported lazily so `flan-jax tasks list` never loads the trainer.
"""
import importlib
import sys
from typing import Sequence

from flan_jax import console

# command -> (module, function taking argv, one-line help)
COMMANDS = {
    "train": ("flan_jax.train.main", "main", "fine-tune with gin files (t5x flags)"),
    "pretrain": ("flan_jax.train.pretrain", "main", "span-corruption pretraining, cached by its config"),
    "eval": ("flan_jax.eval.main", "main", "evaluate a checkpoint on held-out suites"),
    "infer": ("flan_jax.eval.infer", "main", "predictions for JSON-lines inputs or a prompt"),
    "score": ("flan_jax.eval.score", "main", "score predictions made by any system"),
    "contamination": ("flan_jax.eval.contamination_commands", "main", "n-gram overlap of training and evaluation tasks"),
    "experiment": ("flan_jax.experiments.main", "main", "task-scaling and chain-of-thought grids from a pretrained model"),
    "tasks": ("flan_jax.data.task_commands", "main", "list, show and count registered tasks"),
    "mixture": ("flan_jax.data.mixture_commands", "main", "show and sample mixture rates"),
    "cache": ("flan_jax.data.cache", "main", "cache tasks to TFRecords with Apache Beam"),
    "convert": ("flan_jax.convert.main", "main", "import / export Hugging Face checkpoints"),
    "plan": ("flan_jax.train.plan_command", "main", "memory per device of the train step on a mesh"),
}


# Commands parsing t5x's flags (`gin_flags`), --verbose included.
GIN_COMMANDS = ("train", "eval", "infer")


def _usage() -> str:
    lines = ["usage: flan-jax COMMAND [ARGS...]", "", "commands:"]
    width = max(map(len, COMMANDS))
    lines += [f"  {name:<{width}} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "Every command takes --verbose: library logs on the terminal too (quiet by default)."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"flan-jax: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, function_name, _ = COMMANDS[command]
    # Quiet terminal (`console`); the gin commands take --verbose themselves, the others here.
    verbose = "--verbose" in rest
    if command not in GIN_COMMANDS:
        rest = [a for a in rest if a != "--verbose"]
    console.setup(verbose)
    with console.native_stderr_to_log():  # TensorFlow's start-up lines, for commands that import it
        module = importlib.import_module(module_name)
    return int(getattr(module, function_name)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
