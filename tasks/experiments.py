"""The experiments' content: which synthetic families train, which clusters are held out, the mixtures.

Task scaling (Chung et al. 2022, Fig. 4): whole clusters of the synthetic suite are held out
(as FLAN holds out clusters, Wei et al. 2022, Sec. 2.2); for each k and seed, k families are drawn
(per seed) from the other clusters' families and registered as the mixture
`experiment_k{k}_seed{seed}`; k = 0 is the pretrained model itself and k = "all" every training
family. Every cell is scored zero-shot on the held-out clusters' families: exact match of the
decoded answer on every held-out zero-shot task, without and with the options shown (zs_noopt,
zs_opt), and rank classification on the held-out families that have options (as FLAN scores
classification tasks, Wei et al. 2022, Sec. 2.3: the option the model gives the highest
log-likelihood is its answer). Ranking uses the zs_noopt prompts, options not shown: it needs no
options in the prompt (each is scored as the target); its targets are the option texts
themselves, where a lettered options style of zs_opt would make them letters ("(A)"), and ranking
would then measure picking a letter; and on the same prompts as `exact_match` the two differ only
in decoding against ranking, which separates knowing the answer from producing it in the expected
form. Chance is 1 / (number of options): 50% for the true / false and yes / no families.

Chain of thought (Chung et al. 2022, Sec. 4.2 / Fig. 5): the training families tuned (a) without
CoT data, (b) on CoT data only, (c) on both; scored on the held-out families that have a rationale
(the held-out "reasoning" families), answering directly (zs_noopt) and step by step (the cot
format: "Let's think step by step", the answer read after "So the answer is").

Registration only: the grid (cells as MODEL_DIRs, resume, results.csv, figures) is
`flan_jax.experiments`; these functions return its `Design` and are bound by gin through
`flan_jax_tasks.gin_configurables` (`experiments.task_scaling`, `experiments.cot`).
"""
import random
from typing import Sequence

from flan_jax.data import mixing, registry
from flan_jax.experiments import grid
from flan_jax_tasks import synthetic

ALL = "all"
# Zero-shot formats: the evaluation is zero-shot, and their inputs fit 128 tokens, so a cell
# trains at half the few-shot formats' input length (a CPU budget: FLAN mixes few-shot in too).
DIRECT_FORMATS = ("zs_noopt", "zs_opt")
COT_FORMATS = ("cot",)
CONDITIONS = {"no_cot": DIRECT_FORMATS, "cot_only": COT_FORMATS, "both": DIRECT_FORMATS + COT_FORMATS}
MIXTURE_PREFIX = "experiment"


def families_in(clusters: Sequence[str]) -> list[str]:
    """The synthetic families of `clusters`, in the suite's order.

    Raises:
      ValueError: a cluster the suite does not have (the known ones are listed).
    """
    unknown = sorted(set(clusters) - set(synthetic.CLUSTERS))
    if unknown:
        raise ValueError(f"Unknown synthetic cluster(s) {unknown} in held_out_clusters; known: "
                         f"{sorted(synthetic.CLUSTERS)}.")
    return [f.name for f in synthetic.FAMILIES if f.cluster in clusters]


def training_families(held_out_clusters: Sequence[str]) -> list[str]:
    """Every family outside the held-out clusters."""
    held_out = set(families_in(held_out_clusters))
    return [f.name for f in synthetic.FAMILIES if f.name not in held_out]


def draw_families(pool: Sequence[str], k: int | str, seed: int) -> tuple[str, ...]:
    """k families of `pool` drawn with `seed` (all of them, in pool order, for k = "all").

    Raises:
      ValueError: k is not a positive number of at most len(pool), nor "all".
    """
    if k == ALL:
        return tuple(pool)
    if not isinstance(k, int) or not 0 < k <= len(pool):
        raise ValueError(f"k = {k!r}: expected 0, 'all' or a number of families from 1 to {len(pool)} "
                         "(experiments.task_scaling.ks).")
    return tuple(sorted(random.Random(seed).sample(list(pool), k), key=list(pool).index))


def register_mixture(name: str, families: Sequence[str], formats: Sequence[str]) -> tuple[str, ...]:
    """(Re)registers mixture `name` over the families' tasks in `formats`; returns its tasks.

    Rates as the synthetic mixtures' (examples-proportional; zero-shot formats split evenly).
    """
    wanted = {synthetic.PREFIX + f for f in families}
    members = [t for t in synthetic_leaf_tasks() if t.family in wanted and t.format in formats]
    if not members:
        raise ValueError(f"Mixture {name!r}: no synthetic task of {list(families)} in formats {list(formats)}.")
    shares = mixing.FormatShares(few_shot=0.0, options=0.5, inversion=0.0)
    mixing.replace_mixture(name, mixing.collection_components(members, None, shares))
    return tuple(t.task for t in members)


def synthetic_leaf_tasks() -> list[mixing.LeafTask]:
    return [mixing.LeafTask(i.task, i.family, i.format) for i in registry.all_infos() if i.collection == "synthetic"]


def cell(name: str, x: int | str, seed: int, families: Sequence[str], formats: Sequence[str]) -> grid.Cell:
    mixture = f"{MIXTURE_PREFIX}_{name}"
    return grid.Cell(name, x, seed, tuple(families), mixture, register_mixture(mixture, families, formats))


def baseline() -> grid.Cell:
    """k = 0: the pretrained model, evaluated as it is."""
    return grid.Cell("k0", 0, 0, (), None)


def evaluations(held_out: Sequence[str], rank_classification: bool = True) -> tuple[grid.Evaluation, ...]:
    """Task scaling's scores of the held-out families (those with tasks; see the module docstring)."""
    with_options = [f for f in held_out if synthetic.FAMILIES_BY_NAME[f].templates.options_field is not None]
    candidates = (
        grid.Evaluation("exact_match", tuple(synthetic.tasks_of(held_out, ("zs_noopt",))),
                        description="decoded answer, options not shown (zs_noopt)"),
        grid.Evaluation("exact_match_options", tuple(synthetic.tasks_of(held_out, ("zs_opt",))),
                        description="decoded answer, options shown (zs_opt; the families with options)"),
        grid.Evaluation("rank_classification", tuple(synthetic.tasks_of(with_options, ("zs_noopt",)))
                        if rank_classification else (), rank_classification=True,
                        description="the option of highest log-likelihood, options not shown (zs_noopt; "
                                    "the families with options)"),
    )
    return tuple(e for e in candidates if e.tasks)


def task_scaling(
    ks: Sequence[int | str] = (0, 1, 2, 4, 8, 16, ALL),
    seeds: Sequence[int] = (0, 1, 2),
    held_out_clusters: Sequence[str] = synthetic.DEFAULT_HELD_OUT_CLUSTERS,
    formats: Sequence[str] = DIRECT_FORMATS,
    rank_classification: bool = True,
) -> grid.Design:
    """The task-scaling grid: k = 0 once, every other k once per seed with its own draw of families.

    Args:
      ks, seeds: the numbers of training families (0: the pretrained model; "all") and the draws.
      held_out_clusters: the synthetic clusters no cell trains on.
      formats: the training families' formats.
      rank_classification: also score the held-out families with options by ranking them.
    """
    pool = training_families(held_out_clusters)
    held_out = families_in(held_out_clusters)
    cells = [baseline()] if 0 in ks else []
    for k in ks:
        if k == 0:
            continue
        for seed in seeds:
            families = draw_families(pool, k, seed)
            cells.append(cell(f"k{k}_seed{seed}", len(families), seed, families, formats))
    return grid.Design("task_scaling", tuple(cells), evaluations(held_out, rank_classification), tuple(held_out))


def demo(held_out_clusters: Sequence[str] = synthetic.DEFAULT_HELD_OUT_CLUSTERS, seed: int = 0) -> grid.Design:
    """`make demo`: the pretrained model and the same model tuned on every training family, side by side.

    Exact match only: its table is one row per held-out task, and ranking scores the same zs_noopt
    tasks (the task-scaling experiment reports it).
    """
    design = task_scaling(ks=(0, ALL), seeds=(seed,), held_out_clusters=held_out_clusters, rank_classification=False)
    return grid.Design("demo", design.cells, design.evaluations, design.held_out_families)


def cot(
    conditions: Sequence[str] = tuple(CONDITIONS),
    seeds: Sequence[int] = (0, 1, 2),
    held_out_clusters: Sequence[str] = synthetic.DEFAULT_HELD_OUT_CLUSTERS,
    baseline_cell: bool = True,
) -> grid.Design:
    """The CoT grid: each condition's formats over every training family, per seed; the pretrained baseline."""
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"Unknown CoT condition(s) {unknown} (experiments.cot.conditions); known: {list(CONDITIONS)}.")
    pool = training_families(held_out_clusters)
    reasoning = [f for f in families_in(held_out_clusters) if synthetic.tasks_of([f], COT_FORMATS)]
    if not reasoning:
        raise ValueError(f"The held-out clusters {list(held_out_clusters)} have no family with a rationale to "
                         "evaluate step by step.")
    cells = [baseline()] if baseline_cell else []
    cells += [cell(f"{condition}_seed{seed}", condition, seed, pool, CONDITIONS[condition])
              for condition in conditions for seed in seeds]
    return grid.Design("cot", tuple(cells), (
        grid.Evaluation("direct", tuple(synthetic.tasks_of(reasoning, ("zs_noopt",)))),
        grid.Evaluation("step_by_step", tuple(synthetic.tasks_of(reasoning, COT_FORMATS))),
    ), tuple(reasoning))
