"""The held-out evaluation benchmarks of Chung et al. 2022 (Sec. 2.3): MMLU, BBH, TyDiQA, MGSM.

Importing this package registers every benchmark whose data directory is configured (see
`flan_jax.eval.benchmarks` for the environment variables) and the suite mixture
`flan_held_out` over all of them: `MIXTURE_OR_TASK_MODULE='flan_jax_tasks.held_out'`.
"""
from flan_jax.eval import held_out_tasks, metrics
from flan_jax_tasks.held_out import bbh, mgsm, mmlu, tydiqa

SUITE = "flan_held_out"


def register_suite() -> list[str]:
    """Registers `flan_held_out` over the benchmarks registered so far ([] when there are none)."""
    return held_out_tasks.register_suite(SUITE, metrics.BENCHMARKS)


SUITE_NAMES = register_suite()
__all__ = ["bbh", "mgsm", "mmlu", "tydiqa", "register_suite", "SUITE"]
