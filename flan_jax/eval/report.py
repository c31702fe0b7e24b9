"""Benchmark summaries (per subtask, aggregates, normalised score) and their Markdown tables.

Shared by `flan-jax eval` and `flan-jax score` so both print and write the same numbers.
"""
import dataclasses
from typing import Any, Mapping, Sequence

from flan_jax.eval import benchmarks, metrics


@dataclasses.dataclass(frozen=True)
class BenchmarkSummary:
    """One benchmark's scores.

    Attributes:
      benchmark: "mmlu", "mmlu_cot", "bbh", "bbh_cot", "tydiqa" or "mgsm".
      metric: "accuracy" or "exact_match".
      subtasks: subtask -> percent.
      average: macro average over subtasks (TyDiQA without English), percent.
      random_score: the random-guess percent (`benchmarks.random_score`).
      normalized: (average - random) / (100 - random) * 100.
      categories: MMLU category -> macro average (empty for other benchmarks).
      num_examples: subtask -> number of scored examples.
      missing: subtask -> examples without a prediction (counted as wrong); only non-zero ones.
    """

    benchmark: str
    metric: str
    subtasks: dict[str, float]
    average: float
    random_score: float
    normalized: float
    categories: dict[str, float] = dataclasses.field(default_factory=dict)
    num_examples: dict[str, int] = dataclasses.field(default_factory=dict)
    missing: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def summarize(
    benchmark: str,
    subtask_scores: Mapping[str, float],
    random_score: float,
    num_examples: Mapping[str, int] | None = None,
    missing: Mapping[str, int] | None = None,
) -> BenchmarkSummary:
    """Aggregates per-subtask percents into a `BenchmarkSummary`."""
    scores = dict(sorted(subtask_scores.items()))
    average = metrics.macro_average(benchmark, scores)
    categories = benchmarks.mmlu_category_averages(scores) if benchmark in ("mmlu", "mmlu_cot") else {}
    return BenchmarkSummary(
        benchmark=benchmark,
        metric=metrics.metric_name(benchmark),
        subtasks=scores,
        average=average,
        random_score=random_score,
        normalized=metrics.normalize_score(average, random_score),
        categories=categories,
        num_examples=dict(num_examples or {}),
        missing={k: v for k, v in (missing or {}).items() if v},
    )


def benchmark_table(summary: BenchmarkSummary) -> str:
    """A Markdown table: one row per subtask, then the category and overall averages."""
    excluded = metrics.EXCLUDED_FROM_AVERAGE.get(summary.benchmark, frozenset())
    lines = [
        f"### {summary.benchmark} ({summary.metric}, %)",
        "",
        "| subtask | score | examples | missing |",
        "|---|---:|---:|---:|",
    ]
    for name, score in summary.subtasks.items():
        note = " (not averaged)" if name in excluded else ""
        lines.append(
            f"| {name}{note} | {score:.2f} | {summary.num_examples.get(name, '')} | {summary.missing.get(name, 0)} |"
        )
    for category, score in summary.categories.items():
        lines.append(f"| **{category}** | {score:.2f} | | |")
    lines.append(f"| **average** | {summary.average:.2f} | {sum(summary.num_examples.values()) or ''} | "
                 f"{sum(summary.missing.values())} |")
    lines.append(f"| normalized (random {summary.random_score:.2f}) | {summary.normalized:.2f} | | |")
    return "\n".join(lines)


def overview_table(summaries: Sequence[BenchmarkSummary], normalized_average: float | None) -> str:
    """One row per benchmark, then the paper's normalised average when all six are present."""
    lines = ["| benchmark | average | random | normalized |", "|---|---:|---:|---:|"]
    for s in summaries:
        lines.append(f"| {s.benchmark} | {s.average:.2f} | {s.random_score:.2f} | {s.normalized:.2f} |")
    if normalized_average is not None:
        lines.append(f"| **normalized average** | | | {normalized_average:.2f} |")
    return "\n".join(lines)


def normalized_average(summaries: Sequence[BenchmarkSummary]) -> float | None:
    """The mean of the six normalised scores (Table 5), None unless all six benchmarks are present."""
    by_name = {s.benchmark: s for s in summaries}
    return metrics.normalized_average(
        {name: s.average for name, s in by_name.items()}, {name: s.random_score for name, s in by_name.items()}
    )
