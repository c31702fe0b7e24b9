"""Flan 2021 ("Muffin"): the TFDS datasets of FLAN (Wei et al. 2021) grouped by task cluster.

Each dataset is a `seqio.TfdsDataSource` (by builder name and pinned version) plus a `prepare`
function mapping its fields to the fields of its template family, e.g. RTE's
{sentence1, sentence2, label} -> {premise, hypothesis, options, answer}. Families with a label
set register zs/fs x opt/noopt; open-ended ones zs_noopt and fs_noopt.

A representative subset of FLAN 2021's 62 datasets (those whose TFDS builder exists in the
installed tensorflow_datasets), per cluster:

  nli                    anli r1-r3, rte, cb, mnli, qnli, snli, wnli
  commonsense            copa, hellaswag, piqa, story_cloze
  sentiment              imdb, sst2, yelp
  paraphrase             mrpc, qqp, paws, stsb
  closed_book_qa         arc easy/challenge, natural questions (open), trivia_qa
  struct_to_text         common_gen, dart, e2e, web_nlg
  translation            wmt16 de-en and ro-en, both directions
  reading_comprehension  boolq, drop, multirc, openbookqa, squad v1.1
  coreference            winogrande, wsc, dpr
  summarization          cnn_dailymail, xsum, gigaword, aeslc
  misc                   trec, ag_news

Data is prepared by TFDS (`tfds build` or download to ~/tensorflow_datasets); registration
reads nothing. Examples a prepare function cannot map (e.g. SNLI's unlabeled pairs) are dropped.
"""
import dataclasses
from typing import Any, Callable, Mapping, Sequence

import seqio

from flan_jax.data import registry
from flan_jax.data.templates import Template, TemplateSet

COLLECTION = "flan2021"
PREFIX = "flan2021_"


def t(*pairs: tuple[str, str]) -> tuple[Template, ...]:
    return tuple(Template(i, o) for i, o in pairs)


# ------------------------------------------------------------------ template families (data)
NLI = TemplateSet(t(
    ("{premise}\n\nBased on the paragraph above can we conclude that \"{hypothesis}\"?\n\n{options_}", "{answer}"),
    ("{premise}\n\nCan we draw the following conclusion?\n{hypothesis}\n\n{options_}", "{answer}"),
    ("Premise: {premise}\nHypothesis: {hypothesis}\nDoes the premise entail the hypothesis?\n\n{options_}", "{answer}"),
    ("{premise}\nDoes this next sentence follow, given the preceding text?\n{hypothesis}\n\n{options_}", "{answer}"),
    ("Read the text and determine if the sentence is true:\n\n{premise}\n\nSentence: {hypothesis}\n{options_}", "{answer}"),
    ("Can we draw the following hypothesis from the context?\n\nContext:\n\n{premise}\n\nHypothesis: {hypothesis}\n{options_}", "{answer}"),
    ("Determine if the sentence is true based on the text below:\n{hypothesis}\n\n{premise}\n{options_}", "{answer}"),
    ("{premise}\n\nIs it true that {hypothesis}?\n{options_}", "{answer}"),
    ("Given \"{premise}\", is \"{hypothesis}\" a valid inference?\n{options_}", "{answer}"),
), options_field="options")

SENTIMENT = TemplateSet(t(
    ("{text}\nWhat is the sentiment of this review?\n{options_}", "{answer}"),
    ("{text}\nDid this review think positively or negatively of the movie?\n{options_}", "{answer}"),
    ("Review: {text}\nIs this review positive or negative?\n{options_}", "{answer}"),
    ("How would one describe the sentiment of this text?\n{text}\n{options_}", "{answer}"),
    ("Determine the sentiment:\n\n{text}\n{options_}", "{answer}"),
    ("{text}\n\nChoose your answer. How does the reviewer feel?\n{options_}", "{answer}"),
    ("Is the sentiment of the following text positive or negative?\n{text}\n{options_}", "{answer}"),
    ("Text: {text}\nWhat is the tone of this text?\n{options_}", "{answer}"),
), options_field="options")

PARAPHRASE = TemplateSet(t(
    ("Here are two sentences:\n{sentence1}\n{sentence2}\nDo they have the same meaning?\n{options_}", "{answer}"),
    ("Sentence 1: {sentence1}\nSentence 2: {sentence2}\nAre these two sentences paraphrases of each other?\n{options_}", "{answer}"),
    ("Do the following two sentences mean the same thing?\n{sentence1}\n{sentence2}\n\n{options_}", "{answer}"),
    ("{sentence1}\n{sentence2}\nAre these two sentences saying the same thing?\n{options_}", "{answer}"),
    ("Are the following two sentences semantically equivalent?\n\"{sentence1}\"\n\"{sentence2}\"\n{options_}", "{answer}"),
    ("Does \"{sentence1}\" convey the same information as \"{sentence2}\"?\n{options_}", "{answer}"),
    ("First: {sentence1}\nSecond: {sentence2}\nWould you say these are paraphrases?\n{options_}", "{answer}"),
    ("Rate how similar these are.\n{sentence1}\n{sentence2}\n{options_}", "{answer}"),
), options_field="options")

CLOSED_BOOK_QA = TemplateSet(t(
    ("{question}", "{answer}"),
    ("Answer the following question: {question}", "{answer}"),
    ("Q: {question}\nA:", "{answer}"),
    ("Question: {question}\nAnswer:", "{answer}"),
    ("Please answer this question: {question}", "{answer}"),
    ("What is the answer to this question? {question}", "{answer}"),
    ("Answer this question.\n\n{question}", "{answer}"),
    ("Write the answer: {question}", "{answer}"),
))

MULTIPLE_CHOICE_QA = TemplateSet(t(
    ("{question}\n\n{options_}", "{answer}"),
    ("Question: {question}\nWhat is the correct answer to the question from the following choices?\n{options_}", "{answer}"),
    ("Q: {question}\n{options_}\nA:", "{answer}"),
    ("Pick the answer to this question.\n{question}\n{options_}", "{answer}"),
    ("{question}\nWhich is the correct answer?\n{options_}", "{answer}"),
    ("Answer the following multiple-choice question.\n{question}\n{options_}", "{answer}"),
), options_field="options")

READING_QA = TemplateSet(t(
    ("{context}\n\nAnswer a question about this article:\n{question}", "{answer}"),
    ("Read this and answer the question.\n\n{context}\n\n{question}", "{answer}"),
    ("{context}\nQ: {question}\nA:", "{answer}"),
    ("Answer the question based on the passage.\nPassage: {context}\nQuestion: {question}", "{answer}"),
    ("Context: {context}\n\nQuestion: {question}\n\nAnswer:", "{answer}"),
    ("{question}\nFind the answer in this text:\n{context}", "{answer}"),
))

READING_YES_NO = TemplateSet(t(
    ("{context}\n\nCan we conclude that {question}?\n{options_}", "{answer}"),
    ("{context}\nBased on the passage, {question}?\n{options_}", "{answer}"),
    ("Read the text and answer the question.\n{context}\nQuestion: {question}?\n{options_}", "{answer}"),
    ("Passage: {context}\nAfter reading this passage, is the answer to \"{question}\" true?\n{options_}", "{answer}"),
    ("{context}\n\nIs the following statement correct based on the text?\n{question}\n{options_}", "{answer}"),
), options_field="options")

CONTINUATION = TemplateSet(t(
    ("{context}\n\n{question}\n{options_}", "{answer}"),
    ("Pick the most sensible option.\n{context}\n{question}\n{options_}", "{answer}"),
    ("Context: {context}\n{question}\nChoose one:\n{options_}", "{answer}"),
    ("{context}\nWhich of the following is the best answer to \"{question}\"?\n{options_}", "{answer}"),
    ("Complete the description with the most likely option.\n{context}\n{options_}", "{answer}"),
), options_field="options")

COREFERENCE = TemplateSet(t(
    ("{sentence}\n\n{question}\n{options_}", "{answer}"),
    ("Read this sentence and answer the question.\n{sentence}\n{question}\n{options_}", "{answer}"),
    ("Sentence: {sentence}\nQuestion: {question}\n{options_}", "{answer}"),
    ("{question}\n\"{sentence}\"\n{options_}", "{answer}"),
), options_field="options")

SUMMARIZATION = TemplateSet(t(
    ("{text}\n\nWrite a summary of the text above.", "{summary}"),
    ("Article: {text}\n\nSummarize the article.", "{summary}"),
    ("Summarize this:\n\n{text}", "{summary}"),
    ("{text}\nTL;DR:", "{summary}"),
    ("Write a short summary for this text: {text}", "{summary}"),
))

STRUCT_TO_TEXT = TemplateSet(t(
    ("Data: {data}\n\nWrite a sentence that describes this data.", "{answer}"),
    ("Generate a sentence about this data: {data}", "{answer}"),
    ("{data}\n\nWhat is a sentence that expresses these facts?", "{answer}"),
    ("Write a sentence using all of these: {data}", "{answer}"),
))

TRANSLATION = TemplateSet(t(
    ("{source}\n\nTranslate to {target_lang}.", "{answer}"),
    ("Translate the following sentence to {target_lang}:\n{source}", "{answer}"),
    ("How is \"{source}\" said in {target_lang}?", "{answer}"),
    ("{source_lang}: {source}\n{target_lang}:", "{answer}"),
))

TOPIC = TemplateSet(t(
    ("{text}\n\nWhat is this text about?\n{options_}", "{answer}"),
    ("Which topic is this article about?\n\n{text}\n{options_}", "{answer}"),
    ("Classify this text: {text}\n{options_}", "{answer}"),
    ("{text}\nWhich category best describes it?\n{options_}", "{answer}"),
), options_field="options")


# ------------------------------------------------------------------ field mappings
YES_NO = ["yes", "no"]
NLI3 = ["yes", "it is not possible to tell", "no"]


def _label(options: Sequence[str], label: Any) -> str | None:
    return options[label] if isinstance(label, int) and 0 <= label < len(options) else None


def _with_answer(fields: dict, options: Sequence[str], label: Any) -> dict | None:
    answer = _label(options, label)
    return None if answer is None else {**fields, "options": list(options), "answer": answer}


def nli(premise: str, hypothesis: str, labels: Sequence[str]) -> Callable[[dict], dict | None]:
    """NLI mapping; `labels[i]` is the answer for TFDS label i."""
    return lambda ex: _with_answer({"premise": ex[premise], "hypothesis": ex[hypothesis]}, labels, ex["label"])


def sentiment(field: str = "text") -> Callable[[dict], dict | None]:
    return lambda ex: _with_answer({"text": ex[field]}, ["negative", "positive"], ex["label"])


def paraphrase(first: str = "sentence1", second: str = "sentence2") -> Callable[[dict], dict | None]:
    return lambda ex: _with_answer({"sentence1": ex[first], "sentence2": ex[second]}, ["no", "yes"], ex["label"])


def _stsb(ex):
    return {"sentence1": ex["sentence1"], "sentence2": ex["sentence2"], "options": [str(i) for i in range(6)],
            "answer": str(min(5, max(0, round(float(ex["label"])))))}


def _choices(question: str, options: Sequence[str], label: Any) -> dict | None:
    options = [o for o in options if o]
    if len(set(options)) != len(options):
        return None
    return _with_answer({"question": question}, options, label)


def _arc(ex):
    return _choices(ex["question"], ex["choices"]["text"], ex["answerKey"])


def _openbookqa(ex):
    q = ex["question"]
    return _choices(q["stem"], [q[f"choice_{c}"] for c in "ABCD"], ex["answerKey"])


def _first(values: Any) -> str | None:
    values = [v for v in (values if isinstance(values, list) else [values]) if v]
    return values[0] if values else None


def _open_qa(question_key: str, answer_fn: Callable[[dict], Any]) -> Callable[[dict], dict | None]:
    def prepare(ex):
        answer = _first(answer_fn(ex))
        return None if answer is None else {"question": ex[question_key], "answer": answer}
    return prepare


def _reading(context: str, question: str, answer_fn: Callable[[dict], Any]) -> Callable[[dict], dict | None]:
    def prepare(ex):
        answer = _first(answer_fn(ex))
        return None if answer is None else {"context": ex[context], "question": ex[question], "answer": answer}
    return prepare


def _boolq(ex):
    return _with_answer({"context": ex["passage"], "question": ex["question"]}, ["no", "yes"], ex["label"])


def _multirc(ex):
    question = f"{ex['question']} Is \"{ex['answer']}\" a correct answer"
    return _with_answer({"context": ex["paragraph"], "question": question}, ["no", "yes"], ex["label"])


def _copa(ex):
    question = "What was the cause?" if ex["question"] == "cause" else "What happened as a result?"
    return _with_answer({"context": ex["premise"], "question": question}, [ex["choice1"], ex["choice2"]], ex["label"])


def _endings(context: str, question: str) -> Callable[[dict], dict | None]:
    def prepare(ex):
        endings = list(ex["endings"])
        if len(set(endings)) != len(endings):
            return None
        return _with_answer({"context": ex[context], "question": question}, endings, ex["label"])
    return prepare


def _piqa(ex):
    return _with_answer({"context": f"Goal: {ex['goal']}", "question": "Which solution achieves the goal?"},
                        [ex["sol1"], ex["sol2"]], ex["label"])


def _winogrande(ex):
    options = [ex["option1"], ex["option2"]]
    return _with_answer({"sentence": ex["sentence"], "question": "What does the _ in the sentence refer to?"},
                        options, ex["label"]) if len(set(options)) == 2 else None


def _wsc(ex):
    question = f"In the sentence, does \"{ex['span2_text']}\" refer to \"{ex['span1_text']}\"?"
    return _with_answer({"sentence": ex["text"], "question": question}, ["no", "yes"], ex["label"])


def _dpr(ex):
    options = list(ex["candidates"])
    if len(set(options)) != len(options):
        return None
    return _with_answer({"sentence": ex["sentence"], "question": f"Who or what does \"{ex['pronoun']}\" refer to?"},
                        options, ex["label"])


def _summary(text: str, summary: str) -> Callable[[dict], dict | None]:
    return lambda ex: {"text": ex[text], "summary": ex[summary]} if ex[text] and ex[summary] else None


def _table(ex):
    rows = ex["input_text"]["table"]
    data = ", ".join(f"{h} = {c}" for h, c in zip(rows["column_header"], rows["content"]))
    return {"data": data, "answer": ex["target_text"]} if data and ex["target_text"] else None


def _common_gen(ex):
    return {"data": ", ".join(ex["concepts"]), "answer": ex["target"]} if ex["target"] else None


LANGUAGES = {"de": "German", "ro": "Romanian", "en": "English"}


def _translate(src: str, tgt: str) -> Callable[[dict], dict | None]:
    return lambda ex: {"source_lang": LANGUAGES[src], "target_lang": LANGUAGES[tgt], "source": ex[src],
                       "answer": ex[tgt]} if ex[src] and ex[tgt] else None


def _topic(options: Sequence[str], text_fn: Callable[[dict], str], label_key: str = "label"):
    return lambda ex: _with_answer({"text": text_fn(ex)}, options, ex[label_key])


AG_NEWS = ["World", "Sports", "Business", "Science/Tech"]
TREC_COARSE = ["description", "entity", "abbreviation", "human", "number", "location"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One FLAN 2021 dataset: TFDS builder, cluster, template family and field mapping."""

    name: str
    tfds_name: str
    cluster: str
    templates: TemplateSet
    fields: tuple[str, ...]
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None]
    splits: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"train": "train", "validation": "validation"})


F_NLI = ("premise", "hypothesis", "options", "answer")
F_SENT = ("text", "options", "answer")
F_PARA = ("sentence1", "sentence2", "options", "answer")
F_CBQA = ("question", "answer")
F_MCQA = ("question", "options", "answer")
F_RC = ("context", "question", "answer")
F_RCYN = ("context", "question", "options", "answer")
F_CONT = ("context", "question", "options", "answer")
F_COREF = ("sentence", "question", "options", "answer")
F_SUM = ("text", "summary")
F_S2T = ("data", "answer")
F_TR = ("source_lang", "target_lang", "source", "answer")
F_TOPIC = ("text", "options", "answer")
TEST = {"train": "train", "validation": "test"}

DATASETS: tuple[Dataset, ...] = (
    *(Dataset(f"anli_{r}", f"anli/{r}:0.1.0", "nli", NLI, F_NLI, nli("context", "hypothesis", NLI3)) for r in ("r1", "r2", "r3")),
    Dataset("rte", "glue/rte:2.0.0", "nli", NLI, F_NLI, nli("sentence1", "sentence2", YES_NO)),
    Dataset("cb", "super_glue/cb:1.0.2", "nli", NLI, F_NLI, nli("premise", "hypothesis", ["yes", "no", "it is not possible to tell"])),
    Dataset("mnli", "glue/mnli:2.0.0", "nli", NLI, F_NLI, nli("premise", "hypothesis", NLI3),
            {"train": "train", "validation": "validation_matched"}),
    Dataset("qnli", "glue/qnli:2.0.0", "nli", NLI, F_NLI, nli("sentence", "question", YES_NO)),
    Dataset("snli", "snli:1.1.0", "nli", NLI, F_NLI, nli("premise", "hypothesis", NLI3)),
    Dataset("wnli", "glue/wnli:2.0.0", "nli", NLI, F_NLI, nli("sentence1", "sentence2", ["no", "yes"])),
    Dataset("copa", "super_glue/copa:1.0.2", "commonsense", CONTINUATION, F_CONT, _copa),
    Dataset("hellaswag", "hellaswag:1.1.0", "commonsense", CONTINUATION, F_CONT, _endings("context", "What happens next?")),
    Dataset("piqa", "piqa:1.0.0", "commonsense", CONTINUATION, F_CONT, _piqa),
    # Story Cloze has no train split; FLAN trained on its validation set (manual download).
    Dataset("story_cloze", "story_cloze/2016:1.0.0", "commonsense", CONTINUATION, F_CONT,
            _endings("context", "What is the best ending of the story?"), {"train": "validation", "validation": "test"}),
    Dataset("imdb", "imdb_reviews/plain_text:1.0.0", "sentiment", SENTIMENT, F_SENT, sentiment(), TEST),
    Dataset("sst2", "glue/sst2:2.0.0", "sentiment", SENTIMENT, F_SENT, sentiment("sentence")),
    Dataset("yelp", "yelp_polarity_reviews:0.2.0", "sentiment", SENTIMENT, F_SENT, sentiment(), TEST),
    Dataset("mrpc", "glue/mrpc:2.0.0", "paraphrase", PARAPHRASE, F_PARA, paraphrase()),
    Dataset("qqp", "glue/qqp:2.0.0", "paraphrase", PARAPHRASE, F_PARA, paraphrase("question1", "question2")),
    Dataset("paws", "paws_wiki/labeled_final_raw:1.1.0", "paraphrase", PARAPHRASE, F_PARA, paraphrase()),
    Dataset("stsb", "glue/stsb:2.0.0", "paraphrase", PARAPHRASE, F_PARA, _stsb),
    Dataset("arc_easy", "ai2_arc/ARC-Easy:1.0.0", "closed_book_qa", MULTIPLE_CHOICE_QA, F_MCQA, _arc),
    Dataset("arc_challenge", "ai2_arc/ARC-Challenge:1.0.0", "closed_book_qa", MULTIPLE_CHOICE_QA, F_MCQA, _arc),
    Dataset("natural_questions", "natural_questions_open:1.0.0", "closed_book_qa", CLOSED_BOOK_QA, F_CBQA,
            _open_qa("question", lambda ex: ex["answer"])),
    Dataset("trivia_qa", "trivia_qa/rc.nocontext:1.1.0", "closed_book_qa", CLOSED_BOOK_QA, F_CBQA,
            _open_qa("question", lambda ex: ex["answer"]["value"])),
    Dataset("common_gen", "gem/common_gen:1.1.0", "struct_to_text", STRUCT_TO_TEXT, F_S2T, _common_gen),
    Dataset("dart", "dart:0.1.0", "struct_to_text", STRUCT_TO_TEXT, F_S2T, _table),
    Dataset("e2e", "e2e_cleaned:0.1.0", "struct_to_text", STRUCT_TO_TEXT, F_S2T, _table),
    Dataset("web_nlg", "web_nlg:0.1.0", "struct_to_text", STRUCT_TO_TEXT, F_S2T, _table),
    *(Dataset(f"wmt16_{a}_{b}", f"wmt16_translate/{pair}:1.0.0", "translation", TRANSLATION, F_TR, _translate(a, b))
      for pair in ("de-en", "ro-en") for a, b in (pair.split("-"), pair.split("-")[::-1])),
    Dataset("boolq", "super_glue/boolq:1.0.2", "reading_comprehension", READING_YES_NO, F_RCYN, _boolq),
    Dataset("drop", "drop:2.0.0", "reading_comprehension", READING_QA, F_RC,
            _reading("passage", "question", lambda ex: ex["answer"]), {"train": "train", "validation": "dev"}),
    Dataset("multirc", "super_glue/multirc:1.0.2", "reading_comprehension", READING_YES_NO, F_RCYN, _multirc),
    Dataset("openbookqa", "openbookqa:0.1.0", "reading_comprehension", MULTIPLE_CHOICE_QA, F_MCQA, _openbookqa),
    Dataset("squad_v1", "squad/v1.1:3.0.0", "reading_comprehension", READING_QA, F_RC,
            _reading("context", "question", lambda ex: ex["answers"]["text"])),
    Dataset("winogrande", "winogrande:1.2.0", "coreference", COREFERENCE, F_COREF, _winogrande,
            {"train": "train_xl", "validation": "validation"}),
    Dataset("wsc", "super_glue/wsc.fixed:1.0.2", "coreference", COREFERENCE, F_COREF, _wsc),
    Dataset("dpr", "definite_pronoun_resolution:1.1.0", "coreference", COREFERENCE, F_COREF, _dpr, TEST),
    Dataset("cnn_dailymail", "cnn_dailymail:3.4.0", "summarization", SUMMARIZATION, F_SUM, _summary("article", "highlights")),
    Dataset("xsum", "xsum:1.1.0", "summarization", SUMMARIZATION, F_SUM, _summary("document", "summary")),
    Dataset("gigaword", "gigaword:1.2.0", "summarization", SUMMARIZATION, F_SUM, _summary("document", "summary")),
    Dataset("aeslc", "aeslc:1.0.0", "summarization", SUMMARIZATION, F_SUM, _summary("email_body", "subject_line")),
    Dataset("trec", "trec:1.0.0", "misc", TOPIC, F_TOPIC, _topic(TREC_COARSE, lambda ex: ex["text"], "label-coarse"), TEST),
    Dataset("ag_news", "ag_news_subset:1.0.0", "misc", TOPIC, F_TOPIC,
            _topic(AG_NEWS, lambda ex: f"{ex['title']}\n\n{ex['description']}"), TEST),
)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}


def register(
    datasets: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
    vocabulary: seqio.Vocabulary | None = None,
    tfds_data_dir: str | None = None,
    seed: int = 0,
) -> list[str]:
    """Registers `flan2021_{dataset}_{format}` for each dataset (nothing is read now).

    Args:
      datasets: names from DATASETS (default all).
      formats: format suffixes, where a family supports them (default all it supports).
      vocabulary: default the byte vocabulary.
      tfds_data_dir: where TFDS keeps prepared data (default TFDS's own).
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    return registry.register_datasets(
        DATASETS, datasets, collection=COLLECTION, prefix=PREFIX, formats=formats, vocabulary=vocabulary, seed=seed,
        make_source=lambda d: seqio.TfdsDataSource(tfds_name=d.tfds_name, tfds_data_dir=tfds_data_dir,
                                                   splits=dict(d.splits)),
    )


TASKS = register()
