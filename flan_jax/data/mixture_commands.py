"""`flan-jax mixture show|sample NAME`: what a mixture mixes, and whether sampling honours it.

    flan-jax mixture show flan2022 [--json]     every leaf task: collection, rate, examples, cap
    flan-jax mixture sample flan2022 -n 10000   empirical task frequencies vs rates

`sample` draws tasks with the training pipeline's own draws (`sampling.TaskDraws`), so the
check covers the code that feeds the trainer; drawing loads no task's data.
"""
import argparse
import dataclasses
import importlib
import json
import sys
from typing import Sequence

import numpy as np
import seqio
from scipy import stats

from flan_jax.data import mixing, registry, sampling

DEFAULT_MODULES = ("flan_jax_tasks.mixtures",)


@dataclasses.dataclass(frozen=True)
class LeafRow:
    """One leaf task of a mixture, as `show` prints it."""

    task: str
    collection: str
    rate: float
    examples: int | None
    cap: int | None


def leaf_rules(node: seqio.Task | seqio.Mixture) -> dict[str, mixing.MixtureRate]:
    """Leaf task -> the rate entry of its nearest parent (to report caps)."""
    if isinstance(node, seqio.Task):
        return {node.name: 1.0}
    rules: dict[str, mixing.MixtureRate] = {}
    leaves = {t.name for t in node.tasks}
    for name, rate in node.rate_per_task_name.items():
        if name in leaves and name not in seqio.MixtureRegistry.names():
            rules[name] = rate
        else:
            rules.update(leaf_rules(registry.get_mixture_or_task(name)))
    return rules


def leaf_rows(name: str, split: str = "train") -> list[LeafRow]:
    """Every leaf task of `name` with its effective rate, example count and cap."""
    root = registry.get_mixture_or_task(name)
    rates = mixing.leaf_rates(root)
    rules = leaf_rules(root)
    tasks = {t.name: t for t in registry.tasks_of(root)}
    rows = []
    for task, rate in rates.items():
        rule = rules.get(task)
        rows.append(
            LeafRow(
                task=task,
                collection=registry.collection_of(task) or "-",
                rate=rate,
                # None ("?") where the data is not here: counting would fail inside TFDS.
                examples=None if mixing.missing_data_reason(tasks[task], split) else mixing.num_examples(tasks[task], split),
                cap=rule.cap if isinstance(rule, mixing.CappedExamplesRate) else None,
            )
        )
    return sorted(rows, key=lambda r: (r.collection, -r.rate, r.task))


# The collections of the Flan 2022 list (flan_jax_tasks.collection_list.COLLECTIONS).
FLAN2022_COLLECTIONS = ("flan2021", "t0sf", "niv2", "cot", "dialog")


def flan2022_list_line() -> str:
    """How many of the Flan 2022 list's tasks (rows) have data on this machine, in one line."""
    from flan_jax_tasks import collection_list  # the CLI sits above the task collection

    try:
        rows = collection_list.read_rows(collection_list.info_path())
    except collection_list.CollectionInfoError as e:
        return f"Flan 2022 task list: not available, so not compared ({e})"
    counts = collection_list.availability(collection_list.cover(rows))
    return (f"Flan 2022 task list: {counts.with_data:,} of its {counts.rows:,} tasks have data on this machine; "
            f"{counts.without_data:,} more are registered but their data is not here (TFDS not prepared, Hub "
            f"dataset not cached, ...), {counts.not_registered:,} are not registered here "
            "(`flan-jax tasks coverage` says why)")


def show(name: str, as_json: bool, out=None) -> None:
    """Prints the leaf tasks of `name` grouped by collection, or as JSON."""
    out = out or sys.stdout
    rows = leaf_rows(name)
    if as_json:
        json.dump([dataclasses.asdict(r) for r in rows], out, indent=1)
        out.write("\n")
        return
    print(f"{name}: {len(rows)} tasks, rates sum to {sum(r.rate for r in rows):.6f}", file=out)
    for note in mixing.left_out(name):
        print(f"  {note}", file=out)
    if any(r.collection in FLAN2022_COLLECTIONS for r in rows):
        print(flan2022_list_line(), file=out)
    for collection in sorted({r.collection for r in rows}):
        members = [r for r in rows if r.collection == collection]
        print(f"\n{collection}: {len(members)} tasks, rate {sum(r.rate for r in members):.4f}", file=out)
        print(f"  {'task':<48} {'rate':>10} {'examples':>10} {'cap':>8}", file=out)
        for r in members:
            cap = "-" if r.cap is None else str(r.cap)
            examples = "?" if r.examples is None else str(r.examples)
            print(f"  {r.task:<48} {r.rate:>10.6f} {examples:>10} {cap:>8}", file=out)


@dataclasses.dataclass(frozen=True)
class SampleReport:
    """Empirical task frequencies against the rates."""

    tasks: list[str]
    rates: np.ndarray
    counts: np.ndarray
    max_abs_deviation: float
    chi_square: float
    p_value: float


def sample_frequencies(name: str, n: int, seed: int = 0) -> SampleReport:
    """Draws `n` tasks with the training sampler and compares the frequencies with the rates."""
    rates = mixing.leaf_rates(registry.get_mixture_or_task(name))
    tasks = sorted(rates)
    probs = np.array([rates[t] for t in tasks])

    draws = sampling.TaskDraws(probs, seed)
    counts = np.bincount([next(draws) for _ in range(n)], minlength=len(tasks))
    expected = probs * n
    chi_square = float(np.sum((counts - expected) ** 2 / expected))
    return SampleReport(
        tasks=tasks,
        rates=probs,
        counts=counts,
        max_abs_deviation=float(np.max(np.abs(counts / n - probs))),
        chi_square=chi_square,
        p_value=float(stats.chi2.sf(chi_square, max(len(tasks) - 1, 1))),
    )


def sample(name: str, n: int, seed: int, top: int, out=None) -> SampleReport:
    """Prints empirical frequencies of `n` draws beside the rates, and the deviation figures."""
    out = out or sys.stdout
    report = sample_frequencies(name, n, seed)
    order = np.argsort(-report.rates)
    print(f"{name}: {n} draws over {len(report.tasks)} tasks (seed {seed})", file=out)
    print(f"  {'task':<48} {'rate':>10} {'empirical':>10} {'count':>8}", file=out)
    for i in order[:top]:
        print(f"  {report.tasks[i]:<48} {report.rates[i]:>10.6f} {report.counts[i] / n:>10.6f} {report.counts[i]:>8}", file=out)
    if len(order) > top:
        print(f"  ... {len(order) - top} more tasks (--top to show more)", file=out)
    print(
        f"max |empirical - rate| = {report.max_abs_deviation:.6f}; chi-square = {report.chi_square:.1f} "
        f"with {len(report.tasks) - 1} dof, p = {report.p_value:.3f}",
        file=out,
    )
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flan-jax mixture", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show_p = commands.add_parser("show", help="leaf tasks with rate, examples and cap")
    show_p.add_argument("name")
    show_p.add_argument("--json", action="store_true", help="a JSON list of {task, collection, rate, examples, cap}")
    sample_p = commands.add_parser("sample", help="empirical task frequencies vs rates")
    sample_p.add_argument("name")
    sample_p.add_argument("-n", type=int, default=10_000, help="number of draws")
    sample_p.add_argument("--seed", type=int, default=0)
    sample_p.add_argument("--top", type=int, default=30, help="tasks to list (highest rates first)")
    for sub in (show_p, sample_p):
        sub.add_argument("--module", action="append", default=None,
                         help=f"module that registers the mixture (repeatable; default {DEFAULT_MODULES[0]})")
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of `flan-jax mixture`."""
    args = _parser().parse_args(list(argv))
    for module in args.module or DEFAULT_MODULES:
        importlib.import_module(module)
    try:
        if args.command == "show":
            show(args.name, args.json)
        else:
            if args.n <= 0:
                print("flan-jax mixture sample: -n must be positive", file=sys.stderr)
                return 2
            sample(args.name, args.n, args.seed, args.top)
    except (ValueError, mixing.MixtureError) as e:
        print(f"flan-jax mixture: {e}", file=sys.stderr)
        if args.command == "show" and args.name.startswith("flan2022"):
            # Not registered when none of its tasks has data here: say how far the list is from it.
            print(flan2022_list_line(), file=sys.stderr)
        return 1
    return 0
