"""The experiments' figures and summary from results.csv rows (matplotlib, pure functions of the rows).

task_scaling.png: one panel per metric (exact match without and with options, rank classification:
their scales differ, ranking's chance being 50% on two options), held-out score against the number
of training families on a log axis, the mean over seeds with its spread (one standard deviation as
error bars, each seed as a dot) and the pretrained model (k = 0) as a dashed line. cot.png: each condition's mean and spread, direct and
step by step side by side, the pretrained model as dashed lines. `table` is the same for summary.md;
the demo's figure and table put the untuned and the tuned model side by side per held-out task.
"""
import pathlib
import statistics
from typing import Sequence

BASELINE = "pretrained (k = 0)"


def _by(rows: Sequence[dict], *keys: str) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for row in rows:
        out.setdefault(tuple(row[k] for k in keys), []).append(row)
    return out


def is_baseline(row: dict) -> bool:
    return int(row["num_families"]) == 0


def spread(scores: Sequence[float]) -> tuple[float, float]:
    """(mean, standard deviation); the deviation is 0 for one score."""
    return statistics.fmean(scores), statistics.stdev(scores) if len(scores) > 1 else 0.0


def metrics_of(rows: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(row["metric"] for row in rows))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a CPU box or in CI
    from matplotlib import pyplot

    return pyplot


def plot_task_scaling(rows: Sequence[dict], path: str | pathlib.Path, title: str = "") -> pathlib.Path:
    """Score against the number of training families (log axis), one panel per metric."""
    pyplot = _pyplot()
    metrics = metrics_of(rows)
    figure, panels = pyplot.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4), squeeze=False)
    colors = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    trained = [r for r in rows if not is_baseline(r)]
    ks = sorted({int(r["num_families"]) for r in trained})
    for axes, color, metric in zip(panels[0], colors, metrics):
        groups = sorted(_by([r for r in trained if r["metric"] == metric], "num_families").items(),
                        key=lambda item: int(item[0][0]))
        stats = [spread([r["score"] for r in group]) for _, group in groups]
        axes.errorbar([int(k) for (k,), _ in groups], [m for m, _ in stats], yerr=[s for _, s in stats], color=color,
                      marker="o", capsize=4, label="tuned (mean ± sd over seeds)")
        for (k,), group in groups:
            axes.scatter([int(k)] * len(group), [r["score"] for r in group], color=color, alpha=0.35, s=12)
        baseline = [r["score"] for r in rows if is_baseline(r) and r["metric"] == metric]
        if baseline:
            axes.axhline(statistics.fmean(baseline), color="gray", linestyle="--", label=BASELINE)
        axes.set_xscale("log")
        axes.set_xticks(ks, [str(k) for k in ks])
        axes.minorticks_off()
        axes.set_xlabel("training task families (log scale)")
        axes.set_title(metric, fontsize=10)
        axes.legend(fontsize=7)
    panels[0][0].set_ylabel("held-out score (%)")
    figure.suptitle(title or "Held-out clusters, zero-shot")
    return _save(pyplot, figure, path)


def plot_cot(rows: Sequence[dict], path: str | pathlib.Path, title: str = "") -> pathlib.Path:
    """Each condition's mean and spread per metric (grouped bars), the pretrained model as lines."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(6.5, 4))
    colors = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    conditions = list(dict.fromkeys(r["x"] for r in rows if not is_baseline(r)))
    metrics = metrics_of(rows)
    width = 0.8 / max(len(metrics), 1)
    for m, (color, metric) in enumerate(zip(colors, metrics)):
        groups = _by([r for r in rows if r["metric"] == metric and not is_baseline(r)], "x")
        positions = [c + (m - (len(metrics) - 1) / 2) * width for c in range(len(conditions))]
        stats = [spread([r["score"] for r in groups[(c,)]]) for c in conditions]
        axes.bar(positions, [s[0] for s in stats], width, yerr=[s[1] for s in stats], capsize=4, color=color,
                 label=f"{metric} (mean ± sd)")
        baseline = [r["score"] for r in rows if is_baseline(r) and r["metric"] == metric]
        if baseline:
            axes.axhline(statistics.fmean(baseline), color=color, linestyle="--", label=f"{metric}, {BASELINE}")
    axes.set_xticks(range(len(conditions)), conditions)
    axes.set_ylabel("held-out reasoning score (%)")
    axes.set_title(title or "Chain of thought in the tuning mixture")
    axes.legend(fontsize=7)
    return _save(pyplot, figure, path)


def _save(pyplot, figure, path) -> pathlib.Path:
    path = pathlib.Path(path)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def table(rows: Sequence[dict]) -> str:
    """Markdown: one line per x (k or condition), mean ± sd (seeds) per metric."""
    metrics = metrics_of(rows)
    groups = _by(rows, "x", "num_families")
    lines = ["| " + " | ".join(["x", "families", "seeds", *metrics]) + " |", "|" + "---|" * (3 + len(metrics))]
    for (x, num_families), group in groups.items():
        by_metric = _by(group, "metric")
        cells = []
        for metric in metrics:
            mean, sd = spread([r["score"] for r in by_metric.get((metric,), [])] or [float("nan")])
            cells.append(f"{mean:.1f} ± {sd:.1f}")
        seeds = len({r["seed"] for r in group})
        lines.append("| " + " | ".join([str(x), str(num_families), str(seeds), *cells]) + " |")
    return "\n".join(lines)


def side_by_side(per_task: dict[str, dict[str, float]]) -> str:
    """Markdown: one line per task, one column per model (e.g. "pretrained", "tuned"), then the mean."""
    models = list(per_task)
    tasks = list(dict.fromkeys(t for scores in per_task.values() for t in scores))
    lines = ["| " + " | ".join(["held-out task", *models]) + " |", "|" + "---|" * (1 + len(models))]
    for task in tasks:
        lines.append("| " + " | ".join([task, *(f"{per_task[m].get(task, float('nan')):.1f}" for m in models)]) + " |")
    means = [statistics.fmean(per_task[m].values()) if per_task[m] else float("nan") for m in models]
    lines.append("| " + " | ".join(["**mean**", *(f"**{m:.1f}**" for m in means)]) + " |")
    return "\n".join(lines)


def plot_side_by_side(per_task: dict[str, dict[str, float]], path: str | pathlib.Path, title: str = "") -> pathlib.Path:
    """Horizontal bars per held-out task, one colour per model."""
    tasks = list(dict.fromkeys(t for scores in per_task.values() for t in scores))
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(7, 4))
    figure.set_figheight(max(3.0, 0.3 * len(tasks) + 1.2))
    height = 0.8 / max(len(per_task), 1)
    for m, (model, scores) in enumerate(per_task.items()):
        axes.barh([t + m * height for t in range(len(tasks))], [scores.get(t, 0.0) for t in tasks], height, label=model)
    axes.set_yticks([t + height * (len(per_task) - 1) / 2 for t in range(len(tasks))],
                    [t.removeprefix("synthetic_") for t in tasks], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("exact match (%)")
    axes.set_title(title or "Held-out tasks, zero-shot")
    axes.legend(fontsize=7)
    return _save(pyplot, figure, path)
