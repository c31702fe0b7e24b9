"""Helpers shared by the trainer tests and their subprocesses: a tiny T5 and tiny seqio tasks.

No side effects at import: tests register the task under the `clean_registries` fixture;
subprocesses import `tiny_tasks` (which registers it) as MIXTURE_OR_TASK_MODULE.
"""
from typing import Callable

import jax
import numpy as np
import seqio
import tensorflow as tf

from flan_jax.data import pipeline, vocabularies

TASK_NAME = "tiny_reverse"
LENGTHS = {"inputs": 32, "targets": 16}
NUM_EXAMPLES = 512


def _words(num_examples: int) -> list[str]:
    """Deterministic lowercase words of 3-10 letters."""
    rng = np.random.default_rng(1234)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=rng.integers(3, 11))) for _ in range(num_examples)]


def _dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    del shuffle_files, seed
    words = _words(NUM_EXAMPLES if split == "train" else 64)
    if split == "validation":
        words = words[::-1]
    return tf.data.Dataset.from_tensor_slices(
        {"inputs": [f"reverse: {w}" for w in words], "targets": [w[::-1] for w in words]}
    )


def exact_match_accuracy(targets, predictions) -> dict[str, float]:
    """A seqio metric: the percentage of predictions equal to their target."""
    return {"accuracy": 100.0 * float(np.mean([t == p for t, p in zip(targets, predictions)]))}


def register(name: str = TASK_NAME, cacheable: bool = False, metric_fns=(),
             dataset_fn: Callable[..., tf.data.Dataset] = _dataset_fn) -> str:
    """Registers a task of text "inputs" and "targets" (byte vocabulary, EOS appended), by
    default one whose examples ask to reverse a word.

    `cacheable` puts a seqio.CacheDatasetPlaceholder after tokenization, so `flan-jax cache`
    can write it and USE_CACHED_TASKS = True read it; `metric_fns` score its predictions;
    `dataset_fn(split, shuffle_files, seed)` gives the "train" and "validation" examples.
    """
    vocabulary = vocabularies.byte_vocabulary()
    features = {key: seqio.Feature(vocabulary, add_eos=True) for key in ("inputs", "targets")}
    cache = [seqio.CacheDatasetPlaceholder()] if cacheable else []
    seqio.TaskRegistry.add(
        name,
        source=seqio.FunctionDataSource(dataset_fn, splits=("train", "validation")),
        preprocessors=[seqio.preprocessors.tokenize, *cache, seqio.preprocessors.append_eos_after_trim],
        output_features=features,
        metric_fns=list(metric_fns),
    )
    return name


def t5_config(dropout_rate: float = 0.0, **overrides):
    from flan_jax.models import t5

    settings = dict(
        vocab_size=384, emb_dim=32, num_heads=4, num_encoder_layers=2, num_decoder_layers=2,
        head_dim=8, mlp_dim=64, dropout_rate=dropout_rate, dtype="float32",
    )
    settings.update(overrides)
    return t5.T5Config(**settings)


def tiny_model(dropout_rate: float = 0.0, **overrides):
    """The real EncoderDecoderModel around a 2+2-layer, 32-wide T5 with the byte vocabulary."""
    from flan_jax.models import model, t5

    vocabulary = vocabularies.byte_vocabulary()
    module = t5.Transformer(config=t5_config(dropout_rate, **overrides))
    return model.EncoderDecoderModel(module, vocabulary, vocabulary)


def dataset_config(batch_size: int = 8, pack: bool = True, **overrides) -> pipeline.DatasetConfig:
    settings = dict(
        mixture_or_task_name=TASK_NAME, task_feature_lengths=LENGTHS, batch_size=batch_size,
        shuffle=False, pack=pack, seed=0,
    )
    settings.update(overrides)
    return pipeline.DatasetConfig(**settings)


def fixed_batches(num_batches: int, batch_size: int = 8, pack: bool = True) -> list[dict[str, np.ndarray]]:
    """Batches of model features built without the registry (for module-scoped fixtures)."""
    vocabulary = vocabularies.byte_vocabulary()

    def tokenize(example):
        return {k: tf.concat([vocabulary.encode_tf(v), [1]], 0) for k, v in example.items()}

    dataset = _dataset_fn("train", False).map(tokenize)
    converter = seqio.EncDecFeatureConverter(pack=pack)
    dataset = converter(dataset, LENGTHS).batch(batch_size, drop_remainder=True)
    return [jax.tree.map(np.asarray, b) for b in dataset.take(num_batches).as_numpy_iterator()]
