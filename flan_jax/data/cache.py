"""`flan-jax cache TASK_OR_MIXTURE --output DIR`: preprocess tasks once, with Apache Beam.

seqio's offline cache (`seqio/scripts/cache_tasks_main.py`, written against absl flags) run as a
library call: every task of the mixture that has a `seqio.CacheDatasetPlaceholder` is read,
preprocessed up to the placeholder, globally shuffled and written as TFRecords with seqio's
info and stats files, so seqio finds it (`seqio.add_global_cache_dirs`) and training with
USE_CACHED_TASKS=True skips the preprocessing (and `mixing.num_examples` reads the stats).

    flan-jax cache synthetic_train --output /data/seqio_cache
    flan-jax cache flan2022 --output gs://bucket/cache --runner DataflowRunner -- --project=...

apache-beam is an optional dependency (`pip install flan-jax[beam]`); it is imported only here.
"""
import argparse
import hashlib
import importlib
import logging
import os
from typing import Sequence

import seqio
import tensorflow as tf

from flan_jax.data import registry

DEFAULT_MODULES = ("flan_jax_tasks.mixtures",)


def import_beam():
    """apache_beam, or an error that says how to install it."""
    try:
        import apache_beam as beam  # pylint: disable=import-outside-toplevel
        from seqio import beam_utils  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise ImportError(
            f"`flan-jax cache` needs Apache Beam ({e}); install it with "
            "`pip install 'flan-jax[beam]'` (or `pip install apache-beam`)."
        ) from e
    return beam, beam_utils


def add_cache_dirs(cache_dirs: Sequence[str]) -> None:
    """Lets seqio find cached tasks in `cache_dirs` (what USE_CACHED_TASKS=True reads)."""
    if cache_dirs:
        seqio.add_global_cache_dirs(list(cache_dirs))


def cacheable_tasks(name: str) -> tuple[list[seqio.Task], list[str]]:
    """The tasks of `name` that can be cached, and the names of those that cannot (no placeholder)."""
    tasks = registry.tasks_of(name)
    return [t for t in tasks if t.supports_caching], [t.name for t in tasks if not t.supports_caching]


def task_seed(task_name: str, base_seed: int | None) -> int | None:
    """seqio's per-task preprocessing seed: the task name's hash plus the base seed."""
    if base_seed is None:
        return None
    return int.from_bytes(hashlib.md5(task_name.encode()).digest(), "little") + base_seed


def build_cache_pipeline(
    beam_pipeline,
    tasks: Sequence[seqio.Task],
    output_dir: str,
    modules: Sequence[str] = (),
    base_seed: int | None = None,
    min_shards: int = 1,
) -> list[str]:
    """Adds, per task and split, seqio's preprocess -> shuffle -> TFRecord + info + stats steps.

    Returns:
      The task cache directories that the pipeline writes.
    """
    beam, beam_utils = import_beam()
    written = []
    for task in tasks:
        task_dir = os.path.join(output_dir, seqio.get_task_dir_from_name(task.name))
        done = []
        for split in task.splits:
            label = f"{task.name}_{split}"
            preprocess = beam_utils.PreprocessTask(
                task, split, modules_to_import=list(modules), preprocessors_seed=task_seed(task.name, base_seed)
            )
            num_shards = max(len(preprocess.shards), min_shards)
            examples = (
                beam_pipeline
                | f"{label}_preprocess" >> preprocess
                | f"{label}_shuffle" >> beam.Reshuffle()  # a global shuffle, as seqio's cache does
            )
            done.append(
                examples
                | f"{label}_write" >> beam_utils.WriteExampleTfRecord(
                    seqio.get_cached_tfrecord_prefix(task_dir, split), num_shards=num_shards)
            )
            done.append(
                examples
                | f"{label}_info" >> beam_utils.GetInfo(num_shards)
                | f"{label}_write_info" >> beam_utils.WriteJson(seqio.get_cached_info_path(task_dir, split))
            )
            done.append(
                examples
                | f"{label}_stats" >> beam_utils.GetStats(task.output_features)
                | f"{label}_write_stats" >> beam_utils.WriteJson(seqio.get_cached_stats_path(task_dir, split))
            )
        # COMPLETED (empty) once every split is written: seqio only trusts a completed cache.
        _ = (
            done
            | f"{task.name}_flatten" >> beam.Flatten()
            | f"{task.name}_discard" >> beam.Filter(lambda _: False)
            | f"{task.name}_completed" >> beam.io.textio.WriteToText(
                os.path.join(task_dir, "COMPLETED"), append_trailing_newlines=False, num_shards=1,
                shard_name_template="")
        )
        written.append(task_dir)
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flan-jax cache", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a registered task or mixture")
    parser.add_argument("--output", required=True, help="cache directory (local or gs://)")
    parser.add_argument("--runner", default="DirectRunner", help="Beam runner (DirectRunner, DataflowRunner, ...)")
    parser.add_argument("--module", action="append", default=None,
                        help=f"module that registers the tasks (repeatable; default {DEFAULT_MODULES[0]})")
    parser.add_argument("--overwrite", action="store_true", help="re-cache tasks already cached in --output")
    parser.add_argument("--base-seed", type=int, default=None, help="seed of random preprocessors")
    parser.add_argument("--min-shards", type=int, default=1)
    parser.add_argument("pipeline_options", nargs="*", help="extra Beam options, after --")
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of `flan-jax cache`."""
    args = _parser().parse_args(list(argv))
    try:
        beam, _ = import_beam()
    except ImportError as e:
        print(f"flan-jax cache: {e}", flush=True)
        return 1
    modules = args.module or list(DEFAULT_MODULES)
    for module in modules:
        importlib.import_module(module)
    add_cache_dirs([args.output])
    try:
        tasks, skipped = cacheable_tasks(args.name)
    except ValueError as e:
        print(f"flan-jax cache: {e}")
        return 1
    if skipped:
        logging.warning("Not cacheable (no seqio.CacheDatasetPlaceholder): %s", ", ".join(skipped))
    todo = []
    for task in tasks:
        own = os.path.join(args.output, seqio.get_task_dir_from_name(task.name))
        if task.cache_dir and not args.overwrite:
            logging.info("Task %s is already cached in %s; skipping (--overwrite re-caches).", task.name, task.cache_dir)
            continue
        if task.cache_dir == own:
            tf.io.gfile.rmtree(own)
        todo.append(task)
    if not todo:
        print(f"Nothing to cache for {args.name}: {len(tasks)} cached, {len(skipped)} not cacheable.")
        return 0
    tf.io.gfile.makedirs(args.output)
    options = beam.options.pipeline_options.PipelineOptions([f"--runner={args.runner}", *args.pipeline_options])
    with beam.Pipeline(options=options) as beam_pipeline:
        written = build_cache_pipeline(beam_pipeline, todo, args.output, modules, args.base_seed, args.min_shards)
    print(f"Cached {len(written)} task(s) of {args.name} under {args.output}")
    return 0
