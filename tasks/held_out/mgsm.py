"""MGSM (Shi et al. 2022): 8-shot CoT, exact match on the final number, one task per language.

Tasks `mgsm_{code}` (bn, de, en, ...); mixture `mgsm`. Exemplars: the first 8 GSM8K train
problems with their rationales (see `flan_jax.eval.benchmarks`). Data: $FLAN_JAX_MGSM_DIR
(mgsm_LANG.tsv) and $FLAN_JAX_GSM8K_TRAIN_FILE; nothing is registered where the directory is not
set.
"""
import os

import seqio

from flan_jax.eval import held_out_tasks


def register(
    directory: str | os.PathLike | None = None,
    gsm8k_train_file: str | os.PathLike | None = None,
    vocabulary: seqio.Vocabulary | None = None,
) -> list[str]:
    """Registers one task per language; returns their names."""
    return held_out_tasks.register_if_available(
        "mgsm", directory=directory, vocabulary=vocabulary, gsm8k_train_file=gsm8k_train_file
    )


NAMES = register()
