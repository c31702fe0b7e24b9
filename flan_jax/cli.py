"""`flan-jax COMMAND ...`: one console script over the library's entry points.

Each command's arguments are parsed by the module that owns the command, so this file only
dispatches; modules are imported lazily so `flan-jax tasks list` never loads the trainer.
"""
import importlib
import sys
from typing import Sequence

# command -> (module, function taking argv, one-line help)
COMMANDS = {
    "train": ("flan_jax.train.main", "main", "fine-tune with gin files (t5x flags)"),
    "pretrain": ("flan_jax.train.pretrain", "main", "span-corruption pretraining, cached by its config"),
    "eval": ("flan_jax.eval.main", "main", "evaluate a checkpoint on held-out suites"),
    "infer": ("flan_jax.eval.infer", "main", "predictions for JSON-lines inputs or a prompt"),
    "score": ("flan_jax.eval.score", "main", "score predictions made by any system"),
    "contamination": ("flan_jax.eval.contamination_commands", "main", "n-gram overlap of training and evaluation tasks"),
    "tasks": ("flan_jax.data.task_commands", "main", "list, show and count registered tasks"),
    "mixture": ("flan_jax.data.mixture_commands", "main", "show and sample mixture rates"),
    "cache": ("flan_jax.data.cache", "main", "cache tasks to TFRecords with Apache Beam"),
    "convert": ("flan_jax.convert.main", "main", "import / export Hugging Face checkpoints"),
}


def _usage() -> str:
    lines = ["usage: flan-jax COMMAND [ARGS...]", "", "commands:"]
    width = max(map(len, COMMANDS))
    lines += [f"  {name:<{width}} {help_}" for name, (_, _, help_) in COMMANDS.items()]
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
    function = getattr(importlib.import_module(module_name), function_name)
    return int(function(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
