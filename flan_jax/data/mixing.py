"""Mixing rates: how often each task of a mixture is drawn.

The Flan Collection (Longpre et al. 2023, Sec. 3 and Appendix) mixes collections with fixed
weights and, inside a collection, tasks proportionally to their size with a per-task cap, so a
handful of huge datasets cannot crowd out the rest. T5 (Raffel et al. 2020, Sec. 3.5.2) adds
temperature scaling, rate = n^(1/T). The rate rules here are pure functions of example counts;
counts come from the task's data (`num_examples`), never from hand-written tables.

Hierarchies are plain seqio mixtures whose components are sub-mixtures: a leaf task's effective
rate is the product of the normalised weights down its path (`leaf_rates`), so the leaf rates of
any mixture sum to 1.
"""
import difflib
import logging
import math
import weakref
from typing import Callable, Iterable, Mapping, Sequence

import seqio
import tensorflow as tf

MixtureRate = float | Callable[[seqio.Task], float]


class MixtureError(ValueError):
    """A mixture that cannot be built or sampled; the message names the mixture and the task."""


# ---------------------------------------------------------------------------------------------
# Rate rules: pure functions of example counts.


def _check_counts(counts: Mapping[str, int], mixture: str) -> None:
    for name, n in counts.items():
        if n is None or n <= 0:
            raise MixtureError(
                f"mixture {mixture!r}: task {name!r} has {n} examples; an empty task cannot be "
                "mixed by size. Fix its source (or split), or give it a fixed rate."
            )


def examples_proportional_rates(
    counts: Mapping[str, int], cap: int | None = None, *, mixture: str = "<unnamed>"
) -> dict[str, float]:
    """Rate of each task = min(n, cap), normalised to sum to 1 (Flan's per-collection rule).

    Args:
      counts: task name -> number of examples.
      cap: the per-task maximum (Flan 2021: 30,000); None for no cap.
      mixture: named in errors.

    Returns:
      task name -> rate, summing to 1.
    """
    _check_counts(counts, mixture)
    return normalize_rates({k: float(min(n, cap) if cap else n) for k, n in counts.items()}, mixture=mixture)


def temperature_rates(
    counts: Mapping[str, int],
    temperature: float,
    cap: int | None = None,
    *,
    mixture: str = "<unnamed>",
) -> dict[str, float]:
    """Rate = min(n, cap)^(1/T), normalised (T5's temperature mixing; T=1 is proportional).

    Args:
      counts: task name -> number of examples.
      temperature: T > 0; larger T moves towards uniform.
      cap: optional per-task maximum applied before the temperature.
      mixture: named in errors.

    Returns:
      task name -> rate, summing to 1.
    """
    if not temperature > 0:
        raise MixtureError(f"mixture {mixture!r}: temperature must be > 0, got {temperature}")
    _check_counts(counts, mixture)
    return normalize_rates(
        {k: float(min(n, cap) if cap else n) ** (1.0 / temperature) for k, n in counts.items()},
        mixture=mixture,
    )


def uniform_rates(names: Iterable[str], *, mixture: str = "<unnamed>") -> dict[str, float]:
    """Every task equally often."""
    names = list(names)
    if not names:
        raise MixtureError(f"mixture {mixture!r} has no tasks")
    return {name: 1.0 / len(names) for name in names}


def fixed_rates(weights: Mapping[str, float], *, mixture: str = "<unnamed>") -> dict[str, float]:
    """Hand-set weights (e.g. Flan 2022's collection weights), validated and normalised."""
    return normalize_rates(weights, mixture=mixture)


def normalize_rates(rates: Mapping[str, float], *, mixture: str = "<unnamed>") -> dict[str, float]:
    """`rates` divided by their sum; a zero, negative or non-finite rate is an error naming it."""
    if not rates:
        raise MixtureError(f"mixture {mixture!r} has no tasks")
    for name, rate in rates.items():
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
            raise MixtureError(
                f"mixture {mixture!r}: task {name!r} has rate {rate!r}; rates must be positive and "
                "finite (leave the task out instead of giving it rate 0)."
            )
    total = float(sum(rates.values()))
    return {name: float(rate) / total for name, rate in rates.items()}


# ---------------------------------------------------------------------------------------------
# Example counts, from the data.

_COUNTS: "weakref.WeakKeyDictionary[seqio.Task, dict[str, int]]" = weakref.WeakKeyDictionary()


def num_examples(task: seqio.Task, split: str = "train") -> int:
    """Number of examples of `task`'s split, memoised per task object.

    In order of cost: seqio's cached stats (preprocessed examples) when the task is cached, the
    source's declared `num_input_examples`, else one pass over the preprocessed split.
    """
    memo = _COUNTS.setdefault(task, {})
    if split not in memo:
        if task.cache_dir:
            n = int(task.get_cached_stats(split)["examples"])
        else:
            try:
                declared = task.source.num_input_examples(split)
            except KeyError:  # a declared count for other splits only
                declared = None
            if declared is not None:
                n = int(declared)
            else:
                dataset = task.get_dataset(
                    sequence_length=None, split=split, shuffle=False, num_epochs=1, use_cached=False
                )
                n = int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))
        memo[split] = n
    return memo[split]


class CappedExamplesRate:
    """A seqio rate callable: min(num_examples(task), cap) ^ (1/T) x scale.

    A class (not a closure) so `flan-jax mixture show` can report the cap, and so the rate of
    one task is computed from that task alone (seqio normalises across the mixture).
    """

    def __init__(
        self, cap: int | None = None, scale: float = 1.0, temperature: float = 1.0, split: str = "train"
    ):
        if cap is not None and cap <= 0:
            raise MixtureError(f"cap must be positive, got {cap}")
        if not scale > 0 or not temperature > 0:
            raise MixtureError(f"scale and temperature must be positive, got {scale}, {temperature}")
        self.cap, self.scale, self.temperature, self.split = cap, scale, temperature, split

    def __call__(self, task: seqio.Task) -> float:
        n = num_examples(task, self.split)
        if n <= 0:
            return 0.0  # reported by `leaf_rates`, which knows the mixture's name
        n = min(n, self.cap) if self.cap else n
        return self.scale * float(n) ** (1.0 / self.temperature)

    def __repr__(self) -> str:
        return f"CappedExamplesRate(cap={self.cap}, scale={self.scale}, temperature={self.temperature})"


# ---------------------------------------------------------------------------------------------
# Registration and hierarchy.


def _lookup(name: str) -> seqio.Task | seqio.Mixture | None:
    if name in seqio.MixtureRegistry.names():
        return seqio.MixtureRegistry.get(name)
    if name in seqio.TaskRegistry.names():
        return seqio.TaskRegistry.get(name)
    return None


def _unknown(mixture: str, name: str) -> MixtureError:
    known = list(seqio.TaskRegistry.names()) + list(seqio.MixtureRegistry.names())
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else " Register it before the mixture."
    return MixtureError(f"mixture {mixture!r}: component {name!r} is not a registered task or mixture.{hint}")


def add_mixture(name: str, components: Sequence[tuple[str, MixtureRate]]) -> seqio.Mixture:
    """Registers a seqio mixture after checking every component.

    Args:
      name: the mixture's name.
      components: (task or sub-mixture name, rate) pairs; a rate is a positive float or a
        callable task -> float (e.g. `CappedExamplesRate`).

    Returns:
      The registered seqio.Mixture.

    Raises:
      MixtureError: a component is unknown, repeated, the mixture itself, or has a fixed rate
        that is not positive.
    """
    if not components:
        raise MixtureError(f"mixture {name!r} has no components")
    seen = set()
    for component, rate in components:
        if component == name:
            raise MixtureError(f"mixture {name!r} lists itself as a component (a cycle)")
        if component in seen:
            raise MixtureError(f"mixture {name!r}: component {component!r} is listed twice")
        seen.add(component)
        if _lookup(component) is None:
            raise _unknown(name, component)
        if not callable(rate) and not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
            raise MixtureError(
                f"mixture {name!r}: component {component!r} has rate {rate!r}; rates must be positive"
            )
    return seqio.MixtureRegistry.add(name, list(components))


def _rate_value(mixture: seqio.Mixture, component: seqio.Task | seqio.Mixture, rate: MixtureRate) -> float:
    if not callable(rate):
        return float(rate)
    if isinstance(component, seqio.Mixture):
        raise MixtureError(
            f"mixture {mixture.name!r}: sub-mixture {component.name!r} has a callable rate; give "
            "sub-mixtures fixed weights"
        )
    value = float(rate(component))
    if value <= 0:
        raise MixtureError(
            f"mixture {mixture.name!r}: task {component.name!r} has rate {value} from {rate!r}; "
            "is the task empty (no examples in this split)? Fix its data or leave it out."
        )
    return value


def leaf_rates(mixture_or_task: str | seqio.Task | seqio.Mixture) -> dict[str, float]:
    """Effective rate of every leaf task: the product of normalised weights down the hierarchy.

    The result sums to 1. A task reached along several paths gets the sum of those paths.

    Raises:
      MixtureError: a cycle between mixtures, an unknown component, or a non-positive rate
        (the message names the mixture and the task).
    """
    root = _lookup(mixture_or_task) if isinstance(mixture_or_task, str) else mixture_or_task
    if root is None:
        raise _unknown("<root>", mixture_or_task)
    rates: dict[str, float] = {}

    def visit(node: seqio.Task | seqio.Mixture, weight: float, path: tuple[str, ...]) -> None:
        if isinstance(node, seqio.Task):
            rates[node.name] = rates.get(node.name, 0.0) + weight
            return
        if node.name in path:
            cycle = " -> ".join(path[path.index(node.name):] + (node.name,))
            raise MixtureError(f"mixture {node.name!r} is part of a cycle: {cycle}")
        leaves = {t.name: t for t in node.tasks}
        raw = {}
        for name, rate in node.rate_per_task_name.items():
            component = leaves.get(name) or _lookup(name)
            if component is None:
                raise _unknown(node.name, name)
            raw[name] = (component, _rate_value(node, component, rate))
        total = sum(value for _, value in raw.values())
        for component, value in raw.values():
            visit(component, weight * value / total, path + (node.name,))

    visit(root, 1.0, ())
    return rates


def drop_missing(
    mixture: str,
    weights: Mapping[str, float],
    available: Callable[[str], bool],
    *,
    on_missing: str = "warn",
) -> dict[str, float]:
    """The components of `weights` that are available; the rest left out with one warning.

    The remaining weights are kept as given: seqio normalises them, which is the renormalisation.

    Args:
      mixture: named in the warning or error.
      weights: component -> weight.
      available: whether a component's data is present (e.g. its tasks are registered).
      on_missing: "warn" (leave out and log once) or "error".

    Returns:
      The available components and their weights.
    """
    if on_missing not in ("warn", "error"):
        raise MixtureError(f"on_missing must be 'warn' or 'error', got {on_missing!r}")
    missing = [name for name in weights if not available(name)]
    if missing and on_missing == "error":
        raise MixtureError(
            f"mixture {mixture!r}: no data for {', '.join(missing)}; provide it or allow leaving it "
            "out (on_missing='warn')"
        )
    kept = {name: w for name, w in weights.items() if name not in missing}
    if not kept:
        raise MixtureError(f"mixture {mixture!r}: none of {', '.join(weights)} has data")
    if missing:
        logging.warning(
            "Mixture %r: leaving out %s (no data registered); the remaining weights %s are "
            "renormalised to sum to 1.",
            mixture,
            ", ".join(missing),
            ", ".join(f"{k}={v:g}" for k, v in kept.items()),
        )
    return kept
