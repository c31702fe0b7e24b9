"""The Flan chain-of-thought collection: nine reasoning datasets with human-written rationales.

Data: the TSV files of the FLAN repository (`flan/v2/cot_data/{dataset}_train.tsv`, headerless
rows question<TAB>answer<TAB>rationale); pass their directory as `register(data_dir=...)` or set
FLAN_JAX_COT_DIR. A dataset whose file is absent is skipped, with one log line naming all of them.

Each dataset `cot_{dataset}` is registered in three formats (Chung et al. 2022, Sec. 3; Longpre et
al. 2023, Sec. 3):

  cot_{dataset}_cot      question + a reasoning trigger -> "{rationale} So the answer is {answer}."
  cot_{dataset}_fs_cot   the same after up to three worked exemplars from the dataset
  cot_{dataset}_inv      input inversion: answer + rationale -> the question

Multiple-choice datasets (aqua, creak, ecqa, esnli, qasc, sensemaking) carry their options inside
the question text, as the release writes them, so no options format applies.
"""
import logging
import os
from typing import Sequence

import seqio

from flan_jax.data import formats as formats_lib
from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet, chain_of_thought

COLLECTION = "cot"
PREFIX = "cot_"
CLUSTER = "chain_of_thought"
DATASETS = ("aqua", "creak", "ecqa", "esnli", "gsm8k", "qasc", "qed", "sensemaking", "strategyqa")
DEFAULT_FORMATS = ("cot", "fs_cot", "inv")
FIELDS = tuple(sources.COT_SIGNATURE)

# Wordings shared by every dataset; the question already states what is asked.
GENERIC_TEMPLATES = (
    Template("{question}", "{answer}"),
    Template("Question: {question}", "{answer}"),
    Template("Answer the following question.\n{question}", "{answer}"),
    Template("Q: {question}", "{answer}"),
    Template("{question}\nWhat is the answer?", "{answer}"),
)

# Dataset-specific wordings, added to the generic ones.
DATASET_TEMPLATES = {
    "aqua": (
        Template("Solve this multiple-choice math problem.\n{question}", "{answer}"),
        Template("Pick the correct option for the problem below.\n{question}", "{answer}"),
    ),
    "creak": (
        Template("Is the following claim true, using common sense?\n{question}", "{answer}"),
    ),
    "ecqa": (
        Template("Use common sense to pick the best answer.\n{question}", "{answer}"),
    ),
    "esnli": (
        Template("Decide how the hypothesis relates to the premise.\n{question}", "{answer}"),
    ),
    "gsm8k": (
        Template("Solve this math word problem.\n{question}", "{answer}"),
        Template("{question}\nGive the final answer as a number.", "{answer}"),
    ),
    "qasc": (
        Template("Answer this science question.\n{question}", "{answer}"),
    ),
    "qed": (
        Template("Read the passage and answer the question.\n{question}", "{answer}"),
    ),
    "sensemaking": (
        Template("Pick the sentence that goes against common sense.\n{question}", "{answer}"),
    ),
    "strategyqa": (
        Template("Answer yes or no.\n{question}", "{answer}"),
        Template("{question}\nAnswer with yes or no.", "{answer}"),
    ),
}

# CoT input inversion: from the answer and its reasoning back to the question.
INVERSION_TEMPLATES = (
    Template("{rationale}\nThe answer is: {answer}.\nWhat was the question?", "{question}"),
    Template("Reasoning: {rationale}\nAnswer: {answer}\nWrite the question this reasoning answers.",
             "{question}"),
    Template("Here is an answer with its explanation.\nAnswer: {answer}\nExplanation: {rationale}\n"
             "What question was asked?", "{question}"),
    Template("Come up with the question for this reasoning and answer.\n{rationale}\nSo the answer is {answer}.",
             "{question}"),
)


def template_set(dataset: str) -> TemplateSet:
    """The CoT, inversion and (unregistered by default) plain templates of one dataset."""
    standard = GENERIC_TEMPLATES + DATASET_TEMPLATES.get(dataset, ())
    return TemplateSet(
        templates=standard,
        rationale_field="rationale",
        cot_templates=chain_of_thought(standard),
        inversion_templates=INVERSION_TEMPLATES,
    )


def _prepare(example: dict) -> dict | None:
    """Drops rows without a rationale (they cannot teach reasoning) and ends each rationale
    with a full stop, so the target reads "... 8. So the answer is (D)." rather than "8 So"."""
    rationale = example["rationale"].strip()
    if not rationale:
        return None
    if rationale[-1] not in ".!?":
        rationale += "."
    return {**example, "rationale": rationale}


def register(
    data_dir: str | os.PathLike | None = None,
    *,
    datasets: Sequence[str] = DATASETS,
    formats: Sequence[str] = DEFAULT_FORMATS,
    on_missing: str = "error",
    vocabulary: seqio.Vocabulary | None = None,
    few_shot: formats_lib.FewShotConfig = formats_lib.FewShotConfig(),
    seed: int = 0,
) -> list[str]:
    """Registers `cot_{dataset}_{format}` for each dataset whose TSV file is present.

    Args:
      data_dir: the directory of `{dataset}_train.tsv` files; None = $FLAN_JAX_COT_DIR.
      datasets: which of DATASETS.
      formats: format suffixes ("cot", "fs_cot", "inv"; "zs_noopt"/"fs_noopt" give the
        plain-answer variants).
      on_missing: no directory: "error" (saying what to download and where to point),
        "warn" (log, register nothing) or "ignore". Absent files are always only logged.
      vocabulary: default the byte vocabulary.
      few_shot: exemplars of fs_cot (drawn from the dataset's own rows).
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise ValueError(f"Unknown CoT dataset(s) {unknown}; known: {list(DATASETS)}.")
    try:
        root = sources.resolve_dir(data_dir, sources.COT_ENV, "the Flan CoT data", sources.COT_URL,
                                   "the folder of {dataset}_train.tsv files")
    except sources.DataSourceError as e:
        registry.handle_missing_data(e, on_missing, "CoT collection")
        return []
    absent = [d for d in datasets if not sources.cot_tsv_path(root, d).is_file()]
    if absent:
        logging.warning("CoT collection: %s absent from %s (expected %s); those datasets are skipped.",
                        ", ".join(f"{d}_train.tsv" for d in absent), root, sources.COT_URL)
    names = []
    for dataset in datasets:
        if dataset in absent:
            continue
        source = sources.CotTsvSource(sources.cot_tsv_path(root, dataset), name=PREFIX + dataset)
        names += registry.register_family(
            PREFIX + dataset, source=source, fields=FIELDS, templates=template_set(dataset),
            collection=COLLECTION, cluster=CLUSTER, formats=list(formats), prepare=_prepare,
            vocabulary=vocabulary, few_shot=few_shot, seed=seed,
        )
    return names


TASKS = registry.register_if_configured(sources.COT_ENV, "the Flan cot_data folder", sources.COT_URL, register)
