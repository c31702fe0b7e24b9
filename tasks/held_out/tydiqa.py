"""TyDi QA GoldP (Clark et al. 2020): 1-shot, direct, exact match, one task per language.

Tasks `tydiqa_{language}` (language as the files name it: arabic, bengali, ...); mixture
`tydiqa`. The benchmark average leaves English out (Chung et al. 2022, Sec. 2.3). Data:
$FLAN_JAX_TYDIQA_DIR (SQuAD-format `dev/LANGUAGE_tydiqa_dev.json`); nothing is registered where
it is not set.
"""
import os

import seqio

from flan_jax.eval import held_out_tasks


def register(directory: str | os.PathLike | None = None, vocabulary: seqio.Vocabulary | None = None) -> list[str]:
    """Registers one task per language; returns their names."""
    return held_out_tasks.register_if_available("tydiqa", directory=directory, vocabulary=vocabulary)


NAMES = register()
