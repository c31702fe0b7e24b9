"""T0-SF: P3 / promptsource-style datasets that Flan 2021 lacks (Sanh et al. 2021; Longpre et al.
2023, Table 1), prompted with promptsource-like wordings.

Sources: TFDS where a builder exists (cos_e, cosmos_qa), otherwise Hugging Face datasets by Hub
name through `flan_jax.data.sources.HfDatasetSource` (the `datasets` package is needed only to
read them: `pip install datasets`). `register(data_files={name: {split: path}})` reads local
JSON-lines copies instead (same fields as the Hub dataset), e.g. for offline machines and tests.

  extractive_qa      adversarial_qa, quoref, duorc, ropes
  multiple_choice    social_i_qa, cos_e, cosmos_qa, quail, wiqa
  answer_selection   wiki_qa

Hub names, checked offline on stored copies of the Hub dataset pages (2026-11): UCLNLP/adversarial_qa
(config adversarialQA), ibm-research/duorc (config SelfRC; "ibm/duorc" is its old name, now a redirect),
allenai/ropes, textmachinelab/quail and microsoft/wiki_qa are Parquet datasets on their main
branch. allenai/quoref, allenai/social_i_qa and allenai/wiqa still hold only a loading script
there, which `datasets` >= 4 refuses to run ("Dataset scripts are no longer supported"); they are
read from the Hub's own Parquet export of the same data (revision "refs/convert/parquet", config
"default"), which keeps the fields. TFDS: cos_e 0.0.1 and cosmos_qa 1.0.0 are the installed
builders' versions.
"""
import dataclasses
from typing import Any, Callable, Mapping, Sequence

import seqio

from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet

COLLECTION = "t0sf"
PREFIX = "t0_"

EXTRACTIVE_QA = TemplateSet((
    Template("{context}\n\nQ: {question}\n\nA:", "{answer}"),
    Template("Read the following paragraph and extract the answer for the question: {question}\n\n{context}",
             "{answer}"),
    Template("I have a test where I am given the following article, what is an answer for the question: "
             "{question} ?\n\n{context}", "{answer}"),
    Template("Given the following context:\n\n{context}\n\nanswer the following question:\n\n{question}", "{answer}"),
    Template("Extract the answer to the question from the following context.\nQuestion: {question}\n"
             "Context: {context}", "{answer}"),
    Template("The answer to the question: {question} is inside the article: {context}, can you guess it ?",
             "{answer}"),
))

MULTIPLE_CHOICE = TemplateSet((
    Template("{context}\n\nGiven the context: {question}\n\n{options_}", "{answer}"),
    Template("{context}\n\nQuestion: {question}\n\nWhich one of these answers best answers the question?\n{options_}",
             "{answer}"),
    Template("Context: {context}\nQuestion: {question}\nPick the right answer from the list:\n{options_}", "{answer}"),
    Template("Read the following context and choose the best option to answer the question.\nContext: {context}\n"
             "Question: {question}\n{options_}", "{answer}"),
    Template("{question}\n{options_}\n\nUse the context to answer: {context}", "{answer}"),
    Template("Answer the question based on the context.\n{context}\n{question}\n{options_}", "{answer}"),
), options_field="options")

ANSWER_SELECTION = TemplateSet((
    Template("Question: {question}\nI found the following answer on Google: {candidate}\n"
             "Is that a correct answer?\n{options_}", "{answer}"),
    Template("Is \"{candidate}\" a good answer to the question \"{question}\"?\n{options_}", "{answer}"),
    Template("Question: {question}\nCandidate answer: {candidate}\nDoes the candidate answer the question?\n{options_}",
             "{answer}"),
    Template("{question}\nWould \"{candidate}\" be a reasonable answer?\n{options_}", "{answer}"),
), options_field="options")


def _first(values: Any) -> str | None:
    values = [v for v in (values if isinstance(values, list) else [values]) if isinstance(v, str) and v.strip()]
    return values[0] if values else None


def _extractive(context: Callable[[dict], str], answers: Callable[[dict], Any]):
    def prepare(ex):
        answer = _first(answers(ex))
        return None if answer is None else {"context": context(ex), "question": ex["question"], "answer": answer}
    return prepare


def _choice(context: Callable[[dict], str], question: Callable[[dict], str], options: Callable[[dict], list],
            label: Callable[[dict], Any]):
    def prepare(ex):
        opts = [str(o) for o in options(ex)]
        index = label(ex)
        if len(set(opts)) != len(opts) or not isinstance(index, int) or not 0 <= index < len(opts):
            return None
        return {"context": context(ex), "question": question(ex), "options": opts, "answer": opts[index]}
    return prepare


def _index_of(value: Any, options: Sequence[Any]) -> int | None:
    return list(options).index(value) if value in options else None


def _wiki_qa(ex):
    return {"question": ex["question"], "candidate": ex["answer"], "options": ["no", "yes"],
            "answer": "yes" if int(ex["label"]) == 1 else "no"}


def _wiqa_options(ex):
    return ex["choices"]["text"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One T0-SF dataset: where it is read from, its family and field mapping.

    Exactly one of `tfds_name` / `hf_path` is set; `hf_revision` picks a Hub branch (see the
    module docstring for why some datasets need one).
    """

    name: str
    cluster: str
    templates: TemplateSet
    fields: tuple[str, ...]
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None]
    tfds_name: str | None = None
    hf_path: str | None = None
    hf_config: str | None = None
    hf_revision: str | None = None
    splits: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"train": "train", "validation": "validation"})


# The Hub's automatic Parquet conversion of a dataset, for those whose main branch is a script.
PARQUET_EXPORT = "refs/convert/parquet"

F_EQA = ("context", "question", "answer")
F_MC = ("context", "question", "options", "answer")
F_SEL = ("question", "candidate", "options", "answer")

DATASETS: tuple[Dataset, ...] = (
    Dataset("adversarial_qa", "extractive_qa", EXTRACTIVE_QA, F_EQA,
            _extractive(lambda ex: ex["context"], lambda ex: ex["answers"]["text"]),
            hf_path="UCLNLP/adversarial_qa", hf_config="adversarialQA"),
    Dataset("quoref", "extractive_qa", EXTRACTIVE_QA, F_EQA,
            _extractive(lambda ex: ex["context"], lambda ex: ex["answers"]["text"]), hf_path="allenai/quoref",
            hf_revision=PARQUET_EXPORT),
    Dataset("duorc", "extractive_qa", EXTRACTIVE_QA, F_EQA,
            _extractive(lambda ex: ex["plot"], lambda ex: [] if ex.get("no_answer") else ex["answers"]),
            hf_path="ibm-research/duorc", hf_config="SelfRC"),
    Dataset("ropes", "extractive_qa", EXTRACTIVE_QA, F_EQA,
            _extractive(lambda ex: f"{ex['background']}\n\n{ex['situation']}", lambda ex: ex["answers"]["text"]),
            hf_path="allenai/ropes"),
    Dataset("social_i_qa", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: ex["context"], lambda ex: ex["question"],
                    lambda ex: [ex["answerA"], ex["answerB"], ex["answerC"]], lambda ex: int(ex["label"]) - 1),
            hf_path="allenai/social_i_qa", hf_revision=PARQUET_EXPORT),
    Dataset("cos_e", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: "", lambda ex: ex["question"], lambda ex: ex["choices"],
                    lambda ex: _index_of(ex["answer"], ex["choices"])),
            tfds_name="cos_e:0.0.1"),
    Dataset("cosmos_qa", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: ex["context"], lambda ex: ex["question"],
                    lambda ex: [ex[f"answer{i}"] for i in range(4)], lambda ex: ex["label"]),
            tfds_name="cosmos_qa:1.0.0"),
    Dataset("quail", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: ex["context"], lambda ex: ex["question"], lambda ex: ex["answers"],
                    lambda ex: ex["correct_answer_id"]),
            hf_path="textmachinelab/quail"),
    Dataset("wiqa", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: " ".join(ex["question_para_step"]), lambda ex: ex["question_stem"], _wiqa_options,
                    lambda ex: _index_of(ex["answer_label_as_choice"], ex["choices"]["label"])),
            hf_path="allenai/wiqa", hf_revision=PARQUET_EXPORT),
    Dataset("wiki_qa", "answer_selection", ANSWER_SELECTION, F_SEL, _wiki_qa, hf_path="microsoft/wiki_qa"),
)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}


def source_of(dataset: Dataset, data_files: Mapping[str, str] | None = None,
              tfds_data_dir: str | None = None) -> seqio.DataSource:
    """The dataset's source: local JSON lines when `data_files` ({split: path}) is given."""
    if data_files is not None:
        return sources.HfDatasetSource("json", splits={s: s for s in data_files}, data_files=dict(data_files))
    if dataset.tfds_name:
        return seqio.TfdsDataSource(tfds_name=dataset.tfds_name, tfds_data_dir=tfds_data_dir, splits=dict(dataset.splits))
    load_kwargs = {"revision": dataset.hf_revision} if dataset.hf_revision else None
    return sources.HfDatasetSource(dataset.hf_path, dataset.hf_config, splits=dataset.splits, load_kwargs=load_kwargs)


def register(
    datasets: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
    data_files: Mapping[str, Mapping[str, str]] | None = None,
    vocabulary: seqio.Vocabulary | None = None,
    tfds_data_dir: str | None = None,
    seed: int = 0,
) -> list[str]:
    """Registers `t0_{dataset}_{format}` (nothing is read now).

    Args:
      datasets: names from DATASETS (default all).
      formats: format suffixes, where a family supports them (default all it supports).
      data_files: {dataset: {split: JSON-lines path}} read locally instead of the Hub / TFDS.
      vocabulary: default the byte vocabulary.
      tfds_data_dir: where TFDS keeps prepared data.
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    data_files = dict(data_files or {})
    unknown = sorted(set(data_files) - set(DATASETS_BY_NAME))
    if unknown:
        raise ValueError(f"data_files names unknown T0-SF dataset(s) {unknown}; known: {sorted(DATASETS_BY_NAME)}.")
    return registry.register_datasets(
        DATASETS, datasets, collection=COLLECTION, prefix=PREFIX, formats=formats, vocabulary=vocabulary, seed=seed,
        make_source=lambda d: source_of(d, data_files.get(d.name), tfds_data_dir),
    )


TASKS = register()
