"""Registered mixtures: Flan 2022 (and its proportion-B variant) and the synthetic suite.

Registration only; the rate rules live in `flan_jax.data.mixing`. The numbers are the Flan
Collection's (Longpre et al. 2023, Sec. 3.3 and Appendix): collection weights, per-dataset
example caps, zero-/few-shot and options splits, and inversion tasks at 0.3 of their dataset.
Each mixture is registered by a function whose keyword defaults are those numbers, so gin can
rebind any of them; the function re-registers the mixture and returns its name:

    MIXTURE_OR_TASK_NAME = @mixtures.flan2022()
    mixtures.flan2022.caps = {"flan2021": 10000, ...}

Only collections with registered tasks are mixed: one whose data is absent is left out and the
remaining weights renormalised (on_missing="error" fails instead); what was left out is logged,
and a command that uses the mixture warns about it once (`mixing.warn_left_out`).
"""
import importlib
import logging
from typing import Mapping, Sequence

from flan_jax.data import mixing, registry

# Flan 2022 collection weights (Longpre et al. 2023, Sec. 3.3: "Flan 2021 (30%) ..." as
# released in the FLAN repository's flan_collection mixture: 0.40 / 0.32 / 0.20 / 0.05 / 0.03).
FLAN2022_WEIGHTS = {"flan2021": 0.40, "t0sf": 0.32, "niv2": 0.20, "cot": 0.05, "dialog": 0.03}
# Per-dataset example caps inside each collection (examples-proportional mixing with a cap).
FLAN2022_CAPS = {"flan2021": 30_000, "t0sf": 20_000, "niv2": 5_000, "cot": 100_000, "dialog": 200_000}
# "Proportion B" of the paper's mixture-weight ablation: Flan 2021 / T0-SF / CoT / NIv2.
PROPORTION_B_WEIGHTS = {"flan2021": 46.0, "t0sf": 27.9, "cot": 1.8, "niv2": 24.2}

# collection -> the modules that register it (imported here so this module alone is enough as
# MIXTURE_OR_TASK_MODULE). Program synthesis is part of Flan 2021 ("Muffin", Chung et al. 2022,
# Sec. 2.1); the FLAN repository's mixtures give it no weight of its own (see program_synthesis.py).
COLLECTION_MODULES = {
    "flan2021": ("flan_jax_tasks.flan2021", "flan_jax_tasks.program_synthesis"),
    "t0sf": ("flan_jax_tasks.t0",),
    "niv2": ("flan_jax_tasks.niv2",),
    "cot": ("flan_jax_tasks.cot",),
    "dialog": ("flan_jax_tasks.dialog",),
    "synthetic": ("flan_jax_tasks.synthetic",),
}

SYNTHETIC_CAP = 30_000


def import_collections(collections: Sequence[str]) -> list[str]:
    """Imports the modules that register `collections`; returns those that could be imported.

    A module that does not exist (a collection not written yet) is skipped here and reported by
    the mixture that wanted it; any other import error is a real error and propagates.
    """
    imported = []
    for collection in collections:
        found = False
        for module in COLLECTION_MODULES[collection]:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise
                logging.info("No module %s: collection %r has no tasks from it.", module, collection)
                continue
            found = True
        if found:
            imported.append(collection)
    return imported


def leaf_tasks(collection: str) -> list[mixing.LeafTask]:
    """The registered tasks of `collection` with their dataset and format."""
    return [
        mixing.LeafTask(i.task, i.family, i.format)
        for i in registry.all_infos()
        if i.collection == collection
    ]


def flan2022(
    name: str = "flan2022",
    collection_weights: Mapping[str, float] = FLAN2022_WEIGHTS,
    caps: Mapping[str, int] = FLAN2022_CAPS,
    few_shot_share: float = 0.5,
    options_share: float = 0.5,
    inversion_weight: float = 0.3,
    on_missing: str = "warn",
) -> str:
    """(Re)registers the Flan 2022 mixture and its per-collection sub-mixtures.

    Args:
      name: mixture name; sub-mixtures are `{name}_{collection}`.
      collection_weights: fixed weight of each collection (renormalised over those present).
      caps: per-dataset example cap of each collection.
      few_shot_share: share of few-shot formats in each dataset (0.5: half zero-shot, half
        few-shot; with options_share 0.5 that is 25% each of zs/fs x opt/noopt).
      options_share: share of with-options formats where a dataset has both kinds.
      inversion_weight: weight of an inversion task relative to its dataset.
      on_missing: "warn" (leave a collection without tasks out) or "error".

    Returns:
      `name`, ready for MIXTURE_OR_TASK_NAME.
    """
    import_collections(list(collection_weights))
    mixing.add_collections_mixture(
        name,
        collection_weights,
        caps,
        leaf_tasks,
        mixing.FormatShares(few_shot=few_shot_share, options=options_share, inversion=inversion_weight),
        on_missing=on_missing,
    )
    return name


def flan2022_proportion_b(
    name: str = "flan2022_proportion_b",
    collection_weights: Mapping[str, float] = PROPORTION_B_WEIGHTS,
    **kwargs,
) -> str:
    """Flan 2022 with the paper's "proportion B" collection weights (no Dialog)."""
    return flan2022(name=name, collection_weights=collection_weights, **kwargs)


def default_held_out_clusters() -> tuple[str, ...]:
    """The synthetic suite's own choice of held-out clusters."""
    synthetic = importlib.import_module(COLLECTION_MODULES["synthetic"][0])
    return tuple(synthetic.DEFAULT_HELD_OUT_CLUSTERS)


def synthetic(
    held_out_clusters: Sequence[str] | None = None,
    prefix: str = "synthetic",
    cap: int | None = SYNTHETIC_CAP,
    few_shot_share: float = 0.5,
    options_share: float = 0.5,
    inversion_weight: float = 0.3,
) -> tuple[str, str, str]:
    """(Re)registers `{prefix}_train`, `{prefix}_held_out` and `{prefix}_all`.

    Train holds the tasks of every cluster except the held-out ones, which are kept for
    zero-shot evaluation on unseen task clusters (the FLAN setup, Wei et al. 2022, Sec. 2.2).

    Args:
      held_out_clusters: clusters to hold out; None = `synthetic.DEFAULT_HELD_OUT_CLUSTERS`.
      prefix: name prefix of the three mixtures.
      cap: per-dataset example cap.
      few_shot_share, options_share, inversion_weight: the format split (as in `flan2022`).

    Returns:
      The names (train, held_out, all).
    """
    import_collections(["synthetic"])
    held_out = tuple(default_held_out_clusters() if held_out_clusters is None else held_out_clusters)
    clusters = registry.clusters("synthetic")
    unknown = sorted(set(held_out) - set(clusters))
    if unknown:
        raise mixing.MixtureError(
            f"mixture {prefix}_held_out: held-out cluster(s) {', '.join(unknown)} have no synthetic "
            f"tasks; known clusters: {', '.join(sorted(clusters))}"
        )
    cluster_of = {task: cluster for cluster, tasks in clusters.items() for task in tasks}
    tasks = leaf_tasks("synthetic")
    shares = mixing.FormatShares(few_shot=few_shot_share, options=options_share, inversion=inversion_weight)
    parts = {
        "train": [t for t in tasks if cluster_of.get(t.task) not in held_out],
        "held_out": [t for t in tasks if cluster_of.get(t.task) in held_out],
        "all": tasks,
    }
    names = []
    for part, members in parts.items():
        name = f"{prefix}_{part}"
        if not members:
            raise mixing.MixtureError(
                f"mixture {name!r} would have no tasks (held-out clusters: {', '.join(held_out)})"
            )
        mixing.replace_mixture(name, mixing.collection_components(members, cap, shares))
        names.append(name)
    return tuple(names)


def synthetic_train(held_out_clusters: Sequence[str] | None = None, prefix: str = "synthetic") -> str:
    """(Re)registers the synthetic mixtures and returns the training one's name (for gin)."""
    return synthetic(held_out_clusters, prefix)[0]


def register() -> list[str]:
    """Registers every mixture whose collections are present; returns the names."""
    names = []
    if import_collections(["synthetic"]) and registry.tasks_in("synthetic"):
        names += synthetic()
    present = [c for c in import_collections(list(FLAN2022_WEIGHTS)) if registry.tasks_in(c)]
    for register_fn in (flan2022, flan2022_proportion_b):
        # Said when the mixture is asked for (and logged), not by every command that imports this module.
        if not present:
            registry.record_not_registered(register_fn.__name__, f"no Flan 2022 collection has tasks registered, so "
                                                                 f"{register_fn.__name__!r} is not (set the collections' "
                                                                 "data variables, see README)")
            continue
        try:
            names.append(register_fn())
        except mixing.MixtureError as e:  # e.g. tasks registered but no data prepared here
            registry.record_not_registered(register_fn.__name__, str(e))
    return names


register()
