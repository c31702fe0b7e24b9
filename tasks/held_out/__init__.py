"""The held-out evaluation benchmarks of Chung et al. 2022 (Sec. 2.3): MMLU, BBH, TyDiQA, MGSM.

Importing this package registers every benchmark whose data directory is configured in the
environment (see `flan_jax.eval.benchmarks` for the variables) and the suite mixture
`flan_held_out` over all of them: `MIXTURE_OR_TASK_MODULE='flan_jax_tasks.held_out'`.
`register_data_dirs` registers them from directories given as arguments instead (gin's
EVAL_DATA_DIRS, passed by `flan-jax eval`).
"""
from typing import Mapping

from flan_jax.eval import held_out_tasks, metrics
from flan_jax_tasks.held_out import bbh, mgsm, mmlu, tydiqa

SUITE = "flan_held_out"
# What EVAL_DATA_DIRS may name: the benchmarks' directories and the two prompt / exemplar files.
DATA_DIR_KEYS = ("mmlu", "mmlu_cot_file", "bbh", "tydiqa", "mgsm", "gsm8k_train_file")


def register_suite() -> list[str]:
    """Registers `flan_held_out` over the benchmarks registered so far ([] when there are none)."""
    return held_out_tasks.register_suite(SUITE, metrics.BENCHMARKS)


def register_data_dirs(data_dirs: Mapping[str, str | None]) -> list[str]:
    """Registers the benchmarks whose files `data_dirs` names, in place of any registered from the
    environment, then the suite again over what is registered.

    Args:
      data_dirs: keys of DATA_DIR_KEYS -> a directory (or file); empty values are ignored.

    Returns:
      The registered task and mixture names.

    Raises:
      ValueError: an unknown key (listing the known ones).
    """
    unknown = sorted(set(data_dirs) - set(DATA_DIR_KEYS))
    if unknown:
        raise ValueError(f"EVAL_DATA_DIRS key {unknown[0]!r} is unknown; use {sorted(DATA_DIR_KEYS)}.")
    given = {key: str(value) for key, value in data_dirs.items() if value}
    names = []
    if "mmlu" in given or "mmlu_cot_file" in given:
        held_out_tasks.unregister("mmlu", "mmlu_cot")
        names += mmlu.register(given.get("mmlu"), given.get("mmlu_cot_file"))
    if "bbh" in given:
        held_out_tasks.unregister("bbh", "bbh_cot")
        names += bbh.register(given["bbh"])
    if "tydiqa" in given:
        held_out_tasks.unregister("tydiqa")
        names += tydiqa.register(given["tydiqa"])
    if "mgsm" in given or "gsm8k_train_file" in given:
        held_out_tasks.unregister("mgsm")
        names += mgsm.register(given.get("mgsm"), given.get("gsm8k_train_file"))
    return names + register_suite()


SUITE_NAMES = register_suite()
__all__ = ["bbh", "mgsm", "mmlu", "tydiqa", "register_suite", "register_data_dirs", "SUITE", "DATA_DIR_KEYS"]
