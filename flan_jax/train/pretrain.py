"""`flan-jax pretrain`: span-corruption pretraining (gin/runs/pretrain.gin), cached by its config.

    flan-jax pretrain                                 # trains once, then reuses; prints the checkpoint
    flan-jax pretrain --gin.TRAIN_STEPS=4000 --gin_file=models/t5_1_1/small_cpu.gin

gin/runs/pretrain.gin is the first gin file; `--gin_file` adds files after it, and the other
flags are `flan-jax train`'s. With MODEL_DIR = None (pretrain.gin's default) the run goes to
PRETRAIN_CACHE_DIR/<key>, where the key hashes the parsed gin config (less MODEL_DIR and the
cache directory) and the first training batch (so the corpus, its corruption and the lengths as
the trainer sees them). A rerun with the same config finds the finished checkpoint and trains
nothing; an interrupted one resumes where it stopped. The experiments and `make demo` call
`pretrained_checkpoint` to the same effect. The last line printed is the checkpoint's path, a
step directory that INITIAL_CHECKPOINT_PATH accepts.
"""
import argparse
import hashlib
import logging
import pathlib
import re
import sys
from typing import Mapping, Sequence

import numpy as np

from flan_jax import console, gin_flags
from flan_jax.train import main as train_main

PROG = "flan-jax pretrain"
RUN_FILE = "runs/pretrain.gin"
CACHE_DIR_MACRO = "PRETRAIN_CACHE_DIR"
# Where a run is written does not change what it computes.
UNKEYED_MACROS = ("MODEL_DIR", CACHE_DIR_MACRO)


def cache_key(config_text: str, first_batch: Mapping[str, np.ndarray]) -> str:
    """16 hex digits of a SHA-256 over a gin config (less the UNKEYED_MACROS) and a batch of arrays."""
    unkeyed = re.compile(rf"^({'|'.join(UNKEYED_MACROS)})\s*=")
    digest = hashlib.sha256()
    digest.update("\n".join(line for line in config_text.splitlines() if not unkeyed.match(line)).encode())
    for name in sorted(first_batch):
        array = np.ascontiguousarray(first_batch[name])
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def finished_checkpoint(model_dir: str | pathlib.Path, train_steps: int) -> pathlib.Path | None:
    """MODEL_DIR's checkpoint of step `train_steps` when it is complete (orbax renames a step's
    directory into place only once written), else None."""
    from flan_jax.train import checkpoints

    step_dir = pathlib.Path(model_dir).absolute() / checkpoints.CHECKPOINTS_SUBDIR / str(train_steps)
    return step_dir if (step_dir / checkpoints.PARAMS_ITEM).is_dir() else None


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    """`flan-jax train`'s flags, with RUN_FILE first among the gin files."""
    flags = gin_flags.parse(gin_flags.make_parser(PROG, __doc__.split("\n\n")[0]), argv)
    flags.gin_file = [RUN_FILE] + [f for f in flags.gin_file if f != RUN_FILE]
    return flags


def first_batch_fingerprint() -> dict[str, np.ndarray]:
    """The first training batch of the parsed config's `train/utils.DatasetConfig`, as one host
    reading everything sees it (so every host computes the same key)."""
    import gin
    import seqio

    from flan_jax import gin_configurables
    from flan_jax.data import pipeline

    gin_flags.import_module(gin_flags.macro("MIXTURE_OR_TASK_MODULE"))
    with gin.config_scope("train"):
        config = gin_configurables.DatasetConfig()
    batches = pipeline.train_batches(config, seqio.EncDecFeatureConverter(pack=config.pack), 0, seqio.ShardInfo(0, 1))
    try:
        return next(batches)
    finally:
        batches.close()


def run(flags: argparse.Namespace) -> pathlib.Path:
    """Resolves MODEL_DIR (the cache key when it is None), trains unless finished, returns the checkpoint."""
    import gin

    gin_flags.parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths)
    train_steps = gin_flags.macro("TRAIN_STEPS")
    model_dir = gin_flags.macro("MODEL_DIR")
    if model_dir is None:
        cache_dir = gin_flags.macro(CACHE_DIR_MACRO)
        if not cache_dir:
            raise ValueError(f"MODEL_DIR and {CACHE_DIR_MACRO} are both unset: set one (gin/runs/pretrain.gin "
                             "sets the cache directory).")
        with console.native_stderr_to_log():  # the first tf.data batch starts TensorFlow's devices
            fingerprint = first_batch_fingerprint()
        model_dir = str(pathlib.Path(cache_dir) / cache_key(gin.config_str(), fingerprint))
    done = finished_checkpoint(model_dir, train_steps)
    if done is not None:
        logging.info("Pretrained checkpoint found, nothing to train: %s", done)
        return done
    logging.info("Pretraining into %s", model_dir)
    gin_flags.add_binding(flags, f"MODEL_DIR = {str(model_dir)!r}")
    train_main.run(flags)
    done = finished_checkpoint(model_dir, train_steps)
    if done is None:
        raise FileNotFoundError(f"Pretraining into {model_dir!r} ended without a checkpoint of step {train_steps}.")
    return done


def pretrained_checkpoint(
    gin_files: Sequence[str] = (), gin_bindings: Sequence[str] = (), show_progress: bool = True
) -> pathlib.Path:
    """The checkpoint gin/runs/pretrain.gin (+ `gin_files`, `gin_bindings`) makes: cached, or trained now.

    For the experiments and the demo. It parses gin itself, replacing the current config: call it
    before parsing your own.

    Args:
      gin_files: gin files after runs/pretrain.gin (a model file, overrides).
      gin_bindings: bindings after the files, e.g. "TRAIN_STEPS = 500" or "PRETRAIN_CACHE_DIR = 'x'".
      show_progress: draw the trainer's progress bar.

    Returns:
      The step directory of the final checkpoint (what INITIAL_CHECKPOINT_PATH accepts).
    """
    import gin

    argv = [f"--gin_file={f}" for f in gin_files] + [f"--gin_bindings={b}" for b in gin_bindings]
    if not show_progress:
        argv.append("--no_progress")
    gin.clear_config()
    return run(parse_flags(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `flan-jax pretrain`; returns the exit code."""
    flags = parse_flags(list(sys.argv[1:] if argv is None else argv))
    return gin_flags.run_command(PROG, lambda: print(run(flags)))
