"""A grid of instruction-tuning runs: cells, resume, results.csv.

An experiment (task scaling, chain of thought) is a `Design`: cells, each an ordinary MODEL_DIR
that trains on one mixture from the same pretrained checkpoint (or, for the baseline, trains
nothing), and the evaluations every cell gets. `run_grid` walks the cells in order; a cell whose
`scores.json` has every evaluation of the design is finished and skipped, so an interrupted
experiment resumes where it stopped (an unfinished cell resumes from its own checkpoints, as any
MODEL_DIR does). A cell scored before the design gained an evaluation gets only the missing ones,
from the checkpoint it was scored on, without training again. What a design contains is the task
collection's business (`flan_jax_tasks.experiments`); how a cell is trained and evaluated is the
caller's (the command line passes the trainer and `jobs.evaluate`).
"""
import csv
import itertools
import dataclasses
import json
import logging
import pathlib
import time
from typing import Callable, Sequence

SCORES_FILE = "scores.json"
RESULTS_FILE = "results.csv"
CSV_FIELDS = ("experiment", "cell", "x", "seed", "num_families", "families", "metric", "score", "num_tasks",
              "train_steps", "seconds")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of the grid.

    Attributes:
      name: its directory under the experiment directory (e.g. "k4_seed1").
      x: what the experiment varies: the number of training families (task scaling; 0 = the
        pretrained model itself) or a condition name ("no_cot", "cot_only", "both").
      seed: the seed of its family draw and of its training run.
      families: the training families.
      mixture: the registered training mixture; None for the baseline, which trains nothing.
      train_tasks: the mixture's tasks (for the contamination check).
    """

    name: str
    x: int | str
    seed: int
    families: tuple[str, ...]
    mixture: str | None
    train_tasks: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One score of every cell: the mean over `tasks` of their exact match.

    Attributes:
      metric: its name in results.csv ("exact_match", "exact_match_options", "rank_classification",
        "direct", "step_by_step").
      tasks: the held-out tasks it averages.
      rank_classification: the prediction is the option the model scores highest (every example of
        `tasks` must carry "options"), not the decoded text; exact match against the target as before.
      description: how it is measured, for summary.md.
    """

    metric: str
    tasks: tuple[str, ...]
    rank_classification: bool = False
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Design:
    """An experiment: its cells and the evaluations each cell gets.

    Attributes:
      experiment: "task_scaling", "cot" or "demo" (names the figure, `{experiment}.png`).
      cells: in running order, the baseline first.
      evaluations: the held-out scores of each cell.
      held_out_families: the families no cell trains on (for the summary).
    """

    experiment: str
    cells: tuple[Cell, ...]
    evaluations: tuple[Evaluation, ...]
    held_out_families: tuple[str, ...] = ()

    @property
    def held_out_tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for e in self.evaluations for t in e.tasks))


# (cell, its MODEL_DIR) -> the checkpoint to evaluate (trains when needed).
TrainFn = Callable[[Cell, pathlib.Path], str]
# Called before each cell with (position, cell, pending): pending is None for a cell never scored
# (trained, then every evaluation), else the metrics still to score (empty: finished, skipped).
OnCellFn = Callable[[int, Cell, tuple[str, ...] | None], None]
# (checkpoint, evaluation, output directory) -> task name -> exact match (percent).
EvaluateFn = Callable[[str, Evaluation, pathlib.Path], dict[str, float]]


def cell_rows(design: Design, cell: Cell, scores: dict[str, dict[str, float]], train_steps: int,
              seconds: float) -> list[dict]:
    """results.csv rows of a cell: one per evaluation, the score the mean over its tasks."""
    rows = []
    for evaluation in design.evaluations:
        per_task = scores[evaluation.metric]
        rows.append({
            "experiment": design.experiment, "cell": cell.name, "x": cell.x, "seed": cell.seed,
            "num_families": len(cell.families), "families": "+".join(cell.families), "metric": evaluation.metric,
            "score": round(sum(per_task.values()) / max(len(per_task), 1), 4), "num_tasks": len(per_task),
            "train_steps": train_steps if cell.mixture else 0, "seconds": round(seconds, 1),
        })
    return rows


def read_record(cell_dir: pathlib.Path) -> dict | None:
    """The cell's scores.json ({"cell", "checkpoint", "scores", "rows"}), None before it was first scored."""
    path = cell_dir / SCORES_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def pending_metrics(design: Design, record: dict | None) -> tuple[str, ...] | None:
    """The design's metrics a cell's record lacks (empty: finished); None without a record."""
    if record is None:
        return None
    return tuple(e.metric for e in design.evaluations if e.metric not in record["scores"])


def _write_record(cell_dir: pathlib.Path, record: dict) -> None:
    # Written last and atomically: a cell interrupted before this line is run (or evaluated) again.
    tmp = cell_dir / (SCORES_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.rename(cell_dir / SCORES_FILE)


def run_cell(design: Design, cell: Cell, cell_dir: pathlib.Path, train: TrainFn, evaluate: EvaluateFn,
             train_steps: int) -> list[dict]:
    """Trains and evaluates one cell, then writes its scores.json (the mark of a scored cell)."""
    start = time.perf_counter()
    checkpoint = train(cell, cell_dir)
    scores = {e.metric: evaluate(checkpoint, e, cell_dir / "eval" / e.metric) for e in design.evaluations}
    rows = cell_rows(design, cell, scores, train_steps, time.perf_counter() - start)
    _write_record(cell_dir, {"cell": dataclasses.asdict(cell), "checkpoint": str(checkpoint), "scores": scores,
                             "rows": rows})
    return rows


def complete_cell(design: Design, cell: Cell, cell_dir: pathlib.Path, record: dict, evaluate: EvaluateFn) -> list[dict]:
    """Scores a cell on the evaluations its scores.json lacks, without training: a trained cell from
    its own MODEL_DIR (its last checkpoint, what it was scored on), the baseline from the
    checkpoint its record names. Its earlier scores, train steps and seconds are kept."""
    start = time.perf_counter()
    checkpoint = str(cell_dir) if cell.mixture else record["checkpoint"]
    scores = dict(record["scores"])
    for evaluation in design.evaluations:
        if evaluation.metric not in scores:
            scores[evaluation.metric] = evaluate(checkpoint, evaluation, cell_dir / "eval" / evaluation.metric)
    before = record["rows"][0] if record["rows"] else {"train_steps": 0, "seconds": 0.0}
    rows = cell_rows(design, cell, scores, int(before["train_steps"]),
                     float(before["seconds"]) + time.perf_counter() - start)
    _write_record(cell_dir, {**record, "scores": scores, "rows": rows})
    return rows


def run_grid(design: Design, output_dir: str | pathlib.Path, train: TrainFn, evaluate: EvaluateFn,
             train_steps: int, on_cell: OnCellFn | None = None) -> list[dict]:
    """Runs every unfinished cell, then writes results.csv from all cells' scores; returns its rows.

    A cell with a scores.json lacking some of the design's evaluations is only evaluated on those
    (`complete_cell`); one without is trained and evaluated (`run_cell`).

    Args:
      design: the cells and evaluations.
      output_dir: the experiment directory; cell `c` is its subdirectory `c.name`.
      train: trains a cell into its directory and returns the checkpoint to evaluate.
      evaluate: scores a checkpoint on one evaluation's tasks.
      train_steps: the steps every trained cell runs (recorded in results.csv).
      on_cell: called with (position, cell, pending) before each cell (progress reports; see OnCellFn).
    """
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    metrics = {e.metric for e in design.evaluations}
    rows = []
    for position, cell in enumerate(design.cells):
        cell_dir = output_dir / cell.name
        record = read_record(cell_dir)
        pending = pending_metrics(design, record)
        if on_cell:
            on_cell(position, cell, pending)
        if pending is None:
            cell_dir.mkdir(parents=True, exist_ok=True)
            rows += run_cell(design, cell, cell_dir, train, evaluate, train_steps)
        elif pending:
            logging.info("Cell %s lacks %s: evaluating its checkpoint, no training.", cell.name, ", ".join(pending))
            rows += complete_cell(design, cell, cell_dir, record, evaluate)
        else:
            logging.info("Cell %s is finished (%s): skipped.", cell.name, cell_dir / SCORES_FILE)
            rows += [row for row in record["rows"] if row["metric"] in metrics]
    write_csv(rows, output_dir / RESULTS_FILE)
    return rows


def write_csv(rows: Sequence[dict], path: pathlib.Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | pathlib.Path) -> list[dict]:
    """results.csv rows with score as float and seed as int."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{**row, "score": float(row["score"]), "seed": int(row["seed"])} for row in csv.DictReader(f)]


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """What `flan-jax experiment` runs (bound in gin/experiments/*.gin as EXPERIMENT).

    Attributes:
      design: the cells and evaluations (`@experiments.task_scaling()` / `@experiments.cot()`).
      output_dir: EXPERIMENT_DIR: cells, results.csv, the figure, summary.md.
      pretrain_gin_files, pretrain_bindings: the pretraining run after gin/runs/pretrain.gin
        (cached by its config: `flan_jax.train.pretrain.pretrained_checkpoint`).
      contamination_ngram: words per n-gram of the train / held-out overlap check (the synthetic
        examples are short: 13-grams would leave most of them unchecked).
      contamination_examples: examples read per training task for that check.
      contamination_stops: a held-out example sharing an n-gram with a training task stops the
        experiment (False: the pairs are reported in contamination.json and summary.md instead).
    """

    design: Design
    output_dir: str
    pretrain_gin_files: tuple[str, ...] = ()
    pretrain_bindings: tuple[str, ...] = ()
    contamination_ngram: int = 8
    contamination_examples: int = 1000
    contamination_stops: bool = True


def check_contamination(design: Design, n: int, train_examples: int, stop: bool = True) -> dict:
    """Whether any training task of any cell shares an n-gram with a held-out example.

    Returns:
      {"ngram", "train_tasks", "eval_examples", "contaminated_examples", "contaminated_pairs",
       "prompt_matches"}: the last two lists of pairs.

    Raises:
      ValueError: with `stop`, held-out examples share an n-gram with a training task (names the pairs).
    """
    from flan_jax.data import epochs, registry, sources
    from flan_jax.eval import contamination, evaluator

    def texts(name: str, split: str, limit: int | None) -> list[tuple[str, str]]:
        task = registry.get_mixture_or_task(name)
        if epochs.reads_in_python(task):  # the synthetic tasks: rendered in Python, no tf.data pipeline
            return [(ex["inputs"], ex["targets"]) for ex in itertools.islice(sources.iter_examples(task.source, split), limit)]
        return [(ex["inputs_pretokenized"].decode(), ex["targets_pretokenized"].decode())
                for ex in evaluator.load_examples(task, split, limit)]

    train_tasks = sorted({t for cell in design.cells for t in cell.train_tasks})
    eval_tasks = {t: texts(t, "validation", None) for t in design.held_out_tasks}
    report = contamination.contamination(((t, texts(t, "train", train_examples)) for t in train_tasks), eval_tasks, n)
    hits = [dataclasses.asdict(p) for p in report.pairs if p.contaminated_examples]
    if hits and stop:
        shown = ", ".join(f"{p['train_task']} -> {p['eval_task']} ({p['contaminated_examples']})" for p in hits[:5])
        raise ValueError(f"Held-out examples share {n}-grams with training tasks: {shown}. Hold out the cluster "
                         "that contains the training family, or change its generator.")
    return {"ngram": n, "train_tasks": len(train_tasks), "eval_examples": sum(map(len, eval_tasks.values())),
            "contaminated_examples": sum(report.any_train_task.values()), "contaminated_pairs": hits,
            "prompt_matches": [dataclasses.asdict(p) for p in report.pairs if p.prompt_contaminated]}
