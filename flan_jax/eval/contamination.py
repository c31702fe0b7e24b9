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
import itertools
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

DEFAULT_NGRAM = 13
# Training examples hashed at a time: bounds the memory a task of any size takes.
TRAIN_CHUNK = 4096
PROMPT = -1  # the example index under which an evaluation task's prompt n-grams are indexed
# Odd 64-bit multiplier of the polynomial n-gram hash (the golden-ratio constant).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    """The text's words: lower-cased, split on whitespace (punctuation stays attached)."""
    return text.lower().split()


def ngram_table(examples: Sequence[Sequence[str]], n: int = DEFAULT_NGRAM) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 hash, example index) of every word n-gram of `examples`, each a sequence of texts.

    All the examples' words are hashed at once and the n-grams rolled over them with n vector
    multiply-adds (hashing example by example costs ~4x more, in numpy call overhead); an n-gram
    that would cross from one text into the next is dropped.
    """
    tokens, text_lengths, text_example = [], [], []
    for e, texts in enumerate(examples):
        for text in texts:
            split = words(text)
            tokens += split
            text_lengths.append(len(split))
            text_example.append(e)
    num_windows = len(tokens) - n + 1
    if num_windows <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int32)
    word_hashes = np.fromiter(map(hash, tokens), np.int64, len(tokens)).view(np.uint64)
    text_of_word = np.repeat(np.arange(len(text_lengths)), text_lengths)
    hashes = np.zeros(num_windows, np.uint64)
    with np.errstate(over="ignore"):  # the polynomial wraps mod 2**64 by design
        for j in range(n):
            hashes = hashes * _MULTIPLIER + word_hashes[j:j + num_windows]
    within_text = text_of_word[:num_windows] == text_of_word[n - 1:]
    return hashes[within_text], np.asarray(text_example, np.int32)[text_of_word[:num_windows][within_text]]


def ngram_hashes(text: str, n: int = DEFAULT_NGRAM) -> np.ndarray:
    """uint64 hashes of one text's word n-grams, in order (none when it has fewer than n words)."""
    return ngram_table([[text]], n)[0]


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
    for t, task_examples in enumerate(eval_tasks.values()):
        sizes.append(len(task_examples))
        task_hashes, task_example = ngram_table(task_examples, n)
        order = np.lexsort((task_example, task_hashes))
        task_hashes, task_example = task_hashes[order], task_example[order]
        distinct_pair = _first_of_runs(task_hashes) | _first_of_runs(task_example)
        task_hashes, task_example = task_hashes[distinct_pair], task_example[distinct_pair]
        starts = np.flatnonzero(_first_of_runs(task_hashes))  # each distinct hash, with its examples after it
        examples_per_hash = np.diff(np.append(starts, len(task_hashes)))
        prompt = task_hashes[starts[examples_per_hash > max(1, len(task_examples) / 2)]]
        content = ~np.isin(task_hashes, prompt)
        for part, example in ((task_hashes[content], task_example[content]),
                              (prompt, np.full(len(prompt), PROMPT, np.int32))):
            hashes.append(part)
            examples.append(example)
            tasks.append(np.full(len(part), t, np.int32))
    all_hashes = _concatenate(hashes, np.uint64)
    order = np.argsort(all_hashes, kind="stable")
    return EvalIndex(names=tuple(eval_tasks), sizes=tuple(sizes), hashes=all_hashes[order],
                     task=_concatenate(tasks, np.int32)[order], example=_concatenate(examples, np.int32)[order])


def _first_of_runs(sorted_values: np.ndarray) -> np.ndarray:
    """True where a value differs from the one before it."""
    return np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]) if len(sorted_values) else np.zeros(0, bool)


def _unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` by sorting: numpy 2.4's np.unique takes ~100x longer on 64-bit integers (1 s for 700k)."""
    values = np.sort(values)
    return values[_first_of_runs(values)]


def _chunks(items: Iterable[Sequence[str]], size: int) -> Iterator[list[Sequence[str]]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _concatenate(arrays: Sequence[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype)


def matches(index: EvalIndex, train_hashes: np.ndarray) -> dict[int, tuple[np.ndarray, bool]]:
    """Evaluation task -> (its examples sharing an n-gram with `train_hashes`, whether its prompt does).

    Only tasks with a match are keys; example indices are distinct and sorted.
    """
    train_hashes = _unique(train_hashes)
    left = np.searchsorted(index.hashes, train_hashes, side="left")
    lengths = np.searchsorted(index.hashes, train_hashes, side="right") - left
    total = int(lengths.sum())
    if total == 0:
        return {}
    # Every index position in the matched ranges [left, left + length).
    positions = np.repeat(left, lengths) + np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    # One int64 per (task, example) pair, PROMPT (-1) shifted to 0.
    stride = max(index.sizes) + 1
    pairs = _unique(index.task[positions].astype(np.int64) * stride + index.example[positions] + 1)
    out = {}
    for t in _unique(pairs // stride):
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
        chunks = (_unique(ngram_table(chunk, n)[0]) for chunk in _chunks(examples, TRAIN_CHUNK))
        found = matches(index, _concatenate(list(chunks), np.uint64))
        for t, (eval_name, size) in enumerate(zip(index.names, index.sizes)):
            hit, prompt = found.get(t, (np.zeros(0, np.int32), False))
            union[t][hit] = True
            pairs.append(PairReport(train_name, eval_name, size, len(hit), prompt))
    return Report(pairs, {name: int(u.sum()) for name, u in zip(index.names, union)})
