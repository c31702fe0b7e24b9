"""Mixture or task -> feature converter -> per-host numpy batches.

Each host reads its own shard of the global batch (seqio.ShardInfo from the process index), so
the per-host batch is `global_batch_size // process_count`. The stream is a pure function of
(config, shard, step): a run resumed at step k sees exactly the batches an uninterrupted run
would have.

Two ways to build the training stream, chosen by `DatasetConfig.sampler`:

* "hierarchical" (default for encoder-decoder training): the mixture's leaf rates come from
  `mixing.leaf_rates`; a seeded numpy generator draws a task per example; each task's shard is
  tokenized by seqio (its own preprocessors) the first time it is drawn and then kept in memory;
  examples are packed in numpy into exactly the features `seqio.EncDecFeatureConverter` emits.
  A plain `seqio.Mixture` over ~1,800 tasks builds one tf.data pipeline per task up front and
  interleaves them with `sample_from_datasets`: minutes to the first batch and GiBs of buffers.
  Here a task costs nothing until drawn. Resuming replays the draws and the packing on example
  lengths only (no token copies), which is what makes the stream a function of the step.
* "seqio": `seqio.get_dataset` as t5x does it; used for any other feature converter.
"""
import collections
import dataclasses
import difflib
import logging
from typing import Callable, Iterator, Mapping, Sequence

import jax
import numpy as np
import seqio
import tensorflow as tf

from flan_jax.data import mixing

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
            return HierarchicalStream(config, feature_converter.pack, shard_info).batches(start_step)
        logging.warning(
            "sampler='hierarchical' packs for seqio.EncDecFeatureConverter only; %s gets the "
            "seqio pipeline.",
            type(feature_converter).__name__,
        )
    dataset = get_dataset(config, shard_info, feature_converter).skip(start_step)
    return dataset.as_numpy_iterator()


def _numpy_packable(feature_converter: seqio.FeatureConverter) -> bool:
    return (
        type(feature_converter) is seqio.EncDecFeatureConverter
        and feature_converter.bos_id == 0
        and not feature_converter._passthrough_features  # pylint: disable=protected-access
    )


# ---------------------------------------------------------------------------------------------
# Hierarchical sampling: tasks drawn in numpy, loaded when first drawn, packed in numpy.


@dataclasses.dataclass(frozen=True)
class TaskExamples:
    """One task's shard, tokenized: examples as ragged rows of two flat token arrays."""

    name: str
    inputs: np.ndarray
    inputs_splits: np.ndarray  # example i is inputs[inputs_splits[i]:inputs_splits[i + 1]]
    targets: np.ndarray
    targets_splits: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs_splits) - 1

    @property
    def input_lengths(self) -> np.ndarray:
        return np.diff(self.inputs_splits)

    @property
    def target_lengths(self) -> np.ndarray:
        return np.diff(self.targets_splits)


def load_task_examples(
    task: seqio.Task,
    split: str,
    task_feature_lengths: Mapping[str, int],
    shard_info: seqio.ShardInfo,
    seed: int,
    use_cached: bool = False,
    read_batch: int = 4096,
) -> TaskExamples:
    """Reads one epoch of `task`'s shard through its seqio preprocessors, trimmed to length.

    Shuffling happens later, in numpy, so the file order read here is fixed; `seed` feeds the
    task's own random preprocessors (seqio's convention).
    """
    dataset = task.get_dataset(
        sequence_length=dict(task_feature_lengths),
        split=split,
        use_cached=use_cached,
        shuffle=False,
        seed=seed,
        shard_info=shard_info,
        num_epochs=1,
        trim_output_features=True,
    )
    dataset = dataset.map(lambda ex: {"inputs": ex["inputs"], "targets": ex["targets"]})
    dtype = _token_dtype(task)
    parts = {"inputs": [], "targets": []}
    for batch in dataset.ragged_batch(read_batch):
        for key in parts:
            parts[key].append(batch[key])
    flat, splits = {}, {}
    for key, ragged in parts.items():
        if ragged:
            values = tf.concat([r.flat_values for r in ragged], 0).numpy().astype(dtype)
            lengths = np.concatenate([r.row_lengths().numpy() for r in ragged])
        else:
            values, lengths = np.zeros([0], dtype), np.zeros([0], np.int64)
        flat[key] = values
        splits[key] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return TaskExamples(task.name, flat["inputs"], splits["inputs"], flat["targets"], splits["targets"])


def _token_dtype(task: seqio.Task) -> np.dtype:
    """The smallest integer type for the task's token ids: T5's 32,128 ids fit in uint16."""
    size = max(f.vocabulary.vocab_size for k, f in task.output_features.items() if k in ("inputs", "targets"))
    return np.uint16 if size <= np.iinfo(np.uint16).max + 1 else np.int32


class TaskSampler:
    """Draws (task, example) pairs: tasks by rate from a seeded generator, examples epoch by epoch.

    State is explicit (the generator, a cursor per task) and advances only through `draw`, so two
    samplers built from the same arguments yield the same sequence.
    """

    def __init__(
        self,
        tasks: Sequence[seqio.Task],
        rates: Sequence[float],
        load: Callable[[seqio.Task], TaskExamples],
        seed: int,
        shuffle: bool,
        mixture_name: str,
        chunk: int = 4096,
    ):
        self._tasks, self._load = list(tasks), load
        self._probs = np.asarray(rates, np.float64) / np.sum(rates)
        self._seed, self._shuffle, self._mixture, self._chunk = seed, shuffle, mixture_name, chunk
        self._rng = np.random.default_rng(seed)
        self._queue: collections.deque[int] = collections.deque()
        self._data: dict[int, TaskExamples] = {}
        self._cursor = np.zeros(len(self._tasks), np.int64)
        self._orders: dict[int, tuple[int, np.ndarray]] = {}

    def examples(self, index: int) -> TaskExamples:
        if index not in self._data:
            data = self._load(self._tasks[index])
            if len(data) == 0:
                raise mixing.MixtureError(
                    f"mixture {self._mixture!r}: task {data.name!r} has no examples in this "
                    "split and shard; fix its data or leave it out of the mixture."
                )
            self._data[index] = data
        return self._data[index]

    @property
    def num_loaded(self) -> int:
        return len(self._data)

    def next_task(self) -> int:
        """The index of the next task drawn by rate (loads nothing)."""
        if not self._queue:
            self._queue.extend(self._rng.choice(len(self._tasks), size=self._chunk, p=self._probs).tolist())
        return self._queue.popleft()

    def draw(self) -> tuple[int, int]:
        """The next (task index, example index)."""
        task = self.next_task()
        n = len(self.examples(task))
        position = int(self._cursor[task])
        self._cursor[task] += 1
        epoch, offset = divmod(position, n)
        if not self._shuffle:
            return task, offset
        cached = self._orders.get(task)
        if cached is None or cached[0] != epoch:
            order = np.random.default_rng([self._seed, task, epoch]).permutation(n)
            self._orders[task] = cached = (epoch, order)
        return task, int(cached[1][offset])


class Packer:
    """First-fit packing of drawn examples into rows of fixed encoder/decoder length.

    Placement reads only lengths, so `plan` can replay skipped steps without copying tokens.
    An example that fits no row waits (in order) for the next batch; a batch is closed after
    `max_misses` examples found no room, which bounds the waiting list.
    """

    def __init__(self, sampler: TaskSampler, batch_size: int, lengths: tuple[int, int], pack: bool, max_misses: int = 16):
        self._sampler, self._batch, self._lengths, self._pack = sampler, batch_size, lengths, pack
        self._max_misses = max_misses
        self._waiting: collections.deque[tuple[int, int]] = collections.deque()

    def plan(self) -> list[list[tuple[int, int]]]:
        """The next batch: for each row, the (task, example) pairs packed into it."""
        rows: list[list[tuple[int, int]]] = [[] for _ in range(self._batch)]
        if not self._pack:
            for row in rows:
                row.append(self._waiting.popleft() if self._waiting else self._sampler.draw())
            return rows
        used = np.zeros([2, self._batch], np.int64)
        room = np.asarray(self._lengths, np.int64)[:, None]
        retry, self._waiting = self._waiting, collections.deque()
        misses = 0
        while misses < self._max_misses:
            ref = retry.popleft() if retry else self._sampler.draw()
            data = self._sampler.examples(ref[0])
            need = np.array(
                [
                    data.inputs_splits[ref[1] + 1] - data.inputs_splits[ref[1]],
                    data.targets_splits[ref[1] + 1] - data.targets_splits[ref[1]],
                ]
            )[:, None]
            fits = np.flatnonzero(np.all(used + need <= room, axis=0))
            if fits.size:
                used[:, fits[0]] += need[:, 0]
                rows[fits[0]].append(ref)
            else:
                self._waiting.append(ref)
                misses += 1
        self._waiting.extend(retry)
        return rows

    def assemble(self, rows: list[list[tuple[int, int]]]) -> dict[str, np.ndarray]:
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
            for segment, (task, example) in enumerate(row, start=1):
                data = self._sampler.examples(task)
                inputs = data.inputs[data.inputs_splits[example]:data.inputs_splits[example + 1]]
                targets = data.targets[data.targets_splits[example]:data.targets_splits[example + 1]]
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


class HierarchicalStream:
    """This host's training batches drawn by leaf rate, deterministic in (config, shard, step)."""

    def __init__(self, config: DatasetConfig, pack: bool, shard_info: seqio.ShardInfo):
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

        def load(task: seqio.Task) -> TaskExamples:
            return load_task_examples(
                task, config.split, lengths, shard_info, seed=config.seed, use_cached=config.use_cached
            )

        self.sampler = TaskSampler(
            [tasks[n] for n in names],
            [rates[n] for n in names],
            load,
            seed=hash_seed(config.seed, shard_info.index),
            shuffle=config.shuffle,
            mixture_name=config.mixture_or_task_name,
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
