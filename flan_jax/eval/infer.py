"""`flan-jax infer`: a checkpoint's outputs for JSON-lines inputs, or for prompts typed in.

    flan-jax infer --gin_file=gin/runs/infer.gin --gin_file=gin/models/t5_1_1/small.gin \\
      --gin.CHECKPOINT_PATH="'runs/x'" --input prompts.jsonl --output outputs.jsonl
    flan-jax infer ... --prompt "Translate to German: good morning"
    flan-jax infer ...                      # interactive: one prompt per line, empty line quits

Input records are JSON objects with "inputs" (other keys are copied through); each output
record adds "prediction". Decoding is set by `evaluation.DecodeOptions` (greedy by default).
"""
import argparse
import json
import sys
from typing import Any, Iterable, Mapping, Sequence, TextIO

from flan_jax import gin_flags
from flan_jax.eval import evaluator

PROG = "flan-jax infer"


def read_inputs(path: str) -> list[dict[str, Any]]:
    """JSON-lines records with an "inputs" string (the line is named when one lacks it)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("inputs"), str):
                raise ValueError(f"{path}:{line_number}: expected a JSON object with an 'inputs' string.")
            records.append(record)
    return records


def interactive(predict, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Reads prompts line by line and prints each output; stops at an empty line or EOF."""
    count = 0
    while True:
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line.strip():
            return count
        stdout.write(predict([line.rstrip("\n")])[0] + "\n")
        count += 1


def infer(
    *,
    model: Any,
    checkpoint_path: str | None,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 8,
    decode: evaluator.DecodeOptions = evaluator.DecodeOptions(),
    partitioner: Any = None,
    input_file: str | None = None,
    output_file: str | None = None,
    prompts: Sequence[str] = (),
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Restores CHECKPOINT_PATH and predicts for `input_file`, `prompts`, or (neither) stdin.

    Returns:
      The output records ({..., "inputs", "prediction"}); also written to `output_file`
      (JSON lines) when given, printed otherwise.
    """
    from flan_jax.eval import main as eval_main

    if not checkpoint_path:
        raise ValueError("No checkpoint: set --gin.CHECKPOINT_PATH=\"'runs/x'\".")
    import jax

    from flan_jax.train import partitioning

    partitioner = partitioner or partitioning.Partitioner()
    params, _ = eval_main.restore_params(model, checkpoint_path, task_feature_lengths, partitioner)

    def predict(texts: Sequence[str]) -> list[str]:
        return evaluator.predict_texts(model, params, texts, task_feature_lengths=task_feature_lengths,
                                       batch_size=batch_size, decode=decode, progress=show_progress and len(texts) > batch_size,
                                       placer=partitioner)

    records = read_inputs(input_file) if input_file else [{"inputs": p} for p in prompts]
    if not records:
        interactive(predict)
        return []
    outputs = [{**r, "prediction": p} for r, p in zip(records, predict([r["inputs"] for r in records]))]
    if jax.process_index() == 0:  # every process holds the gathered outputs; the chief writes them
        write_records(outputs, output_file)
    return outputs


def write_records(records: Iterable[Mapping[str, Any]], path: str | None) -> None:
    """JSON lines to `path`, or to stdout when None."""
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    if path is None:
        sys.stdout.writelines(lines)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


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
    return gin_flags.run_command(PROG, lambda: run(flags))


if __name__ == "__main__":
    sys.exit(main())
