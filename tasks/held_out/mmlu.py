"""MMLU (Hendrycks et al. 2021): 57 subjects, 5-shot from the dev split, direct and CoT.

Tasks `mmlu_{subject}` (answer letter) and `mmlu_cot_{subject}` (the published per-subject CoT
prompt, mmlu-cot.json); mixtures `mmlu` and `mmlu_cot`. Data: $FLAN_JAX_MMLU_DIR (hendrycks'
`data/{dev,test}/*.csv`) and $FLAN_JAX_MMLU_COT_FILE; nothing is registered where the directory
is not set. Prompts: `flan_jax.eval.benchmarks`.
"""
import os

import seqio

from flan_jax.eval import held_out_tasks


def register(
    directory: str | os.PathLike | None = None,
    cot_file: str | os.PathLike | None = None,
    vocabulary: seqio.Vocabulary | None = None,
) -> list[str]:
    """Registers the direct and (where the CoT prompt file is set) CoT tasks; returns their names."""
    names = held_out_tasks.register_if_available("mmlu", directory=directory, vocabulary=vocabulary)
    if names and (cot_file is not None or os.environ.get("FLAN_JAX_MMLU_COT_FILE")):
        names += held_out_tasks.register_benchmark("mmlu_cot", directory, vocabulary=vocabulary, mmlu_cot_file=cot_file)
    return names


NAMES = register()
