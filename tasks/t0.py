"""T0-SF: P3 / promptsource-style datasets that Flan 2021 lacks (Sanh et al. 2021; Longpre et al.
2023, Table 1), prompted with promptsource-like wordings (our own).

Sources: TFDS where a builder exists (cos_e, qasc, web_questions, wiki_bio), otherwise
Hugging Face datasets by Hub name through `flan_jax.data.sources.HfDatasetSource` (the `datasets`
package is needed only to read them: `pip install datasets`). `register(data_files={name: {split:
path}})` reads local JSON-lines copies instead (same fields as the Hub dataset), e.g. for offline
machines and tests.

  extractive_qa         adversarial_qa, quoref, duorc (SelfRC), duorc_paraphrase_rc, ropes
  multiple_choice       social_i_qa, cos_e, quail, wiqa, dream, qasc, quarel, quartz,
                        race_high, race_middle, sciq, wiki_hop
  answer_selection      wiki_qa
  sentiment             amazon_polarity, app_reviews (star rating)
  topic_classification  dbpedia_14
  closed_book_qa        kilt_tasks_hotpotqa, web_questions
  struct_to_text        wiki_bio

Shared families (multiple choice, sentiment, topic, closed-book QA, data-to-text, rating) come from
`families.py`;
T0-SF registers their prompted formats only (`FORMATS`: no input inversion, as in the paper's T0
submixture). Multiple-choice rows with more than 26 options (some WikiHop questions) are dropped:
options are lettered A-Z.

Hub names, checked offline on stored copies of the Hub dataset pages (2026-11): UCLNLP/adversarial_qa
(config adversarialQA), ibm-research/duorc (configs SelfRC and ParaphraseRC; "ibm/duorc" is its old
name, now a redirect), allenai/ropes, textmachinelab/quail, microsoft/wiki_qa, fancyzhx/amazon_polarity
and fancyzhx/dbpedia_14 (configs of the same names), sealuzh/app_reviews, facebook/kilt_tasks (config
hotpotqa), community-datasets/quarel, allenai/quartz and allenai/sciq are Parquet datasets on their
main branch. allenai/quoref, allenai/social_i_qa, allenai/wiqa and dataset-org/dream (config
plain_text) still hold only a loading script there, which `datasets` >= 4 refuses to run ("Dataset
scripts are no longer supported"); they, and ehovy/race (configs high, middle) and
community-datasets/qangaroo (config wikihop), whose main branch the stored pages did not show, are
read from the Hub's own Parquet export of the same data (revision "refs/convert/parquet", present
for script and Parquet datasets alike), which keeps the fields. TFDS: cos_e 0.0.1,
qasc 0.1.0, web_questions 1.0.0 and wiki_bio 0.1.0 are the installed builders' versions.
"""
import dataclasses
import re
from typing import Any, Callable, Mapping, Sequence

import seqio

from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet, stable_hash
from flan_jax_tasks.families import (
    CLOSED_BOOK_QA, MULTIPLE_CHOICE, MULTIPLE_CHOICE_QA, RATING, SENTIMENT, STRUCT_TO_TEXT, TOPIC)

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

ANSWER_SELECTION = TemplateSet((
    Template("Question: {question}\nI found the following answer on Google: {candidate}\n"
             "Is that a correct answer?\n{options_}", "{answer}"),
    Template("Is \"{candidate}\" a good answer to the question \"{question}\"?\n{options_}", "{answer}"),
    Template("Question: {question}\nCandidate answer: {candidate}\nDoes the candidate answer the question?\n{options_}",
             "{answer}"),
    Template("{question}\nWould \"{candidate}\" be a reasonable answer?\n{options_}", "{answer}"),
), options_field="options")


# Options are lettered up to "Z" (templates.letter_for); WikiHop lists up to 79 candidates.
MAX_OPTIONS = 26


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
        if len(set(opts)) != len(opts) or not isinstance(index, int) or not 0 <= index < len(opts) \
                or len(opts) > MAX_OPTIONS:
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


def _first_output(ex):
    """KILT's answer: the first of its outputs that has one."""
    return _first([o.get("answer") for o in ex["output"]])


def _labelled(options: Sequence[str]) -> Callable[[dict], dict | None]:
    """A classification example: "title\ncontent" and the label's name among `options`."""
    def prepare(ex):
        label = ex["label"]
        if not isinstance(label, int) or not 0 <= label < len(options):
            return None
        return {"text": f"{ex['title']}\n{ex['content']}".strip(), "options": list(options), "answer": options[label]}
    return prepare


DBPEDIA_14 = ("Company", "Educational Institution", "Artist", "Athlete", "Office Holder", "Mean Of Transportation",
              "Building", "Natural Place", "Village", "Animal", "Plant", "Album", "Film", "Written Work")
STARS = ("1", "2", "3", "4", "5")


def _app_review(ex):
    star = str(ex["star"])
    if star not in STARS or not ex["review"].strip():
        return None
    return {"text": ex["review"], "subject": ex["package_name"], "options": list(STARS), "answer": star}


def _open_question(question: Callable[[dict], str], answers: Callable[[dict], Any]):
    def prepare(ex):
        answer = _first(answers(ex))
        return None if answer is None else {"question": question(ex), "answer": answer}
    return prepare


def _wiki_bio(ex):
    table = ex["input_text"]["table"]
    data = ", ".join(f"{h.replace('_', ' ')} = {c}" for h, c in zip(table["column_header"], table["content"])
                     if c and c != "<none>")
    return {"data": data, "answer": ex["target_text"].strip()} if data and ex["target_text"].strip() else None


QUAREL_OPTIONS = re.compile(r"\s*\((A|B)\)\s*")


def _quarel(ex):
    """QuaRel writes its two options into the question: "... (A) more heat (B) less heat"."""
    parts = QUAREL_OPTIONS.split(ex["question"])
    if parts[1::2] != ["A", "B"]:
        return None
    options = parts[2::2]
    if ex["answer_index"] not in (0, 1) or len(set(options)) != 2:
        return None
    return {"question": parts[0], "options": options, "answer": options[ex["answer_index"]]}


def _sciq_options(ex):
    """The correct answer among the distractors, at a position fixed by the question (not always first)."""
    options = [ex["distractor1"], ex["distractor2"], ex["distractor3"]]
    position = stable_hash("sciq", ex["question"]) % 4
    return options[:position] + [ex["correct_answer"]] + options[position:]


def _wiki_hop_question(ex):
    """WikiHop's query "relation subject words" as a question: "country_of_citizenship x" -> "What is the
    country of citizenship of x?"."""
    relation, _, subject = ex["query"].partition(" ")
    return f"What is the {relation.replace('_', ' ')} of {subject}?"


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
F_MCQA = ("question", "options", "answer")
F_CLASS = ("text", "options", "answer")
F_RATING = ("text", "subject", "options", "answer")
F_CBQA = ("question", "answer")
F_S2T = ("data", "answer")
TEST = {"train": "train", "validation": "test"}
# T0-SF trains on prompted examples only: no input-inversion tasks (the shared families have them).
FORMATS = ("zs_opt", "zs_noopt", "fs_opt", "fs_noopt")

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
    Dataset("quail", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: ex["context"], lambda ex: ex["question"], lambda ex: ex["answers"],
                    lambda ex: ex["correct_answer_id"]),
            hf_path="textmachinelab/quail"),
    Dataset("wiqa", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: " ".join(ex["question_para_step"]), lambda ex: ex["question_stem"], _wiqa_options,
                    lambda ex: _index_of(ex["answer_label_as_choice"], ex["choices"]["label"])),
            hf_path="allenai/wiqa", hf_revision=PARQUET_EXPORT),
    Dataset("wiki_qa", "answer_selection", ANSWER_SELECTION, F_SEL, _wiki_qa, hf_path="microsoft/wiki_qa"),
    Dataset("duorc_paraphrase_rc", "extractive_qa", EXTRACTIVE_QA, F_EQA,
            _extractive(lambda ex: ex["plot"], lambda ex: [] if ex.get("no_answer") else ex["answers"]),
            hf_path="ibm-research/duorc", hf_config="ParaphraseRC"),
    Dataset("dream", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: "\n".join(ex["dialogue"]), lambda ex: ex["question"], lambda ex: ex["choice"],
                    lambda ex: _index_of(ex["answer"], ex["choice"])),
            hf_path="dataset-org/dream", hf_config="plain_text", hf_revision=PARQUET_EXPORT),
    Dataset("qasc", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: f"{ex['fact1']} {ex['fact2']}", lambda ex: ex["question"],
                    lambda ex: ex["choices"]["text"], lambda ex: _index_of(ex["answerKey"], ex["choices"]["label"])),
            tfds_name="qasc:0.1.0"),
    # No passage: the question-only family.
    Dataset("quarel", "multiple_choice", MULTIPLE_CHOICE_QA, F_MCQA, _quarel, hf_path="community-datasets/quarel"),
    Dataset("quartz", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: ex["para"], lambda ex: ex["question"], lambda ex: ex["choices"]["text"],
                    lambda ex: _index_of(ex["answerKey"], ex["choices"]["label"])),
            hf_path="allenai/quartz"),
    *(Dataset(f"race_{level}", "multiple_choice", MULTIPLE_CHOICE, F_MC,
              _choice(lambda ex: ex["article"], lambda ex: ex["question"], lambda ex: ex["options"],
                      lambda ex: _index_of(ex["answer"], list("ABCD"))),
              hf_path="ehovy/race", hf_config=level, hf_revision=PARQUET_EXPORT) for level in ("high", "middle")),
    Dataset("sciq", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: ex["support"], lambda ex: ex["question"], _sciq_options,
                    lambda ex: _index_of(ex["correct_answer"], _sciq_options(ex))),
            hf_path="allenai/sciq"),
    Dataset("wiki_hop", "multiple_choice", MULTIPLE_CHOICE, F_MC,
            _choice(lambda ex: "\n\n".join(ex["supports"]), _wiki_hop_question, lambda ex: ex["candidates"],
                    lambda ex: _index_of(ex["answer"], ex["candidates"])),
            hf_path="community-datasets/qangaroo", hf_config="wikihop", hf_revision=PARQUET_EXPORT),
    Dataset("amazon_polarity", "sentiment", SENTIMENT, F_CLASS, _labelled(("negative", "positive")),
            hf_path="fancyzhx/amazon_polarity", hf_config="amazon_polarity", splits=TEST),
    Dataset("app_reviews", "sentiment", RATING, F_RATING, _app_review, hf_path="sealuzh/app_reviews",
            splits={"train": "train"}),
    Dataset("dbpedia_14", "topic_classification", TOPIC, F_CLASS, _labelled(DBPEDIA_14),
            hf_path="fancyzhx/dbpedia_14", hf_config="dbpedia_14", splits=TEST),
    Dataset("kilt_tasks_hotpotqa", "closed_book_qa", CLOSED_BOOK_QA, F_CBQA,
            _open_question(lambda ex: ex["input"], _first_output), hf_path="facebook/kilt_tasks", hf_config="hotpotqa"),
    Dataset("web_questions", "closed_book_qa", CLOSED_BOOK_QA, F_CBQA,
            _open_question(lambda ex: ex["question"], lambda ex: ex["answers"]), tfds_name="web_questions:1.0.0",
            splits=TEST),
    Dataset("wiki_bio", "struct_to_text", STRUCT_TO_TEXT, F_S2T, _wiki_bio, tfds_name="wiki_bio:0.1.0"),
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
      formats: format suffixes, where a family supports them (default FORMATS).
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
        DATASETS, datasets, collection=COLLECTION, prefix=PREFIX, formats=formats or FORMATS, vocabulary=vocabulary,
        seed=seed, make_source=lambda d: source_of(d, data_files.get(d.name), tfds_data_dir),
    )


TASKS = register()
