"""`flan-jax score`: score predictions made by any system on a held-out benchmark.

    flan-jax score --benchmark bbh_cot --data-dir ~/BIG-Bench-Hard \\
      --predictions preds.jsonl --output scores.json

The predictions file is JSON lines `{"subtask": ..., "index": ..., "prediction": ...}`: subtask
is the MMLU subject / BBH task / TyDiQA language / MGSM language code as the data files name
them, index the 0-based position in that subtask's test file, prediction the raw output (answers
are extracted as `flan_jax.eval.metrics` documents). Missing predictions count as wrong and are
reported; duplicates, unknown subtasks and out-of-range indices are errors that name them.
Prints a Markdown table and writes JSON `{"benchmark", "average", "subtasks", ...}`.
`flan-jax eval` writes predictions in this format, so other systems are scored identically.
"""
import argparse
import json
import pathlib
import sys
from typing import Any, Iterable, Mapping, Sequence

from flan_jax import gin_flags
from flan_jax.eval import benchmarks, metrics, report

PROG = "flan-jax score"


class PredictionsError(ValueError):
    """The predictions file is malformed (the message names the line and what is wrong)."""


def read_predictions(path: str | pathlib.Path) -> list[dict[str, Any]]:
    """The JSON-lines records of a predictions file (blank lines skipped)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise PredictionsError(f"{path}:{line_number}: not JSON ({e}).") from e
            if not isinstance(record, dict) or not {"subtask", "index", "prediction"} <= set(record):
                raise PredictionsError(
                    f"{path}:{line_number}: expected an object with keys subtask, index, prediction; got {line.strip()[:200]!r}."
                )
            if not isinstance(record["index"], int) or isinstance(record["index"], bool):
                raise PredictionsError(f"{path}:{line_number}: index must be an integer, got {record['index']!r}.")
            record["_line"] = line_number
            records.append(record)
    return records


def score_predictions(
    benchmark: str,
    records: Iterable[Mapping[str, Any]],
    data_dir: str | pathlib.Path | None = None,
) -> report.BenchmarkSummary:
    """Scores prediction records against a benchmark's gold answers.

    Args:
      benchmark: one of `metrics.BENCHMARKS`.
      records: dicts with subtask, index and prediction.
      data_dir: the benchmark's data directory (None: its environment variable).

    Returns:
      The benchmark's summary; every subtask of the data is scored, missing predictions as wrong.

    Raises:
      PredictionsError: an unknown subtask, an index out of range, or a duplicate (all named).
    """
    if benchmark not in metrics.BENCHMARKS:
        raise PredictionsError(f"Unknown benchmark {benchmark!r}; expected one of {metrics.BENCHMARKS}.")
    golds = {s: benchmarks.gold_answers(benchmark, s, data_dir) for s in benchmarks.subtasks(benchmark, data_dir)}
    predictions: dict[str, list[str | None]] = {s: [None] * len(g) for s, g in golds.items()}
    unknown, out_of_range, duplicates = set(), [], []
    for record in records:
        subtask, index = str(record["subtask"]), record["index"]
        where = f"line {record['_line']}: " if "_line" in record else ""
        if subtask not in golds:
            unknown.add(subtask)
        elif not 0 <= index < len(golds[subtask]):
            out_of_range.append(f"{where}{subtask}[{index}] (it has {len(golds[subtask])} examples)")
        elif predictions[subtask][index] is not None:
            duplicates.append(f"{where}{subtask}[{index}]")
        else:
            predictions[subtask][index] = str(record["prediction"])
    problems = []
    if unknown:
        problems.append(f"unknown subtasks {sorted(unknown)} (the data has {sorted(golds)})")
    if out_of_range:
        problems.append(f"indices out of range: {', '.join(out_of_range[:10])}{' ...' if len(out_of_range) > 10 else ''}")
    if duplicates:
        problems.append(f"duplicate predictions: {', '.join(duplicates[:10])}{' ...' if len(duplicates) > 10 else ''}")
    if problems:
        raise PredictionsError(f"{benchmark} predictions: " + "; ".join(problems) + ".")
    scores = {s: metrics.accuracy(benchmark, predictions[s], golds[s]) for s in golds}
    missing = {s: sum(p is None for p in predictions[s]) for s in golds}
    return report.summarize(
        benchmark,
        scores,
        benchmarks.random_score(benchmark, data_dir),
        num_examples={s: len(g) for s, g in golds.items()},
        missing=missing,
    )


def summary_json(summary: report.BenchmarkSummary) -> dict[str, Any]:
    """The JSON written by `--output`: at least {"average", "subtasks"}."""
    return summary.to_json()


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True, choices=metrics.BENCHMARKS)
    parser.add_argument("--data-dir", default=None, help="the benchmark's data directory (default: its FLAN_JAX_*_DIR variable)")
    parser.add_argument("--predictions", required=True, help="JSON lines {subtask, index, prediction}")
    parser.add_argument("--output", default=None, help="write the scores as JSON here")
    return parser.parse_args(argv)


def run(flags: argparse.Namespace) -> report.BenchmarkSummary:
    """Scores the predictions file, prints the table (and what is missing), writes --output."""
    summary = score_predictions(flags.benchmark, read_predictions(flags.predictions), flags.data_dir)
    print(report.benchmark_table(summary))
    if summary.missing:
        print(f"\n{sum(summary.missing.values())} examples had no prediction (counted as wrong): {summary.missing}")
    if flags.output:
        pathlib.Path(flags.output).parent.mkdir(parents=True, exist_ok=True)
        with open(flags.output, "w", encoding="utf-8") as f:
            json.dump(summary_json(summary), f, indent=2, ensure_ascii=False)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flan-jax score`; returns the exit code (1: a file or record at fault, named)."""
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    return gin_flags.run_command(PROG, lambda: run(flags), user_errors=(ValueError, FileNotFoundError))
