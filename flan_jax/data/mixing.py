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
import dataclasses
import logging
import math
import weakref
from typing import Callable, Iterable, Mapping, Sequence

import seqio
import tensorflow as tf

from flan_jax.data import formats as formats_lib
from flan_jax.data import registry, sources

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
    if name in seqio.MixtureRegistry.names() or name in seqio.TaskRegistry.names():
        return registry.get_mixture_or_task(name)
    return None


def _unknown(mixture: str, name: str) -> MixtureError:
    hint = registry.did_you_mean(name) or " Register it before the mixture."
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


# mixture -> what its registration left out for want of data here. Registering happens at import
# for every command; the notes are logged, and warned about once when the mixture is used.
_LEFT_OUT: dict[str, list[str]] = {}
_WARNED: set[tuple[str, str]] = set()  # (mixture, note)


def _note_left_out(mixture: str, message: str) -> None:
    _LEFT_OUT.setdefault(mixture, []).append(message)
    logging.info("%s", message)


def left_out(name: str) -> list[str]:
    """What the registrations of mixture `name` and its sub-mixtures left out (no data here)."""
    notes, seen, pending = [], set(), [name]
    while pending:
        current = pending.pop(0)
        if current in seen:
            continue
        seen.add(current)
        notes += _LEFT_OUT.get(current, [])
        if current in seqio.MixtureRegistry.names():
            pending += list(seqio.MixtureRegistry.get(current).rate_per_task_name)
    return notes


def warn_left_out(name: str) -> list[str]:
    """Warns, once per process, what mixture `name` (a command is about to use it) left out; returns the notes."""
    notes = [n for n in left_out(name) if (name, n) not in _WARNED]
    for note in notes:
        logging.warning("%s", note)
        _WARNED.add((name, note))
    return notes


def _forget_left_out(mixture: str) -> None:
    """A mixture registered again (gin rebinds its weights): its notes start over."""
    _LEFT_OUT.pop(mixture, None)
    _WARNED.difference_update({key for key in _WARNED if key[0] == mixture})


def drop_missing(
    mixture: str,
    weights: Mapping[str, float],
    available: Callable[[str], bool],
    *,
    on_missing: str = "warn",
    reasons: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """The components of `weights` that are available; the rest left out with one warning.

    The remaining weights are kept as given: seqio normalises them, which is the renormalisation.

    Args:
      mixture: named in the warning or error.
      weights: component -> weight.
      available: whether a component's data is present (e.g. its tasks are registered).
      on_missing: "warn" (leave out; `warn_left_out` warns when the mixture is used) or "error".
      reasons: component -> why it has no data, added to the message.

    Returns:
      The available components and their weights.
    """
    if on_missing not in ("warn", "error"):
        raise MixtureError(f"on_missing must be 'warn' or 'error', got {on_missing!r}")
    missing = [name for name in weights if not available(name)]
    reasons = reasons or {}
    why = "; ".join(f"{m}: {reasons[m]}" for m in missing if m in reasons)
    why = f" ({why})" if why else ""
    if missing and on_missing == "error":
        raise MixtureError(
            f"mixture {mixture!r}: no data for {', '.join(missing)}{why}; provide it or allow leaving it "
            "out (on_missing='warn')"
        )
    kept = {name: w for name, w in weights.items() if name not in missing}
    if not kept:
        raise MixtureError(f"mixture {mixture!r}: none of {', '.join(weights)} has data")
    if missing:
        kept_weights = ", ".join(f"{k}={v:g}" for k, v in kept.items())
        _note_left_out(mixture, f"Mixture {mixture!r}: leaving out {', '.join(missing)} (no data{why}); the "
                                f"remaining weights {kept_weights} are renormalised to sum to 1.")
    return kept


# ---------------------------------------------------------------------------------------------
# One collection: capped dataset size, split over the dataset's formats.


@dataclasses.dataclass(frozen=True)
class FormatShares:
    """How one dataset's weight is split over its formats (Longpre et al. 2023, Sec. 3.1-3.2).

    Attributes:
      few_shot: share of the few-shot formats; the zero-shot ones get the rest (Flan 2022: 0.5).
      options: share of the with-options formats within a zero-/few-shot group where both kinds
        exist (0.5: zs_opt, zs_noopt, fs_opt, fs_noopt get 25% each).
      inversion: weight of an inversion task relative to its dataset (0.3, Flan 2022).
    """

    few_shot: float = 0.5
    options: float = 0.5
    inversion: float = 0.3

    def __post_init__(self):
        for field in ("few_shot", "options"):
            if not 0.0 <= getattr(self, field) <= 1.0:
                raise MixtureError(f"FormatShares.{field}={getattr(self, field)} must lie in [0, 1]")
        if self.inversion < 0:
            raise MixtureError(f"FormatShares.inversion={self.inversion} must be >= 0")


@dataclasses.dataclass(frozen=True)
class LeafTask:
    """A task of a collection: its dataset (family) and format suffix (None: a single format)."""

    task: str
    family: str
    format: str | None = None


def format_shares(formats: Sequence[str | None], shares: FormatShares = FormatShares()) -> dict[str | None, float]:
    """Share of each format of one dataset; the non-inversion shares sum to 1 (or all are 0).

    A zero-/few-shot group or an options kind that the dataset lacks gives its share to those
    it has, so a dataset registered in fewer formats keeps its full weight. An inversion format
    gets `shares.inversion` on top: a different task made from the same data.

    Example: ["zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "inv"] -> 0.25 each, inv 0.3;
    ["cot", "fs_cot"] -> 0.5 each; ["zs_noopt"] -> 1.0.
    """
    kinds = {f: formats_lib.get_format(f) if f is not None else None for f in set(formats)}
    out = {f: shares.inversion for f, k in kinds.items() if k is not None and k.kind == formats_lib.INVERSION}
    plain = {f: (bool(k and k.few_shot), bool(k and k.options)) for f, k in kinds.items() if f not in out}
    group_weight = {True: shares.few_shot, False: 1.0 - shares.few_shot}
    option_weight = {True: shares.options, False: 1.0 - shares.options}
    group_total = sum(group_weight[g] for g in {few for few, _ in plain.values()})
    for f, (few, opt) in plain.items():
        in_group = [o for g, o in plain.values() if g == few]
        option_total = sum(option_weight[o] for o in set(in_group))
        same_kind = in_group.count(opt)
        g = group_weight[few] / group_total if group_total else 0.0
        o = option_weight[opt] / option_total if option_total else 0.0
        out[f] = g * o / same_kind
    return out


def collection_components(
    tasks: Sequence[LeafTask], cap: int | None, shares: FormatShares = FormatShares(), split: str = "train"
) -> list[tuple[str, CappedExamplesRate]]:
    """Rate callables of a collection's tasks: min(examples, cap) x the format's share.

    Args:
      tasks: the collection's tasks with their dataset and format.
      cap: per-dataset example cap (Flan 2022: Flan 2021 30k, T0-SF 20k, NIv2 5k, CoT 100k,
        Dialog 200k).
      shares: how a dataset's weight splits over its formats.
      split: whose example count sets the rate.

    Returns:
      (task name, rate) pairs for `add_mixture`; a format with share 0 is left out.
    """
    by_family: dict[str, list[LeafTask]] = {}
    for t in tasks:
        by_family.setdefault(t.family, []).append(t)
    components = []
    for family in sorted(by_family):
        members = by_family[family]
        family_shares = format_shares([t.format for t in members], shares)
        for t in sorted(members, key=lambda t: t.task):
            if family_shares[t.format] > 0:
                components.append((t.task, CappedExamplesRate(cap=cap, scale=family_shares[t.format], split=split)))
    return components


def replace_mixture(name: str, components: Sequence[tuple[str, MixtureRate]]) -> seqio.Mixture:
    """`add_mixture`, first removing an earlier registration of `name` (gin re-binds weights)."""
    if name in seqio.MixtureRegistry.names():
        seqio.MixtureRegistry.remove(name)
    return add_mixture(name, components)


def add_collections_mixture(
    name: str,
    weights: Mapping[str, float],
    caps: Mapping[str, int | None],
    tasks_of: Callable[[str], Sequence[LeafTask]],
    shares: FormatShares = FormatShares(),
    on_missing: str = "warn",
    split: str = "train",
) -> list[str]:
    """Registers a two-level mixture: fixed collection weights over capped, format-split tasks.

    Each collection becomes the sub-mixture `{name}_{collection}`; a collection without tasks is
    left out (noted, and warned about when the mixture is used: `warn_left_out`; or an error with
    on_missing="error") and the weights of the rest renormalise. Earlier registrations of the same names are replaced.

    Args:
      name: the top mixture's name.
      weights: collection -> weight (e.g. Flan 2022: flan2021 0.40, t0sf 0.32, ...).
      caps: collection -> per-dataset example cap (None: no cap).
      tasks_of: collection -> its registered tasks.
      shares: the format split inside each dataset.
      on_missing: "warn" or "error" for collections without tasks, and for tasks whose data
        is absent (e.g. a TFDS dataset not prepared): those are left out, one warning per
        collection.
      split: the split whose data must be present.

    Returns:
      The registered mixture names, the top one last.
    """
    _forget_left_out(name)
    members, reasons = {}, {}
    for collection in weights:
        members[collection], reason = _with_data(name, collection, list(tasks_of(collection)), split, on_missing)
        if reason:
            reasons[collection] = reason
    missing_caps = [c for c in weights if c not in caps]
    if missing_caps:
        raise MixtureError(f"mixture {name!r}: no example cap for collection(s) {', '.join(missing_caps)}")
    normalize_rates(weights, mixture=name)  # validates: every weight positive
    kept = drop_missing(name, weights, lambda c: bool(members[c]), on_missing=on_missing, reasons=reasons)
    registered = []
    for collection in kept:
        sub = f"{name}_{collection}"
        replace_mixture(sub, collection_components(members[collection], caps[collection], shares, split))
        registered.append(sub)
    replace_mixture(name, [(f"{name}_{c}", w) for c, w in kept.items()])
    return registered + [name]


def missing_data_reason(task: seqio.Task, split: str = "train") -> str | None:
    """Why `task` has no data for `split` here (None: it has), judged without reading it.

    Delegates to `sources.unavailable_reason` (TFDS: prepared files; NIv2 / CoT: the file exists;
    Hugging Face: the local cache), which reads no examples and never the network.
    """
    if split not in task.splits:
        return f"no split {split!r} (has {', '.join(task.splits)})"
    return sources.unavailable_reason(task.source)


def _with_data(
    mixture: str, collection: str, tasks: Sequence[LeafTask], split: str, on_missing: str
) -> tuple[list[LeafTask], str | None]:
    """`tasks` whose data is present (the rest left out with a warning, or an error), and why
    none is, when none is."""
    present, absent = [], {}
    for t in tasks:
        reason = missing_data_reason(seqio.TaskRegistry.get(t.task), split)
        if reason is None:
            present.append(t)
        else:
            absent[t.task] = reason
    if absent:
        first = next(iter(absent))
        message = (
            f"mixture {mixture!r}: {len(absent)} of {len(tasks)} {collection} tasks have no {split} "
            f"data (e.g. {first!r}: {absent[first]})"
        )
        if on_missing == "error":
            raise MixtureError(message + "; prepare the data or allow leaving it out (on_missing='warn')")
        if present:  # a collection left out entirely is reported once, by `drop_missing`
            _note_left_out(mixture, f"{message}; left out.")
    return present, (f"e.g. {first!r}: {absent[first]}" if absent and not present else None)
