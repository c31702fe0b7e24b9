"""Answer extraction, normalisation and scores for the held-out benchmarks (Chung et al. 2022, Sec. 2.3).

Every score goes through the same two steps, so `flan-jax eval` and `flan-jax score` agree:

  1. `extract_answer(benchmark, text)`: the model's output -> its final answer
     (the text after "the answer is" for CoT, the option letter for MMLU, the last number for
     MGSM).
  2. `is_correct(benchmark, answer, gold)`: exact match after the benchmark's normalisation
     (`normalize`), against every accepted gold answer.

Aggregates: a benchmark's score is the macro average over its subtasks (TyDiQA leaves English
out, as the paper does); `normalized_average` rescales each benchmark against its random-guess
score as in the paper's Table 5: (score - random) / (100 - random) * 100.
"""
import re
import string
import unicodedata
from typing import Any, Mapping, Sequence

BENCHMARKS = ("mmlu", "mmlu_cot", "bbh", "bbh_cot", "tydiqa", "mgsm")
# The six scores of the paper's "normalized average" (Table 5), in its column order.
NORMALIZED_AVERAGE_BENCHMARKS = BENCHMARKS
# Subtasks reported but left out of a benchmark's average: TyDiQA GoldP averages the
# non-English languages (Chung et al. 2022, Sec. 2.3).
EXCLUDED_FROM_AVERAGE = {"tydiqa": frozenset({"english"})}

_ANSWER_IS = re.compile(r"answer is\s*:?\s*", re.IGNORECASE)
_LETTER = "ABCD"
# "The answer is (B)", "the answer is B." -> B (last occurrence wins).
_MMLU_ANSWER_IS = re.compile(r"answer is\s*:?\s*\(?([A-D])\)?(?![A-Za-z])", re.IGNORECASE)
# A bare letter at the start: "B", "(B)", "B.", "B) 4" -> B (not the article in "A cat ...").
_MMLU_LEADING = re.compile(r"^\s*\(?([A-D])(?:\)|\.|:|$)")
_OPTION = re.compile(r"^\(([A-Z])\)")
# Numbers as written in GSM8K / MGSM outputs: "1,000", "-3", "2.5", "$18".
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _to_text(text: str | bytes) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def after_answer_phrase(text: str) -> str:
    """The text after the last "answer is" ("So the answer is (B)." -> "(B)"), else all of it.

    One trailing period is removed: it ends the sentence, not the answer.
    """
    text = _to_text(text)
    matches = list(_ANSWER_IS.finditer(text))
    answer = text[matches[-1].end():] if matches else text
    answer = answer.strip().split("\n")[0].strip()
    return answer[:-1].rstrip() if answer.endswith(".") else answer


def extract_mmlu_letter(text: str) -> str:
    """The option letter (A-D) a model chose, or "" when none can be found.

    "B" / "(B)" / "B. 4" -> "B"; "... The answer is (C)." -> "C" (the last "answer is" wins).
    """
    text = _to_text(text)
    found = _MMLU_ANSWER_IS.findall(text)
    if found:
        return found[-1].upper()
    leading = _MMLU_LEADING.match(text)
    return leading.group(1).upper() if leading else ""


def extract_last_number(text: str) -> str:
    """The last number in `text` with thousands separators removed, "" when there is none.

    The MGSM protocol scores the final number of a CoT output: "... 9 + 20 = 29. The answer
    is 29." -> "29"; GSM8K's "#### 1,200" -> "1200"; "2.50" -> "2.5"; "7.0" -> "7".
    """
    numbers = _NUMBER.findall(_to_text(text))
    if not numbers:
        return ""
    number = numbers[-1].replace(",", "")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number


def extract_answer(benchmark: str, text: str | bytes) -> str:
    """A model output (or a gold answer) -> the answer that is scored. See the module docstring."""
    text = _to_text(text)
    if benchmark in ("mmlu", "mmlu_cot"):
        return extract_mmlu_letter(text)
    if benchmark == "mgsm":
        return extract_last_number(text)
    if benchmark in ("bbh", "bbh_cot"):
        answer = after_answer_phrase(text)
        option = _OPTION.match(answer)
        # "(B) 12/25/1937" names option B: the letter is the answer.
        return f"({option.group(1)})" if option else answer
    if benchmark == "tydiqa":
        return text.strip().split("\n")[0].strip()
    raise ValueError(f"Unknown benchmark {benchmark!r}; expected one of {BENCHMARKS}.")


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation (lowercase, no punctuation or English articles, single spaces).

    TyDi QA GoldP is scored with the SQuAD script; punctuation is every Unicode "P*" character,
    so "«Москва»." and "москва" match.
    """
    text = text.lower()
    text = "".join(c for c in text if not unicodedata.category(c).startswith("P") and c not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def normalize(benchmark: str, answer: str) -> str:
    """The benchmark's normalisation before exact match.

    MMLU / MGSM answers are already canonical after extraction; BBH compares case-sensitively
    after collapsing whitespace (its targets are "(A)", "True", "valid", ") ] }", ...); TyDiQA
    uses `squad_normalize`.
    """
    if benchmark == "tydiqa":
        return squad_normalize(answer)
    return " ".join(answer.split())


def is_correct(benchmark: str, prediction: str, gold: str | Sequence[str]) -> bool:
    """Exact match of an output's extracted answer with any gold answer (both extracted and normalised)."""
    golds = [gold] if isinstance(gold, (str, bytes)) else list(gold)
    predicted = normalize(benchmark, extract_answer(benchmark, prediction))
    if not predicted:
        return False
    return any(predicted == normalize(benchmark, extract_answer(benchmark, g)) for g in golds)


def accuracy(benchmark: str, predictions: Sequence[str | None], golds: Sequence[Any]) -> float:
    """Percent correct; a None prediction (missing) counts as wrong."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} gold answers ({benchmark}).")
    if not golds:
        return 0.0
    hits = sum(p is not None and is_correct(benchmark, p, g) for p, g in zip(predictions, golds))
    return 100.0 * hits / len(golds)


def metric_name(benchmark: str) -> str:
    """The name a benchmark's score is reported under."""
    return "exact_match" if benchmark in ("tydiqa", "mgsm") else "accuracy"


def seqio_metric(benchmark: str):
    """A seqio metric function `fn(targets, predictions) -> {metric_name: percent}` for a benchmark.

    Targets are the gold answers as the task's postprocessor returns them (a string, or a list
    of accepted answers for TyDiQA); predictions are raw decoded outputs (extraction happens here).
    """

    def metric_fn(targets: Sequence[Any], predictions: Sequence[str]) -> dict[str, float]:
        return {metric_name(benchmark): accuracy(benchmark, list(predictions), list(targets))}

    metric_fn.__name__ = f"{benchmark}_{metric_name(benchmark)}"
    return metric_fn


def rank_classification(option_scores: Sequence[float], options: Sequence[str]) -> str:
    """The option with the highest log-likelihood (ties: the first), as a prediction string."""
    if len(option_scores) != len(options) or not options:
        raise ValueError(f"{len(option_scores)} scores for {len(options)} options.")
    best = max(range(len(options)), key=lambda i: (option_scores[i], -i))
    return options[best]


def macro_average(benchmark: str, subtask_scores: Mapping[str, float]) -> float:
    """Unweighted mean over subtasks, leaving out `EXCLUDED_FROM_AVERAGE` (TyDiQA's English)."""
    excluded = EXCLUDED_FROM_AVERAGE.get(benchmark, frozenset())
    scores = [s for name, s in subtask_scores.items() if name not in excluded]
    return sum(scores) / len(scores) if scores else 0.0


def normalize_score(score: float, random_score: float) -> float:
    """(score - random) / (100 - random) * 100: 0 at chance, 100 at perfect (Table 5)."""
    if random_score >= 100:
        raise ValueError(f"A random-guess score of {random_score} leaves nothing to normalise.")
    return (score - random_score) / (100.0 - random_score) * 100.0


def normalized_average(scores: Mapping[str, float], random_scores: Mapping[str, float]) -> float | None:
    """Mean of the six normalised benchmark scores; None unless all six are present.

    Args:
      scores: benchmark -> percent (keys from NORMALIZED_AVERAGE_BENCHMARKS).
      random_scores: benchmark -> the random-guess percent for that benchmark.
    """
    if not all(b in scores for b in NORMALIZED_AVERAGE_BENCHMARKS):
        return None
    values = [normalize_score(scores[b], random_scores[b]) for b in NORMALIZED_AVERAGE_BENCHMARKS]
    return sum(values) / len(values)
