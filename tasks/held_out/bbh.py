"""BIG-Bench Hard (Suzgun et al. 2022): 27 tasks, 3-shot, direct and CoT.

Tasks `bbh_{task}` (the published exemplars without rationales) and `bbh_cot_{task}` (the
published CoT prompts, cot-prompts/*.txt); mixtures `bbh` and `bbh_cot`. Data:
$FLAN_JAX_BBH_DIR (a BIG-Bench-Hard checkout: bbh/*.json, cot-prompts/*.txt); nothing is
registered where it is not set.
"""
import os

import seqio

from flan_jax.eval import held_out_tasks


def register(directory: str | os.PathLike | None = None, vocabulary: seqio.Vocabulary | None = None) -> list[str]:
    """Registers the direct and CoT tasks; returns their names."""
    names = held_out_tasks.register_if_available("bbh", directory=directory, vocabulary=vocabulary)
    if names:
        names += held_out_tasks.register_benchmark("bbh_cot", directory, vocabulary=vocabulary)
    return names


NAMES = register()
