"""One task's examples, epoch after epoch: read through its seqio preprocessors or in Python, and
kept in memory or streamed.

An epoch is a function of its seed (seqio's convention: the seed orders the shard and seeds the
task's random preprocessors), so any thread may read it. Two ways to read one:

* `python_epoch`, for tasks whose registration declares that their preprocessing is seqio's
  `tokenize` then `append_eos_after_trim` over a Python source (`registry.TaskInfo.
  tokenize_in_python`, set by `register_family`): rendered and tokenized in Python, no tf.data
  pipeline. Building one costs ~0.1-0.2 s per task (tracing its `map` functions), which over
  ~1,800 tasks is most of the time to the first batch.
* `tf_epoch`, for any other seqio task: its own tf.data pipeline.

Then a reader serves the examples: a task whose first epoch fits one chunk is kept in memory and
reshuffled per epoch (`InMemoryReader`: no pipeline stays open); a larger one keeps its epoch
iterator open (~4 MiB) and opens the next epoch with the next seed (`StreamedReader`).
"""
import itertools
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import seqio
import tensorflow as tf

from flan_jax.data import registry, sampling

Example = tuple[np.ndarray, np.ndarray]  # (inputs, targets) token ids of one example, trimmed
Chunks = Iterator[list[Example]]
OpenedEpoch = tuple[Chunks, "list[Example] | None"]  # (epoch iterator, its first chunk)


class EmptyTaskError(ValueError):
    """A task's shard has no examples in the split; the sampler names its mixture."""


def reads_in_python(task: seqio.Task, use_cached: bool = False) -> bool:
    """Whether `task`'s registration declares that the pipeline may tokenize it in Python."""
    info = registry.info(task.name)
    return not use_cached and info is not None and info.tokenize_in_python


def _token_dtype(task: seqio.Task) -> np.dtype:
    """The smallest integer type for the task's token ids: T5's 32,128 ids fit in uint16."""
    size = max(f.vocabulary.vocab_size for k, f in task.output_features.items() if k in ("inputs", "targets"))
    return np.uint16 if size <= np.iinfo(np.uint16).max + 1 else np.int32


def tf_epoch(task: seqio.Task, split: str, task_feature_lengths: Mapping[str, int], shard_info: seqio.ShardInfo,
             seed: int, shuffle: bool, use_cached: bool = False, chunk: int = 256) -> Chunks:
    """One epoch of `task`'s shard through its seqio preprocessors, trimmed, in chunks."""
    dataset = task.get_dataset(
        sequence_length=dict(task_feature_lengths), split=split, use_cached=use_cached, shuffle=shuffle, seed=seed,
        shard_info=shard_info, num_epochs=1,
        trim_output_features=False,  # trimmed below, in numpy
    )
    # Neither a `map` to drop the other features nor seqio's trimming `map`: tracing a function
    # costs ~15 ms per task, which over ~1,800 tasks is tens of seconds before the first batch.
    dtype = _token_dtype(task)
    for batch in dataset.ragged_batch(chunk).with_options(_one_task_options()):
        columns = []
        for key in ("inputs", "targets"):
            values = batch[key].flat_values.numpy().astype(dtype)
            splits = batch[key].row_splits.numpy()
            length = task_feature_lengths[key]
            columns.append([row[:length] for row in np.split(values, splits[1:-1])])
        yield list(zip(*columns))


def _one_task_options() -> tf.data.Options:
    """tf.data options for one task's small pipeline, read on the main thread.

    Creating an iterator runs tf.data's graph rewrites and starts its autotuner: for a task of a
    few hundred examples that is most of the cost (measured: ~125 ms -> ~85 ms per task on 2
    cores without them), repaid only by pipelines that run long. The examples are the same.
    """
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return options


def python_epoch(task: seqio.Task, split: str, task_feature_lengths: Mapping[str, int], shard_info: seqio.ShardInfo,
                 seed: int, shuffle: bool, chunk: int = 256) -> Chunks:
    """One epoch of a Python-tokenized task's shard (`reads_in_python`), trimmed, in chunks.

    The same token ids as `tf_epoch` (the vocabulary's Python `encode` is its `encode_tf`; EOS
    after trimming as `append_eos_after_trim`), in an order that is a function of `seed`: the
    source's seeded order, then a seeded permutation within each chunk (where seqio would use
    its shuffle buffer).
    """
    examples = task.source.iter_examples(split, shuffle=shuffle, seed=seed, shard_info=shard_info)
    dtype = _token_dtype(task)
    encoders = [(key, task.output_features[key], task_feature_lengths[key]) for key in ("inputs", "targets")]
    rng = np.random.default_rng(seed)

    def tokenized(example: Mapping[str, object]) -> Example:
        out = []
        for key, feature, length in encoders:
            if key not in example:
                raise ValueError(f"Task {task.name!r}: an example of its source has no {key!r} feature "
                                 f"(it has {sorted(example)}); the source must yield {key!r}.")
            value = example[key]
            ids = feature.vocabulary.encode(value) if isinstance(value, str) else list(value)
            if feature.add_eos:
                ids = ids[:length - 1] + [feature.vocabulary.eos_id]
            out.append(np.asarray(ids[:length], dtype))
        return out[0], out[1]

    while True:
        block = [tokenized(example) for example in itertools.islice(examples, chunk)]
        if not block:
            return
        if shuffle:
            block = [block[i] for i in rng.permutation(len(block))]
        yield block


def open_first_chunk(open_epoch: Callable[[], Chunks]) -> OpenedEpoch:
    """Opens an epoch and reads its first chunk (what a prefetching worker does)."""
    iterator = open_epoch()
    return iterator, next(iterator, None)


class InMemoryReader:
    """A task whose whole epoch fits one chunk: kept, and reshuffled for every later epoch."""

    def __init__(self, examples: Sequence[Example], seed: int, shuffle: bool):
        self._examples, self._seed, self._shuffle = list(examples), seed, shuffle
        self._epoch, self._position = 0, 0
        self._order = np.arange(len(self._examples))  # epoch 0 is already in its seeded order

    def __next__(self) -> Example:
        if self._position == len(self._order):
            self._epoch, self._position = self._epoch + 1, 0
            if self._shuffle:
                self._order = np.random.default_rng(sampling.derive_seed(self._seed, self._epoch)).permutation(
                    len(self._examples))
        self._position += 1
        return self._examples[self._order[self._position - 1]]


class StreamedReader:
    """A task read chunk by chunk from an open epoch; at its end the next epoch is opened."""

    def __init__(self, open_epoch: Callable[[int], Chunks], opened: OpenedEpoch):
        self._open = open_epoch
        self._iterator, first = opened
        self._epoch, self._buffer, self._position = 0, first, 0

    def __next__(self) -> Example:
        while self._position == len(self._buffer):
            chunk = next(self._iterator, None)
            if chunk is None:  # the epoch ended on a chunk boundary
                self._epoch += 1
                self._iterator, chunk = open_first_chunk(lambda: self._open(self._epoch))
                if chunk is None:
                    raise EmptyTaskError(f"epoch {self._epoch} is empty")
            self._buffer, self._position = chunk, 0
        self._position += 1
        return self._buffer[self._position - 1]


def open_reader(open_epoch: Callable[[int], Chunks], seed: int, shuffle: bool, chunk: int,
                opened: OpenedEpoch | None = None) -> InMemoryReader | StreamedReader:
    """The reader of a task: in memory when its first epoch is shorter than `chunk`, else streamed.

    Args:
      open_epoch: epoch number -> that epoch's chunks (its seed derived from `seed`).
      seed: the task's seed (the in-memory reader's later epochs are shuffled from it).
      shuffle: reshuffle later epochs.
      chunk: the chunk size `open_epoch` reads.
      opened: epoch 0 already opened with its first chunk read (by a prefetching worker).

    Raises:
      EmptyTaskError: epoch 0 has no examples.
    """
    iterator, first = opened if opened is not None else open_first_chunk(lambda: open_epoch(0))
    if first is None:
        raise EmptyTaskError("no examples")
    if len(first) < chunk:  # the whole epoch: keep it, close the pipeline
        return InMemoryReader(first, seed, shuffle)
    return StreamedReader(open_epoch, (iterator, first))
