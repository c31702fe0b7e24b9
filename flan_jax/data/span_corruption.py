"""T5's span corruption, the pretraining objective (Raffel et al. 2020, Sec. 3.1.4 and 3.3).

A fraction of the tokens (the noise density, 15%) in spans of mean length 3 is dropped from the
inputs, each span replaced by one sentinel; the targets are the dropped spans, each after its
sentinel:

    original: Thank you for inviting me to your party last week.
    inputs:   Thank you <extra_id_0> me to your party <extra_id_1> week.
    targets:  <extra_id_0> for inviting <extra_id_1> last

Sentinels count down from the top of the vocabulary (T5's `sentinel_id`: `<extra_id_0>` is
`vocab_size - 1`, the next span's `vocab_size - 2`, ...), i.e. they are the vocabulary's extra ids.

Why not import it: seqio (0.0.20) ships no span corruption, and the `t5` package, which does
(`t5.data.preprocessors`), pins seqio-nightly and tfds-nightly, whose installs would replace this
project's seqio and tensorflow-datasets. So the functions below follow `t5.data.preprocessors`
step for step (`random_spans_helper`, `random_spans_noise_mask`, `noise_span_to_unique_sentinel`,
`nonnoise_span_to_unique_sentinel`, `span_corruption`), in numpy: the corruption is a pure
function of token ids and a random generator, which the Python input pipeline can call, and
`span_corruption` wraps it as a seqio preprocessor for tf.data.
"""
from typing import Mapping

import numpy as np
import seqio
import tensorflow as tf

# T5's defaults (Raffel et al. 2020, Table 7: 15% corruption, mean span length 3).
NOISE_DENSITY = 0.15
MEAN_NOISE_SPAN_LENGTH = 3.0
# T5's reduce_concat_tokens: documents concatenated per group before the split into segments.
DOCUMENTS_PER_GROUP = 128


def noise_counts(length: int, noise_density: float = NOISE_DENSITY,
                 mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH) -> tuple[int, int]:
    """(noise tokens, noise spans) of a sequence of `length` tokens, as `random_spans_noise_mask`.

    At least one noise token and one non-noise token, at least one span. Computed in float32 and
    rounded half to even, as T5's TensorFlow code does, so the counts are T5's for every length.
    """
    length = max(length, 2)  # T5: "increase length to avoid degeneracy"
    num_noise_tokens = int(np.round(np.float32(length) * np.float32(noise_density)))
    num_noise_tokens = min(max(num_noise_tokens, 1), length - 1)
    num_noise_spans = max(int(np.round(np.float32(num_noise_tokens) / np.float32(mean_noise_span_length))), 1)
    return num_noise_tokens, num_noise_spans


def random_spans_helper(inputs_length: int, noise_density: float = NOISE_DENSITY,
                        mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH) -> tuple[int, int]:
    """(raw tokens per example, targets length) so that corrupted inputs + EOS fill `inputs_length`.

    T5's `random_spans_helper` with one sentinel per span in inputs and targets: the longest raw
    segment whose inputs (non-noise tokens, a sentinel per span, EOS) fit, and the length of its
    targets (noise tokens, a sentinel per span, EOS). T5 pretraining: 512 -> (568, 114).
    """
    def lengths(tokens_length: int) -> tuple[int, int]:
        num_noise_tokens = int(round(tokens_length * noise_density))
        num_noise_spans = int(round(num_noise_tokens / mean_noise_span_length))
        return tokens_length - num_noise_tokens + num_noise_spans + 1, num_noise_tokens + num_noise_spans + 1

    tokens_length = inputs_length - 1
    while lengths(tokens_length + 1)[0] <= inputs_length:
        tokens_length += 1
    return tokens_length, lengths(tokens_length)[1]


def random_segmentation(num_items: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """`num_items` split into `num_segments` non-empty runs, uniformly over all such splits: their lengths."""
    cuts = np.sort(rng.choice(num_items - 1, num_segments - 1, replace=False) + 1)
    return np.diff(np.concatenate([[0], cuts, [num_items]]))


def random_spans_noise_mask(length: int, rng: np.random.Generator, noise_density: float = NOISE_DENSITY,
                            mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH) -> np.ndarray:
    """Boolean noise mask of random spans (T5's `random_spans_noise_mask`, without random_roll).

    Spans alternate non-noise, noise, non-noise, ..., starting with non-noise and ending with
    noise; the number of each is `noise_counts`; every mask with those counts is equally likely.
    """
    if noise_density == 0.0:
        return np.zeros(length, bool)
    padded = max(length, 2)
    num_noise_tokens, num_noise_spans = noise_counts(padded, noise_density, mean_noise_span_length)
    noise_lengths = random_segmentation(num_noise_tokens, num_noise_spans, rng)
    nonnoise_lengths = random_segmentation(padded - num_noise_tokens, num_noise_spans, rng)
    span_lengths = np.stack([nonnoise_lengths, noise_lengths], axis=1).reshape(-1)
    is_noise = np.tile([False, True], num_noise_spans)
    return np.repeat(is_noise, span_lengths)[:length]


def noise_span_to_unique_sentinel(tokens: np.ndarray, noise_mask: np.ndarray, first_sentinel: int) -> np.ndarray:
    """Each run of noise tokens replaced by one sentinel: `first_sentinel`, then one less per run."""
    previous_is_noise = np.concatenate([[False], noise_mask[:-1]])
    first_noise = noise_mask & ~previous_is_noise
    sentinels = first_sentinel + 1 - np.cumsum(first_noise)
    return np.where(first_noise, sentinels, tokens)[~(noise_mask & previous_is_noise)].astype(tokens.dtype)


def nonnoise_span_to_unique_sentinel(tokens: np.ndarray, noise_mask: np.ndarray, first_sentinel: int) -> np.ndarray:
    """Each run of non-noise tokens replaced by one sentinel (the targets of span corruption)."""
    return noise_span_to_unique_sentinel(tokens, ~noise_mask, first_sentinel)


def corrupt(tokens: np.ndarray, rng: np.random.Generator, first_sentinel: int, noise_density: float = NOISE_DENSITY,
            mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of one token sequence (no EOS: it is appended later, as in T5).

    Args:
      tokens: 1-D token ids.
      rng: draws the noise mask.
      first_sentinel: the first span's sentinel id (T5: `vocabulary.vocab_size - 1`).
      noise_density: fraction of tokens dropped from the inputs.
      mean_noise_span_length: mean length of a dropped span.
    """
    tokens = np.asarray(tokens)
    mask = random_spans_noise_mask(len(tokens), rng, noise_density, mean_noise_span_length)
    return (noise_span_to_unique_sentinel(tokens, mask, first_sentinel),
            nonnoise_span_to_unique_sentinel(tokens, mask, first_sentinel))


def span_corruption(
    dataset: tf.data.Dataset,
    sequence_length: Mapping[str, int] | None,
    output_features: Mapping[str, seqio.Feature],
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> tf.data.Dataset:
    """seqio preprocessor: tokenized "targets" -> span-corrupted "inputs" and "targets".

    As T5's `span_corruption`: documents are concatenated in groups of 128 and cut into segments
    of the raw length whose corrupted inputs, with EOS, fill `sequence_length["inputs"]` (so no
    padding and no truncation); each segment is corrupted with seqio's per-example seed. Place it
    after `seqio.CacheDatasetPlaceholder()` (it is random) and before `append_eos_after_trim`.
    Without a sequence length (`flan-jax tasks show`) each document is corrupted whole.

    Raises:
      ValueError: the inputs and targets vocabularies differ, TASK_FEATURE_LENGTHS' targets are
        shorter than the corrupted targets, or the vocabulary has fewer extra ids (sentinels)
        than a segment has spans.
    """
    vocabulary = output_features["targets"].vocabulary
    if "inputs" in output_features and output_features["inputs"].vocabulary != vocabulary:
        raise ValueError("span_corruption makes inputs from the tokenized targets: the task's inputs and targets "
                         "features need the same vocabulary.")
    tokens_length = None
    if sequence_length is not None:
        tokens_length, targets_length = random_spans_helper(sequence_length["inputs"], noise_density, mean_noise_span_length)
        if sequence_length["targets"] < targets_length:
            raise ValueError(
                f"Span corruption of {tokens_length}-token segments (inputs length {sequence_length['inputs']}) makes "
                f"targets of {targets_length} tokens, more than the targets length {sequence_length['targets']}: "
                f"raise TASK_FEATURE_LENGTHS['targets'] to at least {targets_length}.")
        _, num_spans = noise_counts(tokens_length, noise_density, mean_noise_span_length)
        if num_spans > vocabulary.extra_ids:
            raise ValueError(
                f"Span corruption of {tokens_length}-token segments needs {num_spans} sentinels but the vocabulary "
                f"{vocabulary} has {vocabulary.extra_ids} extra ids: use a vocabulary with more (e.g. "
                "flan_jax.data.vocabularies.byte_vocabulary(extra_ids=125)) or shorter inputs.")
    dataset = dataset.filter(_not_empty).map(_targets_only)
    if tokens_length is not None:
        dataset = _concatenate_and_split(dataset, tokens_length)
    return _denoise(dataset, first_sentinel=vocabulary.vocab_size - 1, noise_density=noise_density,
                    mean_noise_span_length=mean_noise_span_length)


def _concatenate_and_split(dataset: tf.data.Dataset, length: int) -> tf.data.Dataset:
    """T5's reduce_concat_tokens + split_tokens: groups of documents, joined, cut into `length`-token segments."""
    def split(group):
        tokens = group["targets"].flat_values
        num_tokens = tf.size(tokens, out_type=tf.int64)
        num_full = num_tokens // length
        row_lengths = tf.concat([tf.fill([num_full], tf.constant(length, tf.int64)),
                                 tf.reshape(num_tokens - num_full * length, [1])], axis=0)
        segments = tf.RaggedTensor.from_row_lengths(tokens, row_lengths)
        return tf.data.Dataset.from_tensor_slices({"targets": segments})

    grouped = dataset.ragged_batch(DOCUMENTS_PER_GROUP)
    return grouped.flat_map(split).filter(_not_empty)


def _not_empty(features) -> tf.Tensor:
    return tf.size(features["targets"]) > 0


def _targets_only(features) -> dict[str, tf.Tensor]:
    return {"targets": features["targets"]}


@seqio.map_over_dataset(num_seeds=1)
def _denoise(features, seed, *, first_sentinel: int, noise_density: float, mean_noise_span_length: float):
    tokens = features["targets"]
    settings = [tf.constant(first_sentinel, tf.int64), tf.constant(noise_density, tf.float64),
                tf.constant(mean_noise_span_length, tf.float64)]
    inputs, targets = tf.numpy_function(_corrupt_with_seed, [tokens, seed, *settings], [tokens.dtype, tokens.dtype],
                                        stateful=False)
    inputs.set_shape([None])
    targets.set_shape([None])
    return {"inputs": inputs, "targets": targets}


def _corrupt_with_seed(tokens: np.ndarray, seed: np.ndarray, first_sentinel: np.ndarray, noise_density: np.ndarray,
                       mean_noise_span_length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`corrupt` with seqio's per-example seed. Module-level, not a closure: TensorFlow keeps only a
    weak reference to a numpy_function's callable, and a closure collected while a tf.data thread
    still runs the pipeline fails that thread."""
    rng = np.random.default_rng(seed.astype(np.int64).view(np.uint64))
    return corrupt(tokens, rng, int(first_sentinel), float(noise_density), float(mean_noise_span_length))
