"""`flan-jax infer`: a checkpoint's outputs for JSON-lines inputs, or for prompts typed in.

    flan-jax infer --gin_file=gin/runs/infer.gin --gin_file=gin/models/t5_1_1/small.gin \\
      --gin.CHECKPOINT_PATH="'runs/x'" --input prompts.jsonl --output outputs.jsonl
    flan-jax infer ... --prompt "Translate to German: good morning"
    flan-jax infer ...                      # interactive: one prompt per line, empty line quits

Input records are JSON objects with "inputs" (other keys are copied through); each output
record adds "prediction". Decoding is set by `evaluation.DecodeOptions` (greedy by default).
The job itself is `flan_jax.eval.jobs.infer`.
"""
import argparse
import sys
from typing import Any, Sequence

from flan_jax import gin_flags

PROG = "flan-jax infer"


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    """t5x's flags (`flan_jax.gin_flags`) plus --input, --output and --prompt."""
    parser = gin_flags.make_parser(PROG, __doc__.split("\n\n")[0])
    parser.add_argument("--input", default=None, help="JSON lines with an 'inputs' string")
    parser.add_argument("--output", default=None, help="JSON lines out (default: stdout)")
    parser.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    return gin_flags.parse(parser, argv)


def run(flags: argparse.Namespace) -> list[dict[str, Any]]:
    gin_flags.setup(flags)
    from flan_jax import gin_configurables

    return gin_configurables.infer(input_file=flags.input, output_file=flags.output, prompts=flags.prompt,
                                   show_progress=not flags.no_progress)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flan-jax infer`; returns the exit code."""
    flags = parse_flags(list(sys.argv[1:] if argv is None else argv))
    return gin_flags.run_command(PROG, lambda: run(flags), verbose=flags.verbose)


if __name__ == "__main__":
    sys.exit(main())
