"""Flan 2021 ("Muffin"): the TFDS datasets of FLAN (Wei et al. 2021) grouped by task cluster.

Each dataset is a `seqio.TfdsDataSource` (by builder name and pinned version) plus a `prepare`
function mapping its fields to the fields of its template family (`families.py`), e.g. RTE's
{sentence1, sentence2, label} -> {premise, hypothesis, options, answer}. Families with a label
set register zs/fs x opt/noopt; open-ended ones zs_noopt and fs_noopt; every family also has
input-inversion templates (`_inv`), one "Inverted ..." task per dataset in the Flan 2022 list.

The datasets of the Flan 2022 collection's list (`flan-jax tasks coverage`) from its FLAN and
FLAN/T0 sources, per cluster:

  nli                    anli r1-r3, rte, cb, mnli, qnli, snli, wnli
  commonsense            copa, hellaswag, piqa, story_cloze
  sentiment              imdb, sst2, yelp, sentiment140
  paraphrase             mrpc, qqp, paws, stsb
  closed_book_qa         arc easy/challenge, natural questions (open), trivia_qa, trivia_qa_wiki_missing,
                         unified_qa_science_inst
  struct_to_text         common_gen, dart, e2e, web_nlg
  translation            wmt16 cs/de/fi/ro/ru/tr-en, wmt14 fr-en, para_crawl en-es; both directions
  reading_comprehension  boolq, drop, multirc, openbookqa, squad v1.1 and v2.0, coqa, quac, record,
                         cosmos_qa
  coreference            winogrande, wsc, dpr
  summarization          cnn_dailymail, xsum, gigaword, aeslc, multi_news, newsroom, samsum,
                         wiki_lingua_english_en, opinion_abstracts idebate and rotten_tomatoes
  misc                   trec, ag_news, cola, wic, lambada, math_dataset, true_case, fix_punct,
                         word_segment

Data is prepared by TFDS (`tfds build` or
download to ~/tensorflow_datasets; newsroom and story_cloze need a manual download); registration
reads nothing. Examples a prepare function cannot map (e.g. SNLI's unlabeled pairs) are dropped.
"""
import dataclasses
import re
from typing import Any, Callable, Mapping, Sequence

import seqio

from flan_jax.data import registry
from flan_jax.data.templates import TemplateSet
from flan_jax_tasks.families import (
    ACCEPTABILITY, CASING, CLOSED_BOOK_QA, CONTINUATION, CONVERSATIONAL_QA, COREFERENCE, LANGUAGE_MODELING, MATH_QA,
    MULTIPLE_CHOICE, MULTIPLE_CHOICE_QA, NLI, OPINION_SUMMARY, PARAPHRASE, PLACEHOLDER_QA, PUNCTUATION, READING_QA, READING_YES_NO,
    SENTIMENT, STRUCT_TO_TEXT, SUMMARIZATION, TOPIC, TRANSLATION, WORD_SEGMENTATION, WORD_SENSE)

COLLECTION = "flan2021"
PREFIX = "flan2021_"


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


LANGUAGES = {"cs": "Czech", "de": "German", "en": "English", "es": "Spanish", "fi": "Finnish", "fr": "French",
             "ro": "Romanian", "ru": "Russian", "tr": "Turkish"}


def _translate(src: str, tgt: str) -> Callable[[dict], dict | None]:
    return lambda ex: {"source_lang": LANGUAGES[src], "target_lang": LANGUAGES[tgt], "source": ex[src],
                       "answer": ex[tgt]} if ex[src] and ex[tgt] else None


def _topic(options: Sequence[str], text_fn: Callable[[dict], str], label_key: str = "label"):
    return lambda ex: _with_answer({"text": text_fn(ex)}, options, ex[label_key])


AG_NEWS = ["World", "Sports", "Business", "Science/Tech"]
TREC_COARSE = ["description", "entity", "abbreviation", "human", "number", "location"]


def _numbered(items: Sequence[str]) -> str:
    """["a", "b"] -> "1. a\n2. b"."""
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def _coqa(ex):
    questions, answers = ex["questions"], ex["answers"]["input_text"]
    if not questions or len(questions) != len(answers):
        return None
    return {"context": ex["story"], "questions": _numbered(questions), "answers": _numbered(answers)}


def _quac(ex):
    # QuAC marks unanswerable questions with the answer text "CANNOTANSWER": nothing to learn from.
    answer = ex["orig_answer"]["text"].strip()
    if not answer or answer == "CANNOTANSWER":
        return None
    context = f"{ex['title']}: {ex['section_title']}\n{ex['background']}\n\n{ex['context'].replace('CANNOTANSWER', '').strip()}"
    return {"context": context, "question": ex["question"], "answer": answer}


def _squad_v2(ex):
    answers = [a for a in ex["answers"]["text"] if a]
    # The Flan recipe's target for SQuAD 2.0's unanswerable questions.
    answer = "unanswerable" if ex["is_impossible"] or not answers else answers[0]
    return {"context": ex["context"], "question": ex["question"], "answer": answer}


# ReCoRD passages name up to ~50 entities; options are lettered up to "Z" (templates.letter_for).
MAX_OPTIONS = 26


def _record(ex):
    left, placeholder, right = ex["query"].partition("@placeholder")
    options = list(dict.fromkeys(ex["entities"]))  # unique, first-seen order
    if not placeholder or not ex["answers"] or ex["answers"][0] not in options or len(options) > MAX_OPTIONS:
        return None
    answer = ex["answers"][0]
    return {"passage": ex["passage"].split("\n@highlight")[0].strip(), "query": ex["query"], "options": options,
            "answer": answer, "statement": f"{left}{answer}{right}".strip()}


def _cosmos_qa(ex):
    options = [ex[f"answer{i}"] for i in range(4)]
    if len(set(options)) != len(options):
        return None
    return _with_answer({"context": ex["context"], "question": ex["question"]}, options, ex["label"])


def _wic(ex):
    return _with_answer({"sentence1": ex["sentence1"], "sentence2": ex["sentence2"], "word": ex["word"]},
                        ["different meanings", "the same meaning"], ex["label"])


def _cola(ex):
    return _with_answer({"sentence": ex["sentence"]}, ["unacceptable", "acceptable"], ex["label"])


def _lambada(ex):
    context, _, last = ex["passage"].strip().rpartition(" ")
    return {"context": context, "answer": last} if context and last else None


def _math(ex):
    question, answer = ex["question"].strip(), ex["answer"].strip()
    return {"question": question, "answer": answer} if question and answer else None


def _sentiment140(ex):
    # Polarity 0 is negative and 4 positive; 2 (neutral) exists only in the test split.
    label = {0: 0, 4: 1}.get(ex["polarity"])
    return _with_answer({"text": ex["text"]}, ["negative", "positive"], label)


OPTION_LETTERS = re.compile(r"\(([A-E])\)\s*")


def _science_inst(ex):
    """UnifiedQA's "question \\n (A) x (B) y (C) z (D) w" -> question, the four options, the answer."""
    parts = OPTION_LETTERS.split(ex["input"].replace("\\n", "\n"))
    question, letters, options = parts[0].strip(), parts[1::2], [o.strip() for o in parts[2::2]]
    if letters != ["A", "B", "C", "D"]:
        return None  # as in Flan: exactly four options
    return _choices(question, options, _index(ex["output"].strip(), options))


def _index(value: str, options: Sequence[str]) -> int | None:
    return list(options).index(value) if value in options else None


def _trivia_qa_wiki_missing(ex):
    """TriviaQA questions without Wikipedia evidence (our reading of the list's name: see DATASETS)."""
    if ex["entity_pages"]["title"]:
        return None
    return _open_qa("question", lambda ex: ex["answer"]["value"])(ex)


PUNCTUATION_MARKS = re.compile(r"[^\w\s]")


def _text_pair(strip: Callable[[str], str]) -> Callable[[dict], dict | None]:
    """ParaCrawl's English side as {text: strip(sentence), answer: sentence}, when stripping changes it."""
    def prepare(ex):
        sentence = ex["en"].strip()
        text = strip(sentence)
        return {"text": text, "answer": sentence} if sentence and text != sentence else None
    return prepare


def _opinions(topic: Callable[[dict], str], opinions_key: str, summary_key: str) -> Callable[[dict], dict | None]:
    """Opinion Abstracts: up to ten opinions (the Flan recipe's cut) and their one-line summary."""
    def prepare(ex):
        opinions = [o for o in ex[opinions_key]["value"][:10] if o]
        summary = ex[summary_key].strip()
        return {"topic": topic(ex), "opinions": _numbered(opinions), "summary": summary} if opinions and summary else None
    return prepare


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
F_ACCEPT = ("sentence", "options", "answer")
F_WIC = ("sentence1", "sentence2", "word", "options", "answer")
F_LM = ("context", "answer")
F_TEXT = ("text", "answer")
F_CONVQA = ("context", "questions", "answers")
F_RECORD = ("passage", "query", "options", "answer", "statement")
F_OPINION = ("topic", "opinions", "summary")
TEST = {"train": "train", "validation": "test"}
TRAIN_ONLY = {"train": "train"}
# true_case, fix_punct and word_segment each read their own third of ParaCrawl en-da, as Flan gave
# each its own slice of it (flan/v2/task_configs_v1.py), so no sentence appears in two of them.
PARACRAWL_ENDA = "para_crawl/enda:1.2.0"

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
      for pair in ("cs-en", "de-en", "fi-en", "ro-en", "ru-en", "tr-en") for a, b in (pair.split("-"), pair.split("-")[::-1])),
    *(Dataset(f"wmt14_{a}_{b}", "wmt14_translate/fr-en:1.0.0", "translation", TRANSLATION, F_TR, _translate(a, b))
      for a, b in (("fr", "en"), ("en", "fr"))),
    *(Dataset(f"para_crawl_{a}_{b}", "para_crawl/enes:1.2.0", "translation", TRANSLATION, F_TR, _translate(a, b),
              TRAIN_ONLY) for a, b in (("en", "es"), ("es", "en"))),
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
    # Added for the Flan 2022 collection's list (flan_collection_info.csv): builders and versions
    # as in google-research/FLAN flan/v2/task_configs_v1.py where installed TFDS has them.
    Dataset("cola", "glue/cola:2.0.0", "misc", ACCEPTABILITY, F_ACCEPT, _cola),
    Dataset("wic", "super_glue/wic:1.0.2", "misc", WORD_SENSE, F_WIC, _wic),
    Dataset("sentiment140", "sentiment140:1.0.0", "sentiment", SENTIMENT, F_SENT, _sentiment140, TEST),
    Dataset("lambada", "lambada:1.0.0", "misc", LANGUAGE_MODELING, F_LM, _lambada, TEST),
    Dataset("math_dataset", "math_dataset/algebra__linear_1d:1.0.0", "misc", MATH_QA, F_CBQA, _math, TEST),
    Dataset("true_case", PARACRAWL_ENDA, "misc", CASING, F_TEXT, _text_pair(str.lower), {"train": "train[:33%]"}),
    Dataset("fix_punct", PARACRAWL_ENDA, "misc", PUNCTUATION, F_TEXT,
            _text_pair(lambda s: PUNCTUATION_MARKS.sub("", s)), {"train": "train[33%:66%]"}),
    Dataset("word_segment", PARACRAWL_ENDA, "misc", WORD_SEGMENTATION, F_TEXT,
            _text_pair(lambda s: s.replace(" ", "")), {"train": "train[66%:]"}),
    Dataset("unified_qa_science_inst", "unified_qa/ai2_science_middle:1.0.0", "closed_book_qa", MULTIPLE_CHOICE_QA,
            F_MCQA, _science_inst),
    # The list's "trivia_qa_wiki_missing" is defined nowhere public (google-research/FLAN only routes
    # the name to trivia_qa's templates, flan/v2/utils.py); we read it as the TriviaQA questions whose
    # Wikipedia evidence is missing (no entity pages), asked closed-book.
    Dataset("trivia_qa_wiki_missing", "trivia_qa/rc:1.1.0", "closed_book_qa", CLOSED_BOOK_QA, F_CBQA,
            _trivia_qa_wiki_missing),
    # FLAN/T0: in both; the Flan 2022 mixture takes it with Flan 2021 (T0 submixture filter `in_flan`).
    Dataset("cosmos_qa", "cosmos_qa:1.0.0", "reading_comprehension", MULTIPLE_CHOICE, F_CONT, _cosmos_qa),
    Dataset("coqa", "coqa:1.0.0", "reading_comprehension", CONVERSATIONAL_QA, F_CONVQA, _coqa, TEST),
    Dataset("quac", "quac:1.0.0", "reading_comprehension", READING_QA, F_RC, _quac),
    Dataset("squad_v2", "squad/v2.0:3.0.0", "reading_comprehension", READING_QA, F_RC, _squad_v2),
    Dataset("record", "super_glue/record:1.0.2", "reading_comprehension", PLACEHOLDER_QA, F_RECORD, _record),
    Dataset("multi_news", "multi_news:2.1.0", "summarization", SUMMARIZATION, F_SUM, _summary("document", "summary")),
    Dataset("newsroom", "newsroom:1.0.0", "summarization", SUMMARIZATION, F_SUM, _summary("text", "summary")),
    Dataset("samsum", "samsum:1.0.0", "summarization", SUMMARIZATION, F_SUM, _summary("dialogue", "summary")),
    Dataset("wiki_lingua_english_en", "gem/wiki_lingua_english_en:1.1.0", "summarization", SUMMARIZATION, F_SUM,
            _summary("source", "target")),
    Dataset("opinion_abstracts_idebate", "opinion_abstracts/idebate:1.0.0", "summarization", OPINION_SUMMARY,
            F_OPINION, _opinions(lambda ex: ex["_debate_name"], "_argument_sentences", "_claim"), TRAIN_ONLY),
    Dataset("opinion_abstracts_rotten_tomatoes", "opinion_abstracts/rotten_tomatoes:1.0.0", "summarization",
            OPINION_SUMMARY, F_OPINION,
            _opinions(lambda ex: ex["_movie_name"].replace("_", " "), "_critics", "_critic_consensus"), TRAIN_ONLY),
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
