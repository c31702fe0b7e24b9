"""The NIv2 task files that `flan_jax_tasks.niv2` leaves out for overlapping held-out evaluations.

For contamination audits only: importing it registers exactly the files the documented rule
excludes (the MMLU-derived `taskNNN_mmmlu_answer_generation_*`), under their usual names
`niv2_{task}_{format}`, so that

    flan-jax contamination --module flan_jax_tasks.niv2 --module flan_jax_tasks.niv2_excluded \\
      --module flan_jax_tasks.held_out --train 'niv2_*' --eval mmlu

measures NIv2 against MMLU without the rule. Never import it for training: the Flan 2022
mixtures, registered when `flan_jax_tasks.mixtures` is imported, take every NIv2 task registered
by then. Data: as `flan_jax_tasks.niv2` ($FLAN_JAX_NIV2_DIR).
"""
import functools

from flan_jax.data import registry, sources
from flan_jax_tasks import niv2

TASKS = registry.register_if_configured(sources.NIV2_ENV, "a natural-instructions checkout", sources.NIV2_URL,
                                        functools.partial(niv2.register, overlapping="only"))
