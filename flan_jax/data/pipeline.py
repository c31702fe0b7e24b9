"""Mixture or task -> feature converter -> per-host numpy batches.

Each host reads its own shard of the global batch (seqio.ShardInfo from the process index), so
the per-host batch is `global_batch_size // process_count`. The stream is a pure function of
(config, shard, step): a run resumed at step k sees exactly the batches an uninterrupted run
would have.

Two ways to build the training stream, chosen by `DatasetConfig.sampler`:

* "hierarchical" (default for encoder-decoder training): the mixture's leaf rates come from
  `mixing.leaf_rates`; a seeded numpy generator draws a task per example; each task's shard is
  read the first time it is drawn: tasks over our Python-backed sources (TemplatedSource,
  PythonSource, GeneratorSource) that only tokenize and append EOS are rendered and tokenized in
  Python (`python_steps`), any other seqio task through its own tf.data preprocessors; a task
  whose epoch fits one chunk is then kept in memory. Examples are packed in numpy into exactly
  the features `seqio.EncDecFeatureConverter` emits.
  A plain `seqio.Mixture` over ~1,800 tasks builds one tf.data pipeline per task up front and
  interleaves them with `sample_from_datasets`: minutes to the first batch and GiBs of buffers.
  Here a task costs nothing until drawn. Resuming replays the draws and the packing (reading the
  examples again but building no batches), which makes the stream a function of the step.
  Two kinds of threads change timing only: workers open the tf.data tasks the queued draws will
  need next (`TaskSampler`), and a producer keeps a few batches ready (`read_ahead`).
* "seqio": `seqio.get_dataset` as t5x does it; used for any other feature converter.
"""
import collections
import concurrent.futures
import dataclasses
import difflib
import itertools
import logging
import queue
import threading
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import jax
import numpy as np
import seqio
import tensorflow as tf

from flan_jax.data import formats, mixing

SAMPLERS = ("hierarchical", "seqio")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """What to read and how (t5x's `utils.DatasetConfig`, trimmed to what we use).

    Attributes:
      mixture_or_task_name: a registered seqio task or mixture.
      task_feature_lengths: e.g. {"inputs": 2048, "targets": 512} (FLAN-T5, Chung et al. 2022).
      split: dataset split.
      batch_size: the global batch size, across all hosts.
      shuffle: shuffle examples (training) or keep file order (evaluation).
      seed: seed of shuffling and mixture sampling; fixed so runs are reproducible.
      pack: pack several examples per row (with segment ids that keep them apart).
      use_cached: read seqio's preprocessed cache instead of preprocessing on the fly.
      sampler: "hierarchical" (numpy sampling and packing, see the module docstring) or "seqio".
    """

    mixture_or_task_name: str
    task_feature_lengths: Mapping[str, int]
    split: str = "train"
    batch_size: int = 64
    shuffle: bool = True
    seed: int = 0
    pack: bool = True
    use_cached: bool = False
    sampler: str = "hierarchical"


def get_mixture_or_task(name: str) -> seqio.Task | seqio.Mixture:
    """The registered task or mixture `name`, or an error that suggests close names."""
    if name in seqio.MixtureRegistry.names():
        return seqio.MixtureRegistry.get(name)
    if name in seqio.TaskRegistry.names():
        return seqio.TaskRegistry.get(name)
    known = list(seqio.MixtureRegistry.names()) + list(seqio.TaskRegistry.names())
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"No seqio task or mixture named {name!r} is registered ({len(known)} are).{hint} "
        "Check MIXTURE_OR_TASK_NAME and that MIXTURE_OR_TASK_MODULE imports its registration."
    )


def host_shard_info() -> seqio.ShardInfo:
    """This host's shard of the data: one shard per JAX process."""
    return seqio.ShardInfo(index=jax.process_index(), num_shards=jax.process_count())


def per_host_batch_size(global_batch_size: int, num_shards: int) -> int:
    if global_batch_size % num_shards:
        raise ValueError(
            f"BATCH_SIZE={global_batch_size} does not divide across {num_shards} hosts; "
            "choose a multiple of the number of processes."
        )
    return global_batch_size // num_shards


def get_dataset(
    config: DatasetConfig,
    shard_info: seqio.ShardInfo,
    feature_converter: seqio.FeatureConverter,
    num_epochs: int | None = None,
) -> tf.data.Dataset:
    """This host's batched dataset of model features (repeated forever when num_epochs is None)."""
    return seqio.get_dataset(
        get_mixture_or_task(config.mixture_or_task_name),
        task_feature_lengths=dict(config.task_feature_lengths),
        feature_converter=feature_converter,
        dataset_split=config.split,
        use_cached=config.use_cached,
        shuffle=config.shuffle,
        num_epochs=num_epochs,
        shard_info=shard_info,
        verbose=False,
        seed=config.seed,
        batch_size=per_host_batch_size(config.batch_size, shard_info.num_shards),
    )


def train_batches(
    config: DatasetConfig,
    feature_converter: seqio.FeatureConverter,
    start_step: int = 0,
    shard_info: seqio.ShardInfo | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The training stream from `start_step` on: per-host numpy batches of model features."""
    shard_info = shard_info or host_shard_info()
    if config.sampler not in SAMPLERS:
        raise ValueError(f"DatasetConfig.sampler={config.sampler!r}; choose one of {SAMPLERS}")
    if config.sampler == "hierarchical":
        if _numpy_packable(feature_converter):
            stream = HierarchicalStream(config, feature_converter.pack, shard_info)
            return read_ahead(stream.batches(start_step), READ_AHEAD_BATCHES)
        logging.warning(
            "sampler='hierarchical' packs for seqio.EncDecFeatureConverter only; %s gets the "
            "seqio pipeline.",
            type(feature_converter).__name__,
        )
    dataset = get_dataset(config, shard_info, feature_converter).skip(start_step)
    return dataset.as_numpy_iterator()


# Batches the hierarchical stream prepares ahead of the trainer: it packs in Python, and a task
# drawn for the first time costs a read (~5-100 ms), so a few batches in hand absorb those.
READ_AHEAD_BATCHES = 4


def read_ahead(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items` in order, produced by a background thread up to `depth` ahead of the consumer.

    Order and content are those of `items` (one producer); only timing changes. An exception in
    the producer is raised to the consumer; closing the returned generator stops the producer.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def offer(entry: tuple[Any, BaseException | None]) -> bool:
        """Puts `entry` once there is room; False when the consumer has gone."""
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((end, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            offer((None, error))

    threading.Thread(target=produce, name="read_ahead", daemon=True).start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()


def _numpy_packable(feature_converter: seqio.FeatureConverter) -> bool:
    return (
        type(feature_converter) is seqio.EncDecFeatureConverter
        and feature_converter.bos_id == 0
        and not feature_converter._passthrough_features  # pylint: disable=protected-access
    )


# ---------------------------------------------------------------------------------------------
# Hierarchical sampling: tasks drawn in numpy, loaded when first drawn, packed in numpy.


Example = tuple[np.ndarray, np.ndarray]  # (inputs, targets) token ids of one example


def open_task_epoch(
    task: seqio.Task,
    split: str,
    task_feature_lengths: Mapping[str, int],
    shard_info: seqio.ShardInfo,
    seed: int,
    shuffle: bool,
    use_cached: bool = False,
    chunk: int = 256,
) -> Iterator[list[Example]]:
    """One epoch of `task`'s shard through its seqio preprocessors, trimmed, in chunks.

    `seed` seeds seqio's shuffling and the task's own random preprocessors (seqio's
    convention), so an epoch's order is a function of it.
    """
    dataset = task.get_dataset(
        sequence_length=dict(task_feature_lengths),
        split=split,
        use_cached=use_cached,
        shuffle=shuffle,
        seed=seed,
        shard_info=shard_info,
        num_epochs=1,
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


# Preprocessors the Python path reproduces exactly (anything else goes through tf.data).
_PYTHON_STEPS = {
    seqio.preprocessors.tokenize: "tokenize",
    seqio.preprocessors.append_eos: "append_eos",
    seqio.preprocessors.append_eos_after_trim: "append_eos_after_trim",
}


def python_steps(task: seqio.Task, use_cached: bool = False) -> list[str] | None:
    """The task's preprocessing as Python steps, or None when it needs tf.data.

    Our own sources (those with `iter_examples`: TemplatedSource, PythonSource,
    GeneratorSource) already render examples in Python; when their task only tokenizes and
    appends EOS (what `registry.register_family` registers), the examples need not cross into
    tf.data at all. Building a tf.data pipeline costs ~0.1-0.2 s per task (tracing its `map`
    functions), which over ~1,800 tasks is most of the time to the first batch.
    """
    if use_cached or not hasattr(task.source, "iter_examples"):
        return None
    steps = []
    for preprocessor in task.preprocessors:
        if isinstance(preprocessor, seqio.CacheDatasetPlaceholder):
            continue
        try:
            step = _PYTHON_STEPS.get(preprocessor)
        except TypeError:  # an unhashable callable
            step = None
        if step is None:
            return None
        steps.append(step)
    return steps if "tokenize" in steps else None


def python_task_epoch(
    task: seqio.Task,
    steps: Sequence[str],
    split: str,
    task_feature_lengths: Mapping[str, int],
    shard_info: seqio.ShardInfo,
    seed: int,
    shuffle: bool,
    chunk: int = 256,
) -> Iterator[list[Example]]:
    """One epoch of `task`'s shard, rendered and tokenized in Python, trimmed, in chunks.

    The same token ids as `open_task_epoch` (the vocabulary's Python `encode` is its `encode_tf`),
    in an order that is a function of `seed`: the source's seeded order, then a seeded
    permutation within each chunk (where seqio would use its shuffle buffer).
    """
    source = task.source
    if split not in source.splits:
        raise ValueError(f"Task {task.name!r} has no split {split!r}; splits: {list(source.splits)}.")
    examples = formats.iter_source_examples(source, split, shuffle=shuffle, seed=seed, shard_info=shard_info)
    dtype = _token_dtype(task)
    encoders = []
    for key in ("inputs", "targets"):
        feature = task.output_features[key]
        encoders.append((key, feature.vocabulary, feature.add_eos, task_feature_lengths[key]))
    rng = np.random.default_rng(seed)

    def tokenized(example: Mapping[str, Any]) -> Example:
        out = []
        for key, vocabulary, add_eos, length in encoders:
            if key not in example:
                raise ValueError(f"Task {task.name!r}: an example of its source has no {key!r} feature "
                                 f"(it has {sorted(example)}); the source must yield {key!r}.")
            value = example[key]
            ids = vocabulary.encode(value) if isinstance(value, str) else list(value)
            for step in steps:
                if step == "append_eos_after_trim" and add_eos:
                    ids = ids[:length - 1] + [vocabulary.eos_id]
                elif step == "append_eos" and add_eos:
                    ids = ids + [vocabulary.eos_id]
            out.append(np.asarray(ids[:length], dtype))
        return out[0], out[1]

    while True:
        block = [tokenized(example) for example in itertools.islice(examples, chunk)]
        if not block:
            return
        if shuffle:
            block = [block[i] for i in rng.permutation(len(block))]
        yield block


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


def _token_dtype(task: seqio.Task) -> np.dtype:
    """The smallest integer type for the task's token ids: T5's 32,128 ids fit in uint16."""
    size = max(f.vocabulary.vocab_size for k, f in task.output_features.items() if k in ("inputs", "targets"))
    return np.uint16 if size <= np.iinfo(np.uint16).max + 1 else np.int32


class TaskStream:
    """One task's examples, epoch after epoch, read in chunks only as they are drawn.

    A task whose epoch fits in one chunk is kept in memory and reshuffled in numpy for later
    epochs (no tf.data pipeline stays open for it). A larger task keeps its epoch iterator open
    (measured: ~4 MiB each) and reads the next epoch with the next seed.
    """

    def __init__(self, name: str, open_epoch: Callable[[int], Iterator[list[Example]]], seed: int, shuffle: bool,
                 chunk: int, prefetched: "concurrent.futures.Future[OpenedEpoch] | None" = None):
        self.name, self._open, self._seed, self._shuffle, self._chunk = name, open_epoch, seed, shuffle, chunk
        self._prefetched = prefetched  # epoch 0, opened and first chunk read by a worker thread
        self._epoch, self._iterator = 0, None
        self._buffer: list[Example] = []
        self._position = 0
        self._cached: list[Example] | None = None
        self._order: np.ndarray | None = None

    def __next__(self) -> Example:
        if self._cached is not None:
            if self._position == len(self._order):
                self._epoch, self._position = self._epoch + 1, 0
                self._order = self._epoch_order(len(self._cached))
            self._position += 1
            return self._cached[self._order[self._position - 1]]
        if self._position == len(self._buffer):
            self._refill()
        self._position += 1
        return self._buffer[self._position - 1]

    def _epoch_order(self, n: int) -> np.ndarray:
        if not self._shuffle:
            return np.arange(n)
        return np.random.default_rng([self._seed, self._epoch]).permutation(n)

    def _refill(self) -> None:
        fresh = self._iterator is None
        if fresh and self._prefetched is not None:
            self._iterator, chunk = self._prefetched.result()
            self._prefetched = None
        else:
            if fresh:
                self._iterator = self._open(self._epoch)
            chunk = next(self._iterator, None)
        if chunk is None:  # the epoch ended on a chunk boundary
            if fresh:
                raise StopIteration(self.name)  # an empty task: the sampler names it
            self._epoch, self._iterator = self._epoch + 1, None
            return self._refill()
        self._buffer, self._position = chunk, 0
        if fresh and self._epoch == 0 and len(chunk) < self._chunk:
            # the whole epoch fits in one chunk: keep it, close the pipeline
            self._cached, self._iterator = chunk, None
            self._order = np.arange(len(chunk))


OpenedEpoch = tuple[Iterator[list[Example]], "list[Example] | None"]  # (epoch iterator, its first chunk)


def open_first_chunk(open_epoch: Callable[[], Iterator[list[Example]]]) -> OpenedEpoch:
    """Opens an epoch and reads its first chunk (what a prefetching worker does)."""
    iterator = open_epoch()
    return iterator, next(iterator, None)


class TaskSampler:
    """Draws examples: tasks by rate from a seeded generator, each task's examples in order.

    State is explicit (the generator, one stream per task) and advances only through `draw`, so
    two samplers built from the same arguments yield the same sequence.

    Task indices are drawn `draw_chunk` at a time, so the tasks about to be read for the first
    time are known ahead: with `prefetch_workers`, up to `prefetch_depth` of them (those
    `prefetchable` says are worth it: the tf.data ones) are opened by worker threads while
    the current ones are packed. An epoch's content is a function of its seed, not of the
    thread that reads it, so prefetching changes timing only. Building a tf.data pipeline
    (tracing its preprocessors) runs ~1.7x faster on 2 threads than on one.
    """

    def __init__(
        self,
        tasks: Sequence[seqio.Task],
        rates: Sequence[float],
        open_epoch: Callable[[int, int], Iterator[list[Example]]],
        seed: int,
        shuffle: bool,
        mixture_name: str,
        chunk: int = 256,
        draw_chunk: int = 4096,
        prefetch_workers: int = 0,
        prefetch_depth: int = 16,
        prefetchable: Callable[[int], bool] = lambda index: True,
    ):
        """
        Args:
          tasks: the leaf tasks.
          rates: their rates (normalised here).
          open_epoch: (task index, epoch seed) -> the epoch's chunks of examples.
          seed: seed of task draws and of epoch orders.
          shuffle: reshuffle each epoch.
          mixture_name: named in errors.
          chunk: examples read at a time (and the size up to which a task is kept in memory).
          draw_chunk: task indices drawn at a time.
          prefetch_workers: threads that open upcoming tasks ahead of their first draw (0: none).
          prefetch_depth: tasks opened ahead at most (bounds the memory of read-ahead chunks).
          prefetchable: task index -> whether opening it ahead is worth a thread.
        """
        self._tasks, self._open = list(tasks), open_epoch
        self._probs = np.asarray(rates, np.float64) / np.sum(rates)
        self._seed, self._shuffle, self._mixture = seed, shuffle, mixture_name
        self._chunk, self._draw_chunk = chunk, draw_chunk
        self._rng = np.random.default_rng(seed)
        self._queue: collections.deque[int] = collections.deque()
        self._streams: dict[int, TaskStream] = {}
        self._workers = concurrent.futures.ThreadPoolExecutor(prefetch_workers) if prefetch_workers else None
        self._depth, self._prefetchable = prefetch_depth, prefetchable
        self._upcoming: collections.deque[int] = collections.deque()  # first draws, in order
        self._announced: set[int] = set()
        self._prefetched: dict[int, concurrent.futures.Future[OpenedEpoch]] = {}

    @property
    def num_opened(self) -> int:
        """Tasks drawn so far (each built its seqio pipeline once)."""
        return len(self._streams)

    def next_task(self) -> int:
        """The index of the next task drawn by rate (reads nothing)."""
        if not self._queue:
            drawn = self._rng.choice(len(self._tasks), size=self._draw_chunk, p=self._probs).tolist()
            self._queue.extend(drawn)
            if self._workers is not None:
                for index in drawn:
                    if index not in self._announced:
                        self._announced.add(index)
                        if self._prefetchable(index):
                            self._upcoming.append(index)
        return self._queue.popleft()

    def _task_seed(self, index: int) -> int:
        return int(np.random.SeedSequence([self._seed, index]).generate_state(1)[0])

    def _epoch_opener(self, index: int) -> Callable[[int], Iterator[list[Example]]]:
        task_seed = self._task_seed(index)
        return lambda epoch: self._open(index, int(np.random.SeedSequence([task_seed, epoch]).generate_state(1)[0]))

    def _prefetch(self) -> None:
        """Keeps up to `prefetch_depth` upcoming tasks being opened by the workers."""
        while self._upcoming and len(self._prefetched) < self._depth:
            index = self._upcoming.popleft()
            if index not in self._streams:
                opener = self._epoch_opener(index)
                self._prefetched[index] = self._workers.submit(open_first_chunk, lambda opener=opener: opener(0))

    def draw(self) -> Example:
        """The next example of the mixture."""
        index = self.next_task()
        stream = self._streams.get(index)
        if stream is None:
            prefetched = self._prefetched.pop(index, None)
            stream = TaskStream(self._tasks[index].name, self._epoch_opener(index), self._task_seed(index),
                                self._shuffle, self._chunk, prefetched)
            self._streams[index] = stream
        if self._workers is not None:
            self._prefetch()
        try:
            return next(stream)
        except StopIteration:
            raise mixing.MixtureError(
                f"mixture {self._mixture!r}: task {stream.name!r} has no examples in this split and "
                "shard; fix its data or leave it out of the mixture."
            ) from None


class Packer:
    """First-fit packing of drawn examples into rows of fixed encoder/decoder length.

    Placement reads only lengths, so skipped steps are replayed with `plan` alone. An example
    that fits no row waits (in order) for the next batch; a batch is closed after `max_misses`
    examples found no room, which bounds the waiting list.
    """

    def __init__(self, sampler: TaskSampler, batch_size: int, lengths: tuple[int, int], pack: bool, max_misses: int = 16):
        self._sampler, self._batch, self._lengths, self._pack = sampler, batch_size, lengths, pack
        self._max_misses = max_misses
        self._waiting: collections.deque[Example] = collections.deque()

    def plan(self) -> list[list[Example]]:
        """The next batch: for each row, the examples packed into it."""
        rows: list[list[Example]] = [[] for _ in range(self._batch)]
        if not self._pack:
            for row in rows:
                row.append(self._waiting.popleft() if self._waiting else self._sampler.draw())
            return rows
        used = np.zeros([2, self._batch], np.int64)
        room = np.asarray(self._lengths, np.int64)[:, None]
        retry, self._waiting = self._waiting, collections.deque()
        misses = 0
        while misses < self._max_misses:
            example = retry.popleft() if retry else self._sampler.draw()
            need = np.array([[len(example[0])], [len(example[1])]])
            fits = np.flatnonzero(np.all(used + need <= room, axis=0))
            if fits.size:
                used[:, fits[0]] += need[:, 0]
                rows[fits[0]].append(example)
            else:
                self._waiting.append(example)
                misses += 1
        self._waiting.extend(retry)
        return rows

    def assemble(self, rows: list[list[Example]]) -> dict[str, np.ndarray]:
        """The features `seqio.EncDecFeatureConverter` emits for these rows (int32)."""
        enc_len, dec_len = self._lengths
        shape_e, shape_d = (self._batch, enc_len), (self._batch, dec_len)
        out = {
            "encoder_input_tokens": np.zeros(shape_e, np.int32),
            "decoder_target_tokens": np.zeros(shape_d, np.int32),
            "decoder_input_tokens": np.zeros(shape_d, np.int32),
        }
        if self._pack:
            for key, shape in [("encoder_segment_ids", shape_e), ("encoder_positions", shape_e),
                               ("decoder_segment_ids", shape_d), ("decoder_positions", shape_d)]:
                out[key] = np.zeros(shape, np.int32)
        for r, row in enumerate(rows):
            e = d = 0
            for segment, (inputs, targets) in enumerate(row, start=1):
                li, lt = len(inputs), len(targets)
                out["encoder_input_tokens"][r, e:e + li] = inputs
                out["decoder_target_tokens"][r, d:d + lt] = targets
                # Shifted right, BOS (0) first. Like seqio, an unpacked row shifts the whole
                # padded row (its EOS lands on the first padding position); a packed row shifts
                # within the segment.
                shifted = targets if not self._pack else targets[:-1]
                out["decoder_input_tokens"][r, d + 1:d + 1 + len(shifted)] = shifted[:dec_len - d - 1]
                if self._pack:
                    out["encoder_segment_ids"][r, e:e + li] = segment
                    out["encoder_positions"][r, e:e + li] = np.arange(li)
                    out["decoder_segment_ids"][r, d:d + lt] = segment
                    out["decoder_positions"][r, d:d + lt] = np.arange(lt)
                e, d = e + li, d + lt
        out["decoder_loss_weights"] = (out["decoder_target_tokens"] != 0).astype(np.int32)
        return out


# Threads that build upcoming tasks' tf.data pipelines (our Python-backed tasks need none): two
# keep both cores of a small machine busy while the main thread packs.
PREFETCH_WORKERS = 2


class HierarchicalStream:
    """This host's training batches drawn by leaf rate, deterministic in (config, shard, step)."""

    def __init__(self, config: DatasetConfig, pack: bool, shard_info: seqio.ShardInfo,
                 prefetch_workers: int = PREFETCH_WORKERS):
        for key in ("inputs", "targets"):
            if key not in config.task_feature_lengths:
                raise ValueError(
                    f"task_feature_lengths {dict(config.task_feature_lengths)} lacks {key!r}: the "
                    "encoder-decoder pipeline needs both inputs and targets lengths"
                )
        self.config, self.shard_info = config, shard_info
        root = get_mixture_or_task(config.mixture_or_task_name)
        rates = mixing.leaf_rates(root)
        tasks = {t.name: t for t in (root.tasks if isinstance(root, seqio.Mixture) else [root])}
        names = sorted(rates)
        lengths = dict(config.task_feature_lengths)

        leaves = [tasks[n] for n in names]

        def open_epoch(index: int, seed: int) -> Iterator[list[Example]]:
            task = leaves[index]
            steps = python_steps(task, config.use_cached)
            if steps is not None:
                return python_task_epoch(task, steps, config.split, lengths, shard_info, seed, config.shuffle)
            return open_task_epoch(task, config.split, lengths, shard_info, seed, config.shuffle, config.use_cached)

        self.sampler = TaskSampler(
            leaves,
            [rates[n] for n in names],
            open_epoch,
            seed=hash_seed(config.seed, shard_info.index),
            shuffle=config.shuffle,
            mixture_name=config.mixture_or_task_name,
            prefetch_workers=prefetch_workers,
            prefetchable=lambda index: python_steps(leaves[index], config.use_cached) is None,
        )
        self.packer = Packer(
            self.sampler,
            per_host_batch_size(config.batch_size, shard_info.num_shards),
            (lengths["inputs"], lengths["targets"]),
            pack,
        )

    def batches(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Batches from `start_step` on; the steps before it are replayed on lengths only."""
        for _ in range(start_step):
            self.packer.plan()
        while True:
            yield self.packer.assemble(self.packer.plan())


def hash_seed(seed: int, shard_index: int) -> int:
    """A per-host seed: hosts draw different tasks, and the same ones on every restart."""
    return int(np.random.SeedSequence([seed, shard_index]).generate_state(1)[0])
