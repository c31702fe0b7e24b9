"""Evaluation results and how they are shown and written: per-task results, benchmark summaries
(per subtask, aggregates, normalised score), Markdown tables, results.json / results.md /
predictions.

Shared by `flan-jax eval` and `flan-jax score` so both print and write the same numbers.
"""
import dataclasses
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np
from etils import epath

from flan_jax.data import registry
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


@dataclasses.dataclass
class TaskResult:
    """One task's evaluation.

    Attributes:
      task: the seqio task name.
      split: the split evaluated.
      metrics: the task's metric values (percent for the held-out benchmarks).
      num_examples: examples scored.
      num_truncated: inputs cut to the input feature length.
      rank_classification: whether predictions are the best-scoring options.
      benchmark, subtask: set for held-out benchmark tasks.
      predictions: one record per example: {"subtask"/"task", "index", "prediction", "target"}.
    """

    task: str
    split: str
    metrics: dict[str, float]
    num_examples: int
    num_truncated: int = 0
    rank_classification: bool = False
    benchmark: str | None = None
    subtask: str | None = None
    predictions: list[dict[str, Any]] = dataclasses.field(default_factory=list, repr=False)


@dataclasses.dataclass
class EvalResults:
    """All tasks' results and the benchmark aggregates.

    Attributes:
      tasks: task name -> TaskResult, in evaluation order.
      benchmarks: benchmark -> summary (only benchmarks whose tasks were evaluated).
      normalized_average: the mean of the six normalised benchmark scores; None unless all six ran.
    """

    tasks: dict[str, TaskResult]
    benchmarks: dict[str, BenchmarkSummary]
    normalized_average: float | None

    def other_tasks_average(self) -> float | None:
        """Mean of the first metric of the tasks outside the held-out benchmarks (e.g. synthetic)."""
        values = [next(iter(r.metrics.values())) for r in self.tasks.values() if r.benchmark is None and r.metrics]
        return float(np.mean(values)) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "normalized_average": self.normalized_average,
            "benchmarks": {name: s.to_json() for name, s in self.benchmarks.items()},
            "tasks": {
                name: {k: v for k, v in dataclasses.asdict(r).items() if k != "predictions"}
                for name, r in self.tasks.items()
            },
            "other_tasks_average": self.other_tasks_average(),
        }

    def scalars(self, prefix: str = "eval") -> dict[str, float]:
        """Flat scalars for TensorBoard: per task metric, per benchmark average/normalised, overall."""
        out = {f"{prefix}/{t}/{m}": float(v) for t, r in self.tasks.items() for m, v in r.metrics.items()}
        for name, s in self.benchmarks.items():
            out[f"{prefix}/{name}/average"] = s.average
            out[f"{prefix}/{name}/normalized"] = s.normalized
        if self.normalized_average is not None:
            out[f"{prefix}/normalized_average"] = self.normalized_average
        other = self.other_tasks_average()
        if other is not None:
            out[f"{prefix}/other_tasks_average"] = other
        return out


def cluster_averages(task_results: Sequence[TaskResult]) -> dict[str, tuple[int, float]]:
    """cluster -> (number of tasks, mean of their first metric), for tasks whose cluster is recorded."""
    grouped: dict[str, list[float]] = {}
    for r in task_results:
        info = registry.info(r.task)
        if info is not None and info.cluster and r.metrics:
            grouped.setdefault(info.cluster, []).append(next(iter(r.metrics.values())))
    return {c: (len(v), float(np.mean(v))) for c, v in sorted(grouped.items())}


def format_markdown(results: EvalResults) -> str:
    """The report: the benchmark overview and normalised average, each benchmark's table, other tasks."""
    parts = []
    if results.benchmarks:
        parts.append("## Held-out benchmarks\n\n" + overview_table(list(results.benchmarks.values()), results.normalized_average))
        parts += [benchmark_table(s) for s in results.benchmarks.values()]
    others = [r for r in results.tasks.values() if r.benchmark is None]
    if others:
        lines = ["## Tasks", "", "| task | split | metric | value | examples |", "|---|---|---|---:|---:|"]
        for r in others:
            for name, value in r.metrics.items():
                lines.append(f"| {r.task} | {r.split} | {name} | {value:.2f} | {r.num_examples} |")
            if not r.metrics:  # a task without metric functions: predictions only
                lines.append(f"| {r.task} | {r.split} | (none) | | {r.num_examples} |")
        if results.other_tasks_average() is not None:
            lines.append(f"| **mean (first metric)** | | | {results.other_tasks_average():.2f} | |")
        parts.append("\n".join(lines))
        by_cluster = cluster_averages(others)
        if by_cluster:
            rows = [f"| {c} | {n} | {v:.2f} |" for c, (n, v) in by_cluster.items()]
            parts.append("\n".join(["## By task cluster", "", "| cluster | tasks | mean (first metric) |", "|---|---:|---:|"] + rows))
    return "\n\n".join(parts) + "\n"


def write_results(results: EvalResults, directory: str | os.PathLike,
                  run: Mapping[str, Any] | None = None) -> dict[str, epath.Path]:
    """Writes results.json, results.md and predictions/*.jsonl (held-out ones in `flan-jax score` format)
    to a local or cloud (gs://, as a TPU run's MODEL_DIR) directory.

    Args:
      results: what to write.
      directory: where (created).
      run: what was measured (step, checkpoint, suite, decode options, time, gin config, ...):
        results.json's "run" entry, and a line atop results.md (the gin config only in the JSON).

    Returns:
      What was written: {"json", "markdown", "predictions"} -> path.
    """
    directory = epath.Path(directory)
    predictions_dir = directory / "predictions"
    predictions_dir.mkdir(parents=True, exist_ok=True)
    document = {"run": dict(run), **results.to_json()} if run else results.to_json()
    (directory / "results.json").write_text(json.dumps(document, indent=2, ensure_ascii=False, default=_json_default),
                                            encoding="utf-8")
    header = ""
    if run:
        header = "; ".join(f"{k}: {v}" for k, v in run.items() if k != "gin_config" and v is not None) + "\n\n"
    (directory / "results.md").write_text(header + format_markdown(results), encoding="utf-8")
    files: dict[str, list[dict[str, Any]]] = {}
    for r in results.tasks.values():
        files.setdefault(r.benchmark or r.task, []).extend(r.predictions)
    for name, records in files.items():
        lines = [json.dumps(record, ensure_ascii=False, default=_json_default) + "\n" for record in records]
        (predictions_dir / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")
    return {"json": directory / "results.json", "markdown": directory / "results.md", "predictions": predictions_dir}


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
