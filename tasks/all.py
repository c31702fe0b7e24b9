"""The whole collection in one import: `MIXTURE_OR_TASK_MODULE='flan_jax_tasks.all'`.

Importing a collection module registers its tasks (t5x convention); this module imports every
one, then the mixtures over them. Each imports offline and without its data: a collection whose
data directory is not configured registers nothing (logged), TFDS and Hugging Face sources are
read only when used, and mixtures leave out tasks whose data is absent (one warning each).
"""
# The order is the registration order; `mixtures` comes last, it mixes the others' tasks.
import flan_jax_tasks.synthetic  # noqa: F401
import flan_jax_tasks.flan2021  # noqa: F401
import flan_jax_tasks.program_synthesis  # noqa: F401  (part of the flan2021 collection)
import flan_jax_tasks.t0  # noqa: F401
import flan_jax_tasks.niv2  # noqa: F401
import flan_jax_tasks.cot  # noqa: F401
import flan_jax_tasks.dialog  # noqa: F401
import flan_jax_tasks.held_out  # noqa: F401  MMLU, BBH, TyDiQA, MGSM and the flan_held_out suite
import flan_jax_tasks.pretrain  # noqa: F401  the span-corrupted pretraining corpus
import flan_jax_tasks.mixtures  # noqa: F401
