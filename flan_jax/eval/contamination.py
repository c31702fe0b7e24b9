"""N-gram contamination between training and evaluation tasks, as GPT-3 and FLAN measured it.

An evaluation example is contaminated by a training task when one of its n-grams (by default 13
consecutive words of whitespace-split, lower-cased text; Brown et al. 2020, App. C; Wei et al.
2022, App. C) also occurs in the training task's inputs or targets. N-grams never cross from an
example's inputs into its targets.

N-grams are 64-bit hashes (Python's string hash of each word, combined polynomially in numpy),
so an index is a sorted uint64 array. As GPT-3 did, the evaluation side is indexed (it is small)
and the training data streams past it: each training task's n-grams are looked up with
`np.searchsorted`, so a task costs one pass over its examples whatever the number of evaluation
tasks. Hashes are consistent within one process, which is all a single run needs.

An evaluation task's *prompt* is not any one example's content: n-grams in more than half of a
task's examples (its instruction, its few-shot exemplars: MMLU's 5-shot prompt repeats the same
five dev questions in every test prompt of a subject) are indexed once as the task's prompt. A
training task that matches them sets `prompt_contaminated` for the pair instead of marking every
example of the evaluation task.
"""
import dataclasses
from typing import Iterable, Mapping, Sequence

import numpy as np

DEFAULT_NGRAM = 13
PROMPT = -1  # the example index under which an evaluation task's prompt n-grams are indexed
# Odd 64-bit multiplier of the polynomial n-gram hash (the golden-ratio constant).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    """The text's words: lower-cased, split on whitespace (punctuation stays attached)."""
    return text.lower().split()


def ngram_hashes(text: str, n: int = DEFAULT_NGRAM) -> np.ndarray:
    """uint64 hashes of the text's word n-grams, in order (none when it has fewer than n words)."""
    tokens = words(text)
    if len(tokens) < n:
        return np.zeros(0, np.uint64)
    word_hashes = np.fromiter((hash(w) for w in tokens), np.int64, len(tokens)).view(np.uint64)
    powers = _MULTIPLIER ** np.arange(n - 1, -1, -1, dtype=np.uint64)  # wraps mod 2**64, as the sums do
    windows = np.lib.stride_tricks.sliding_window_view(word_hashes, n)
    with np.errstate(over="ignore"):
        return (windows * powers).sum(axis=1, dtype=np.uint64)


def example_hashes(texts: Sequence[str], n: int = DEFAULT_NGRAM) -> np.ndarray:
    """The distinct n-gram hashes of one example's texts (its inputs, its targets), sorted."""
    parts = [ngram_hashes(t, n) for t in texts]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


@dataclasses.dataclass(frozen=True)
class EvalIndex:
    """The evaluation side: every n-gram hash with the task and example it came from, sorted by hash.

    Attributes:
      names: evaluation task names; `task` indexes them.
      sizes: each task's number of examples.
      hashes: sorted n-gram hashes.
      task: the task of each hash.
      example: the example of each hash within its task, or PROMPT for the task's prompt n-grams.
    """

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    hashes: np.ndarray
    task: np.ndarray
    example: np.ndarray


def build_eval_index(eval_tasks: Mapping[str, Sequence[Sequence[str]]], n: int = DEFAULT_NGRAM) -> EvalIndex:
    """Indexes evaluation tasks: name -> its examples, each a sequence of texts (inputs, targets)."""
    hashes, tasks, examples, sizes = [], [], [], []
    for t, texts in enumerate(eval_tasks.values()):
        per_example = [example_hashes(ex, n) for ex in texts]
        sizes.append(len(per_example))
        distinct, counts = np.unique(_concatenate(per_example, np.uint64), return_counts=True)
        prompt = distinct[counts > max(1, len(per_example) / 2)]
        parts = [(h[~np.isin(h, prompt, assume_unique=True)], e) for e, h in enumerate(per_example)]
        for part, e in parts + [(prompt, PROMPT)]:
            hashes.append(part)
            examples.append(np.full(len(part), e, np.int32))
            tasks.append(np.full(len(part), t, np.int32))
    all_hashes = _concatenate(hashes, np.uint64)
    order = np.argsort(all_hashes, kind="stable")
    return EvalIndex(names=tuple(eval_tasks), sizes=tuple(sizes), hashes=all_hashes[order],
                     task=_concatenate(tasks, np.int32)[order], example=_concatenate(examples, np.int32)[order])


def _concatenate(arrays: Sequence[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype)


def matches(index: EvalIndex, train_hashes: np.ndarray) -> dict[int, tuple[np.ndarray, bool]]:
    """Evaluation task -> (its examples sharing an n-gram with `train_hashes`, whether its prompt does).

    Only tasks with a match are keys; example indices are distinct and sorted.
    """
    train_hashes = np.unique(train_hashes)
    left = np.searchsorted(index.hashes, train_hashes, side="left")
    lengths = np.searchsorted(index.hashes, train_hashes, side="right") - left
    total = int(lengths.sum())
    if total == 0:
        return {}
    # Every index position in the matched ranges [left, left + length).
    positions = np.repeat(left, lengths) + np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    # One int64 per (task, example) pair, PROMPT (-1) shifted to 0.
    stride = max(index.sizes) + 1
    pairs = np.unique(index.task[positions].astype(np.int64) * stride + index.example[positions] + 1)
    out = {}
    for t in np.unique(pairs // stride):
        hit = pairs[pairs // stride == t] % stride - 1
        out[int(t)] = (hit[hit != PROMPT], bool(hit[0] == PROMPT))
    return out


@dataclasses.dataclass(frozen=True)
class PairReport:
    """One (training task, evaluation task) pair.

    Attributes:
      contaminated_examples: evaluation examples sharing an n-gram of their own content with the
        training task.
      prompt_contaminated: the evaluation task's prompt (n-grams in most of its examples) shares
        an n-gram with the training task.
    """

    train_task: str
    eval_task: str
    eval_examples: int
    contaminated_examples: int
    prompt_contaminated: bool


@dataclasses.dataclass(frozen=True)
class Report:
    """Every pair, and per evaluation task the examples contaminated by any training task."""

    pairs: list[PairReport]
    any_train_task: dict[str, int]


def contamination(
    train_tasks: Iterable[tuple[str, Iterable[Sequence[str]]]],
    eval_tasks: Mapping[str, Sequence[Sequence[str]]],
    n: int = DEFAULT_NGRAM,
) -> Report:
    """Counts, for every (training task, evaluation task) pair, the contaminated evaluation examples.

    Args:
      train_tasks: (name, its examples, each a sequence of texts), read once, one task at a time.
      eval_tasks: name -> its examples (each a sequence of texts).
      n: words per n-gram.
    """
    index = build_eval_index(eval_tasks, n)
    pairs = []
    union = [np.zeros(size, bool) for size in index.sizes]
    for train_name, examples in train_tasks:
        found = matches(index, _concatenate([example_hashes(ex, n) for ex in examples], np.uint64))
        for t, (eval_name, size) in enumerate(zip(index.names, index.sizes)):
            hit, prompt = found.get(t, (np.zeros(0, np.int32), False))
            union[t][hit] = True
            pairs.append(PairReport(train_name, eval_name, size, len(hit), prompt))
    return Report(pairs, {name: int(u.sum()) for name, u in zip(index.names, union)})
