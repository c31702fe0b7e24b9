"""Mixture or task -> per-host numpy batches of model features.

Each host reads its own shard of the global batch (seqio.ShardInfo from the process index), so
the per-host batch is `global_batch_size // process_count`. The stream is a pure function of
(config, shard, step): a run resumed at step k sees exactly the batches an uninterrupted run
would have.

Two ways to build the training stream, chosen by `DatasetConfig.sampler`:

* "hierarchical" (the default): the mixture's leaf rates come from `mixing.leaf_rates`; a seeded
  generator draws a task per example (`sampling.TaskDraws`); each task's shard is read the first
  time it is drawn (`epochs`: in Python for the tasks whose registration declares it, through
  their own tf.data preprocessors otherwise; kept in memory when an epoch fits one chunk); rows
  are packed first-fit and turned into the model's features in numpy (`features`).
  A plain `seqio.Mixture` over ~1,800 tasks builds one tf.data pipeline per task up front and
  interleaves them with `sample_from_datasets`: minutes to the first batch and GiBs of buffers.
  Here a task costs nothing until drawn. Resuming replays the draws and the packing (reading the
  examples again but building no batches), which makes the stream a function of the step.
  Worker threads change timing only (`prefetch`): they open the tf.data tasks the queued draws
  will need next, and keep a few batches ready.
* "seqio": `seqio.get_dataset` as t5x does it; also what a feature converter without a numpy
  builder in `features` gets.
"""
import collections
import dataclasses
import logging
from typing import Callable, Iterator, Mapping, Sequence

import jax
import numpy as np
import seqio
import tensorflow as tf

from flan_jax.data import epochs, features, mixing, prefetch, registry, sampling

SAMPLERS = ("hierarchical", "seqio")


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
        registry.get_mixture_or_task(config.mixture_or_task_name),
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


# Batches the hierarchical stream prepares ahead of the trainer: it packs in Python, and a task
# drawn for the first time costs a read (~5-100 ms), so a few batches in hand absorb those.
READ_AHEAD_BATCHES = 4


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
        layout = features.layout_for(feature_converter)
        if layout is not None:
            stream = HierarchicalStream(config, feature_converter.pack, shard_info, layout=layout)
            return prefetch.read_ahead(stream.batches(start_step), READ_AHEAD_BATCHES)
        logging.warning("sampler='hierarchical' has no numpy feature layout for %s; it gets the seqio pipeline.",
                        type(feature_converter).__name__)
    dataset = get_dataset(config, shard_info, feature_converter).skip(start_step)
    return dataset.as_numpy_iterator()


# ---------------------------------------------------------------------------------------------
# Hierarchical sampling: tasks drawn by rate (`sampling`), read when first drawn (`epochs`),
# packed in numpy (`features`).


class ExampleSampler:
    """Examples of a mixture: a task index from `draws`, then that task's next example from its
    reader, opened on the task's first draw. State advances only through `draw`."""

    def __init__(self, task_names: Sequence[str], draws: sampling.TaskDraws,
                 open_reader: Callable[[int], epochs.InMemoryReader | epochs.StreamedReader], mixture_name: str):
        self._names, self.draws, self._open, self._mixture = list(task_names), draws, open_reader, mixture_name
        self._readers: dict[int, epochs.InMemoryReader | epochs.StreamedReader] = {}

    @property
    def num_opened(self) -> int:
        """Tasks drawn so far (each read once through its preprocessing)."""
        return len(self._readers)

    def draw(self) -> epochs.Example:
        """The next example of the mixture."""
        index = next(self.draws)
        try:
            reader = self._readers.get(index)
            if reader is None:
                reader = self._readers[index] = self._open(index)
            return next(reader)
        except epochs.EmptyTaskError as error:
            raise mixing.MixtureError(
                f"mixture {self._mixture!r}: task {self._names[index]!r} has no examples in this split and "
                f"shard ({error}); fix its data or leave it out of the mixture."
            ) from None


class Packer:
    """First-fit packing of drawn examples into rows of fixed length (per the model's layout: encoder
    and decoder lengths apart for T5, their sum for a decoder-only prefix LM).

    Placement reads only lengths, so skipped steps are replayed with `plan` alone. An example
    that fits no row waits (in order) for the next batch; a batch is closed after `max_misses`
    examples found no room, which bounds the waiting list.
    """

    def __init__(self, sampler: ExampleSampler, batch_size: int, lengths: Mapping[str, int], pack: bool,
                 layout: features.Layout = features.ENCODER_DECODER, max_misses: int = 16):
        self._sampler, self._batch, self._lengths, self._pack = sampler, batch_size, dict(lengths), pack
        self._layout, self._max_misses = layout, max_misses
        self._waiting: collections.deque[epochs.Example] = collections.deque()

    def plan(self) -> list[list[epochs.Example]]:
        """The next batch: for each row, the examples packed into it."""
        rows: list[list[epochs.Example]] = [[] for _ in range(self._batch)]
        if not self._pack:
            for row in rows:
                row.append(self._waiting.popleft() if self._waiting else self._sampler.draw())
            return rows
        room = np.asarray(self._layout.room(self._lengths), np.int64)[:, None]
        used = np.zeros([len(room), self._batch], np.int64)
        retry, self._waiting = self._waiting, collections.deque()
        misses = 0
        while misses < self._max_misses:
            example = retry.popleft() if retry else self._sampler.draw()
            need = np.asarray(self._layout.need(example), np.int64)[:, None]
            fits = np.flatnonzero(np.all(used + need <= room, axis=0))
            if fits.size:
                used[:, fits[0]] += need[:, 0]
                rows[fits[0]].append(example)
            else:
                self._waiting.append(example)
                misses += 1
        self._waiting.extend(retry)
        return rows

    def assemble(self, rows: list[list[epochs.Example]]) -> dict[str, np.ndarray]:
        """The model features of these rows (`features.encoder_decoder` for T5)."""
        return self._layout.build(rows, self._batch, self._lengths, self._pack)


# Threads that open upcoming tasks' tf.data pipelines (tasks tokenized in Python need none): two
# keep both cores of a small machine busy while the main thread packs.
PREFETCH_WORKERS = 2


class HierarchicalStream:
    """This host's training batches drawn by leaf rate, deterministic in (config, shard, step)."""

    def __init__(self, config: DatasetConfig, pack: bool, shard_info: seqio.ShardInfo,
                 prefetch_workers: int = PREFETCH_WORKERS, layout: features.Layout = features.ENCODER_DECODER,
                 chunk: int = 256):
        for key in ("inputs", "targets"):
            if key not in config.task_feature_lengths:
                raise ValueError(
                    f"task_feature_lengths {dict(config.task_feature_lengths)} lacks {key!r}: the "
                    "hierarchical pipeline needs both inputs and targets lengths"
                )
        self.config, self.shard_info = config, shard_info
        root = registry.get_mixture_or_task(config.mixture_or_task_name)
        rates = mixing.leaf_rates(root)
        by_name = {t.name: t for t in registry.tasks_of(root)}
        names = sorted(rates)
        leaves = [by_name[n] for n in names]
        lengths = dict(config.task_feature_lengths)
        seed = sampling.derive_seed(config.seed, shard_info.index)  # hosts draw differently, the same on restart
        task_seeds = [sampling.derive_seed(seed, index) for index in range(len(leaves))]
        in_python = [epochs.reads_in_python(task, config.use_cached) for task in leaves]

        def epoch_opener(index: int) -> Callable[[int], epochs.Chunks]:
            task = leaves[index]

            def open_epoch(epoch: int) -> epochs.Chunks:
                epoch_seed = sampling.derive_seed(task_seeds[index], epoch)
                if in_python[index]:
                    return epochs.python_epoch(task, config.split, lengths, shard_info, epoch_seed, config.shuffle, chunk)
                return epochs.tf_epoch(task, config.split, lengths, shard_info, epoch_seed, config.shuffle,
                                       config.use_cached, chunk)

            return open_epoch

        draws = sampling.TaskDraws([rates[n] for n in names], seed)

        def open_first(index: int) -> epochs.OpenedEpoch:
            return epochs.open_first_chunk(lambda: epoch_opener(index)(0))

        if prefetch_workers:
            open_first = prefetch.OpenAhead(open_first, draws.first_draws, prefetch_workers,
                                            worth=lambda index: not in_python[index])

        def open_reader(index: int):
            return epochs.open_reader(epoch_opener(index), task_seeds[index], config.shuffle, chunk, open_first(index))

        self.sampler = ExampleSampler(names, draws, open_reader, config.mixture_or_task_name)
        self.packer = Packer(self.sampler, per_host_batch_size(config.batch_size, shard_info.num_shards), lengths,
                             pack, layout)

    def batches(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Batches from `start_step` on; the steps before it are replayed on lengths only."""
        for _ in range(start_step):
            self.packer.plan()
        while True:
            yield self.packer.assemble(self.packer.plan())
