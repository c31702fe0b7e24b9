"""The flan-jax task collection, installed as `flan_jax_tasks` (a bare `tasks` would collide).

Registration only: each module registers seqio tasks through `flan_jax.data.registry` when
imported, as t5x expects of MIXTURE_OR_TASK_MODULE, and exposes `register(...) -> list[str]` for
tests (which empty the registries first).

  synthetic      generated task families in clusters; offline, the default suite
  flan2021, t0, niv2, cot, dialog   the Flan 2022 collections (data from TFDS / HF / files)
  program_synthesis                 code generation and repair (recorded in flan2021, as Muffin)
  families       template families flan2021 and t0 share (registers nothing)
  collection_list  the Flan collection's task list (flan_collection_info.csv) against our tasks
  held_out       MMLU, BBH, TyDiQA, MGSM evaluation tasks
  pretrain       the pretraining corpus (pretrain_corpus: plain statements, span-corrupted)
  niv2_excluded  the NIv2 files niv2 leaves out as MMLU-derived (contamination audits; not in `all`)
  mixtures       flan2022, synthetic_train, synthetic_held_out, ...
  all            every module above but niv2_excluded: the whole collection in one import
"""
