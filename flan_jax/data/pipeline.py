"""Mixture or task -> feature converter -> per-host numpy batches.

Each host reads its own shard of the global batch (seqio.ShardInfo from the process index), so
the per-host batch is `global_batch_size // process_count`. The stream is a pure function of
(config, shard, step): resuming at step k skips k batches of the same deterministic stream, so a
resumed run sees exactly the batches an uninterrupted run would have.
"""
import dataclasses
import difflib
from typing import Iterator, Mapping

import jax
import numpy as np
import seqio
import tensorflow as tf


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
    """

    mixture_or_task_name: str
    task_feature_lengths: Mapping[str, int]
    split: str = "train"
    batch_size: int = 64
    shuffle: bool = True
    seed: int = 0
    pack: bool = True
    use_cached: bool = False


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
    dataset = get_dataset(config, shard_info, feature_converter).skip(start_step)
    return dataset.as_numpy_iterator()
