"""`flan-jax contamination`: which evaluation examples share an n-gram with a training task.

    flan-jax contamination --train flan2022 --eval flan_held_out
    flan-jax contamination --module flan_jax_tasks.niv2 --module flan_jax_tasks.held_out \\
      --train 'niv2_*' --eval mmlu --ngram 13 --json

`--train` and `--eval` (repeatable) name tasks, mixtures (expanded into their tasks) or
shell-style patterns over task names. Training tasks are read on their "train" split, evaluation
tasks on the split the evaluator reads (validation, else test), each task once, the way
`flan-jax tasks show` reads them. `--module` (repeatable; default flan_jax_tasks.all) imports
the modules that register the tasks, as t5x's MIXTURE_OR_TASK_MODULE.

Text output: the pairs with any contamination, then per evaluation task the examples that any
training task contaminates, and the time taken. `--json`: a list with one object per
(training task, evaluation task) pair: train_task, eval_task, eval_examples,
contaminated_examples, prompt_contaminated (see `flan_jax.eval.contamination`).
"""
import argparse
import dataclasses
import fnmatch
import json
import sys
import time
from typing import Iterator, Sequence

import seqio

from flan_jax.data import task_commands
from flan_jax.eval import contamination, evaluator

PROG = "flan-jax contamination"


def resolve(names: Sequence[str]) -> list[seqio.Task]:
    """Task names, mixture names and patterns -> the tasks, in order, without duplicates.

    Raises:
      ValueError: a pattern matches no task, or a name is neither a task nor a mixture.
    """
    expanded = []
    for name in names:
        if any(c in name for c in "*?["):
            matched = sorted(fnmatch.filter(seqio.TaskRegistry.names(), name))
            if not matched:
                raise ValueError(f"No registered task matches {name!r}; is the module that registers them imported "
                                 "(--module)?")
            expanded += matched
        else:
            expanded.append(name)
    return evaluator.expand_tasks(expanded)


def texts(task: seqio.Task, split: str) -> Iterator[tuple[str, ...]]:
    """Each example's inputs and targets text (those it has), as `flan-jax tasks show` prints them."""
    for example in task_commands.examples(task.name, None, split):
        yield tuple(example[key] for key in ("inputs", "targets") if key in example)


def run(train: Sequence[str], eval_: Sequence[str], n: int) -> tuple[contamination.Report, dict[str, float]]:
    """The report, and seconds spent reading the evaluation side and streaming the training side."""
    if n < 1:
        raise ValueError(f"--ngram must be at least 1, got {n}.")
    train_tasks, eval_tasks = resolve(train), resolve(eval_)
    start = time.perf_counter()
    eval_texts = {task.name: list(texts(task, evaluator.evaluation_split(task))) for task in eval_tasks}
    index_seconds = time.perf_counter() - start
    for task in train_tasks:
        if "train" not in task.splits:
            raise ValueError(f"Training task {task.name!r} has no 'train' split (splits: {list(task.splits)}).")
    report = contamination.contamination(((task.name, texts(task, "train")) for task in train_tasks), eval_texts, n)
    return report, {"read_eval": index_seconds, "total": time.perf_counter() - start}


def print_text(report: contamination.Report, seconds: dict[str, float], n: int, out) -> None:
    hits = sorted((p for p in report.pairs if p.contaminated_examples or p.prompt_contaminated),
                  key=lambda p: (-p.contaminated_examples, p.train_task, p.eval_task))
    train_tasks = len({p.train_task for p in report.pairs})
    print(f"{n}-gram overlap: {train_tasks} training tasks x {len(report.any_train_task)} evaluation tasks, "
          f"{len(hits)} pairs with overlap", file=out)
    if hits:
        print(f"\n{'contaminated':>12} {'of':>6}  prompt  train task -> eval task", file=out)
    for p in hits:
        print(f"{p.contaminated_examples:>12} {p.eval_examples:>6}  {'yes' if p.prompt_contaminated else '-':>6}  "
              f"{p.train_task} -> {p.eval_task}", file=out)
    sizes = {p.eval_task: p.eval_examples for p in report.pairs}
    dirty = {name: count for name, count in report.any_train_task.items() if count}
    print(f"\nevaluation examples contaminated by any training task: {sum(dirty.values())} of {sum(sizes.values())}",
          file=out)
    for name, count in sorted(dirty.items()):
        print(f"  {name}: {count} of {sizes[name]}", file=out)
    print(f"time: {seconds['total']:.1f} s ({seconds['read_eval']:.1f} s reading the evaluation tasks)", file=out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="append", required=True, help="training task, mixture or pattern (repeatable)")
    parser.add_argument("--eval", action="append", required=True, help="evaluation task, mixture or pattern (repeatable)")
    parser.add_argument("--module", action="append", default=None,
                        help=f"module that registers tasks (repeatable); default {', '.join(task_commands.DEFAULT_MODULES)}")
    parser.add_argument("--ngram", type=int, default=contamination.DEFAULT_NGRAM, help="words per n-gram")
    parser.add_argument("--json", action="store_true", help="one JSON list of every pair")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    task_commands.import_modules(args.module or task_commands.DEFAULT_MODULES, PROG)
    try:
        report, seconds = run(args.train, args.eval, args.ngram)
    except ValueError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    if args.json:
        json.dump([dataclasses.asdict(p) for p in report.pairs], sys.stdout, indent=1)
        print()
    else:
        print_text(report, seconds, args.ngram, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
