"""The whole collection in one import: `MIXTURE_OR_TASK_MODULE='flan_jax_tasks.all'`.

Importing a collection module registers its tasks (t5x convention); this module imports every
one, then the mixtures over them.
"""
import importlib
import logging

# Collection modules in registration order; `mixtures` last, it mixes the others' tasks.
MODULES = (
    "flan_jax_tasks.synthetic",
    "flan_jax_tasks.flan2021",
    "flan_jax_tasks.t0",
    "flan_jax_tasks.niv2",
    "flan_jax_tasks.cot",
    "flan_jax_tasks.dialog",
    "flan_jax_tasks.held_out",  # MMLU, BBH, TyDiQA, MGSM and the flan_held_out suite
    "flan_jax_tasks.mixtures",
)


def _import_all() -> list[str]:
    """Imports every collection module; returns those that are not part of this checkout.

    Only a module that does not exist is skipped (with a warning naming it): an error raised
    inside an existing module propagates, so a broken collection is never silently dropped.
    """
    missing = []
    for module in MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            logging.warning("flan_jax_tasks.all: %s is not in this checkout; its tasks are absent.", module)
            missing.append(module)
    return missing


MISSING = _import_all()
