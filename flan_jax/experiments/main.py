"""`flan-jax experiment task-scaling|cot --gin_file=gin/experiments/...`: the FLAN effect, measured.

    flan-jax experiment task-scaling --gin_file=gin/experiments/task_scaling_quick.gin
    flan-jax experiment cot --gin_file=gin/experiments/cot_quick.gin

The gin file binds `experiments.ExperimentConfig` (the design from `flan_jax_tasks.experiments`,
the experiment directory, the pretraining config) and the fine-tuning run every cell shares (a
model file, runs/finetune.gin's macros, `evaluate`). The command: (1) takes the pretrained
checkpoint (`flan-jax pretrain`'s cache, trained now on first use), (2) checks that no training
task shares an n-gram with a held-out task (`eval/contamination.py`), (3) trains each unfinished
cell into EXPERIMENT_DIR/<cell> (an ordinary MODEL_DIR: `flan-jax train` with MODEL_DIR,
MIXTURE_OR_TASK_NAME, INITIAL_CHECKPOINT_PATH and SEED set) and scores it with `evaluate`,
(4) writes results.csv, the figure and summary.md. Rerunning skips finished cells.
"""
import argparse
import contextlib
import json
import os
import pathlib
import shlex
import sys
import time
from typing import Sequence

from flan_jax import console, gin_flags

PROG = "flan-jax experiment"
EXPERIMENTS = {"task-scaling": "task_scaling", "cot": "cot", "demo": "demo"}
LOG_FILE = "log.txt"
TRAIN_LOG = "train_log.txt"  # what `flan-jax train` prints, per cell


def parse_flags(argv: Sequence[str]) -> tuple[str, argparse.Namespace]:
    if not argv or argv[0] not in EXPERIMENTS:
        raise SystemExit(f"usage: {PROG} {{{'|'.join(EXPERIMENTS)}}} --gin_file=gin/experiments/... [flan-jax train "
                         "flags]")
    return EXPERIMENTS[argv[0]], gin_flags.parse(gin_flags.make_parser(PROG, __doc__.split("\n\n")[0]), argv[1:])


def read_config(flags: argparse.Namespace):
    """Parses the experiment's gin files (clearing any earlier config) and builds ExperimentConfig."""
    import gin

    gin.clear_config()
    with console.native_stderr_to_log():  # the task modules the gin files import start TensorFlow
        gin_flags.parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths)
    from flan_jax import gin_configurables

    try:
        return gin_configurables.ExperimentConfig()
    except TypeError as error:  # an unbound required argument
        raise ValueError(f"experiments.ExperimentConfig is not fully bound by {flags.gin_file} ({error}); start from "
                         "gin/experiments/task_scaling_quick.gin or cot_quick.gin.") from error


def train_cell(flags: argparse.Namespace, initial_checkpoint: pathlib.Path, tuning_steps: int, cell,
               cell_dir: pathlib.Path) -> str:
    """`flan-jax train` on the cell's mixture from the pretrained checkpoint; the checkpoint to evaluate.

    The gin files' TRAIN_STEPS are the steps of tuning; as in t5x, the trainer's TRAIN_STEPS count
    the checkpoint's steps too, so the cell trains to the pretrained step + TRAIN_STEPS.
    """
    from flan_jax.train import main as train_main

    if cell.mixture is None:
        return str(initial_checkpoint)
    import gin

    bindings = [f"MODEL_DIR = {str(cell_dir)!r}", f"MIXTURE_OR_TASK_NAME = {cell.mixture!r}",
                f"INITIAL_CHECKPOINT_PATH = {str(initial_checkpoint)!r}", f"SEED = {cell.seed}",
                f"TRAIN_STEPS = {int(initial_checkpoint.name) + tuning_steps}", "EVAL_AFTER_TRAINING = False"]
    gin.clear_config()
    cell_flags = argparse.Namespace(**vars(flags))
    for binding in bindings:
        gin_flags.add_binding(cell_flags, binding)
    with open(cell_dir / TRAIN_LOG, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        train_main.run(cell_flags)
    losses = [line for line in (cell_dir / TRAIN_LOG).read_text().splitlines() if line.startswith("loss per target")]
    if losses:
        print(f"  {losses[-1]}", flush=True)
    print(f"  evaluating {cell.name} on the held-out tasks ...", flush=True)
    return str(cell_dir)


def evaluate_cell(flags: argparse.Namespace, checkpoint: str, evaluation, output_dir: pathlib.Path) -> dict[str, float]:
    """gin's `evaluate` on the evaluation's tasks, ranking options where the evaluation says so;
    task -> exact match (percent).

    Raises:
      ValueError: a rank-classification evaluation's task was decoded instead (its examples carry
        no options), which would report decoding under the ranking's name.
    """
    from flan_jax import gin_configurables

    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / "log.txt", "a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        results = gin_configurables.evaluate(
            checkpoint_path=checkpoint, suite=list(evaluation.tasks), output_dir=str(output_dir), show_progress=False,
            rank_classification=evaluation.rank_classification)
    unranked = [name for name, result in results.tasks.items() if evaluation.rank_classification
                and not result.rank_classification]
    if unranked:
        raise ValueError(f"Evaluation {evaluation.metric!r} ranks options, but the examples of {unranked} carry no "
                         "'options' (a family without an options_field?); leave those tasks out of it.")
    return {name: result.metrics["exact_match"] for name, result in results.tasks.items()}


def run(experiment: str, flags: argparse.Namespace, argv: Sequence[str]) -> pathlib.Path:
    """Runs (or resumes) the grid; returns the experiment directory."""
    from flan_jax.experiments import figures, grid
    from flan_jax.train import pretrain

    start = time.time()
    config = read_config(flags)
    if config.design.experiment != experiment:
        raise ValueError(f"{PROG} {argv[0]}: the gin files' design is a {config.design.experiment!r} experiment; "
                         f"use gin/experiments/{experiment}_*.gin.")
    output_dir = pathlib.Path(config.output_dir).absolute()
    output_dir.mkdir(parents=True, exist_ok=True)
    console.log_to(output_dir, LOG_FILE)
    print(f"$ {command_line(argv)}", flush=True)
    print(f"{len(config.design.cells)} cells into {output_dir} (library logs: {output_dir / LOG_FILE})", flush=True)
    print("stage 1: the pretrained checkpoint (cached after the first run)", flush=True)
    initial = pretrain.pretrained_checkpoint(config.pretrain_gin_files, config.pretrain_bindings,
                                             show_progress=not flags.no_progress)
    print(f"pretrained checkpoint: {initial}\nstage 2: instruction tuning and held-out evaluation, cell by cell",
          flush=True)
    config = read_config(flags)  # pretraining parsed its own gin config
    tuning_steps = gin_flags.macro("TRAIN_STEPS")
    check = grid.check_contamination(config.design, config.contamination_ngram, config.contamination_examples,
                                     config.contamination_stops)
    (output_dir / "contamination.json").write_text(json.dumps(check, indent=1))
    print(f"contamination ({config.contamination_ngram}-grams): {check['contaminated_examples']} of "
          f"{check['eval_examples']} held-out examples share one with a training task", flush=True)

    def on_cell(position: int, cell, pending: tuple[str, ...] | None) -> None:
        if pending is None:
            what = f"{len(cell.families)} families, {len(cell.train_tasks)} tasks" if cell.mixture else \
                "pretrained, no tuning"
        elif pending:
            what = f"scored before, evaluating {', '.join(pending)} from its checkpoint (no training)"
        else:
            what = "finished, skipped"
        print(f"[{position + 1}/{len(config.design.cells)}] {cell.name}: {what}", flush=True)

    rows = grid.run_grid(
        config.design, output_dir,
        train=lambda cell, cell_dir: train_cell(flags, initial, tuning_steps, cell, cell_dir),
        evaluate=lambda checkpoint, evaluation, directory: evaluate_cell(flags, checkpoint, evaluation, directory),
        train_steps=tuning_steps, on_cell=on_cell)
    plot_path = output_dir / f"{experiment}.png"
    if experiment == "demo":
        per_task = demo_scores(config.design, output_dir)
        plot = figures.plot_side_by_side(per_task, plot_path, "Held-out clusters, zero-shot: before and after tuning")
        result_table = figures.side_by_side(per_task)
    else:
        plot = (figures.plot_task_scaling if experiment == "task_scaling" else figures.plot_cot)(rows, plot_path)
        result_table = figures.table(rows)
    command = command_line(argv)
    header = "\n".join([
        f"# {experiment.replace('_', ' ')}",
        "",
        f"Command: `{command}`",
        f"Held-out families (no cell trains on them): {', '.join(config.design.held_out_families)}.",
        "Metrics (each the mean over its held-out tasks, percent): " + "; ".join(
            f"`{e.metric}`: {e.description or 'exact match'} ({len(e.tasks)} tasks)" for e in config.design.evaluations)
        + ".",
        f"Pretrained checkpoint: `{initial}`; {tuning_steps} steps of tuning per trained cell, batch "
        f"{gin_flags.macro('BATCH_SIZE')}, learning rate {gin_flags.macro('LEARNING_RATE')}.",
        f"Contamination ({config.contamination_ngram}-grams): {check['contaminated_examples']} of "
        f"{check['eval_examples']} held-out examples share an n-gram with a training task"
        + ("" if not check["contaminated_pairs"] else " (reported, not stopping; the pairs: " + ", ".join(
            f"{p['train_task']} -> {p['eval_task']} {p['contaminated_examples']}" for p in check["contaminated_pairs"])
           + ")") + ".",
        f"This invocation: {time.time() - start:.0f} s, load average {os.getloadavg()[0]:.1f} at its end, "
        f"{os.cpu_count()} CPUs (the seconds column is each cell's own time).",
    ])
    summary = output_dir / "summary.md"
    summary.write_text(f"{header}\n\n{result_table}\n", encoding="utf-8")
    print(result_table)
    print(f"plot: {plot}\nresults: {output_dir / grid.RESULTS_FILE}, {summary}")
    return output_dir


def command_line(argv: Sequence[str]) -> str:
    return f"{PROG} {' '.join(shlex.quote(a) for a in argv)}"


def demo_scores(design, output_dir: pathlib.Path) -> dict[str, dict[str, float]]:
    """"pretrained" / "tuned" -> held-out task -> exact match, from the two cells' scores.json."""
    from flan_jax.experiments import grid

    out = {}
    for cell in design.cells:
        scores = grid.read_record(output_dir / cell.name)["scores"]
        label = f"tuned on {len(cell.families)} families" if cell.mixture else "pretrained (untuned)"
        out[label] = {task: score for e in design.evaluations for task, score in scores[e.metric].items()}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flan-jax experiment`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    experiment, flags = parse_flags(argv)
    return gin_flags.run_command(PROG, lambda: run(experiment, flags, argv), verbose=flags.verbose)
