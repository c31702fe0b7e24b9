"""Super-NaturalInstructions v2 (Wang et al. 2022): one seqio task per NIv2 task file and format.

The data is a natural-instructions checkout (github.com/allenai/natural-instructions): pass its
root as `register(data_dir=...)` or set FLAN_JAX_NIV2_DIR. Each training task file becomes

  niv2_{task}_zs_noopt   the task's Definition as the instruction, then the instance input
  niv2_{task}_fs_noopt   the Definition, the task's positive examples, then the instance input

with the instance's reference output as the target (the first one; `all_outputs=True` makes one
example per reference output). NIv2 tasks come without a label set, so there are no options
formats.

Which files are registered (the documented rule):
  * tasks in `splits/default/test_tasks.txt` are not, by default: they are the benchmark's held-out
    tasks. The Flan Collection did train on them (115 of its NIv2 tasks are in that list);
    `include_test_split=True` registers them too;
  * tasks overlapping our held-out evaluations are excluded: MMLU-derived tasks, i.e. a name
    containing "mmmlu" or a "Source" that mentions MMLU, hendrycks or "massive multitask
    language understanding" (the 57 `taskNNN_mmmlu_answer_generation_*` files);
  * every other file is, including those listed in neither split file (the Flan Collection
    trained on all ~1,550 non-test NIv2 tasks, not only the 756 English default-train ones);
    `include_unlisted=False` keeps to train_tasks.txt.

Registration is lazy: it reads the split lists, the file names and the first 16 KiB of each file
(for the Source and Categories); instances are parsed only when a task's data is read.

Few-shot follows the Flan 2022 NIv2 layout: the task's Definition is stated once (each template's
`instruction`), then up to three of its positive examples, then the instance, in the template's
input/output pattern (`formats.FewShotConfig.exemplars_field`: the exemplars are the task's own
positive examples, not other instances).
"""
import logging
import os
import re
from typing import Any, Sequence

import seqio

from flan_jax.data import formats as formats_lib
from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet

COLLECTION = "niv2"
PREFIX = "niv2_"

# A task's held-out overlap is judged on these (lower-cased, "_" read as " ").
HELD_OUT_NAME_PATTERNS = ("mmmlu",)
HELD_OUT_SOURCE_PATTERNS = ("mmlu", "hendrycks", "massive multitask language understanding")

FORMATS = (formats_lib.ZS_NOOPT, formats_lib.FS_NOOPT)

# Tk-Instruct used two positive examples; three keeps inputs within FLAN-T5's 2048 tokens for
# nearly every task while showing more than one output style.
NUM_EXEMPLARS = 3

# The definition is each template's instruction: zero-shot inputs are the instruction, a blank
# line, then the input pattern; few-shot inputs state it once before the positive examples.
TEMPLATES = TemplateSet(templates=(
    Template("{input}", "{output}", instruction="{definition}"),
    Template("Input: {input}\nOutput:", "{output}", instruction="Definition: {definition}"),
    Template("Problem: {input}\nSolution:", "{output}", instruction="Detailed Instructions: {definition}"),
    Template("Q: {input}\n\nA:", "{output}", instruction="{definition}"),
    Template("Input: {input}\n\nOutput:", "{output}", instruction="Instructions: {definition}"),
    Template("{input}\nOutput:", "{output}",
             instruction="You will be given a definition of a task first, then some input of the task.\n{definition}"),
    Template("Student: {input}\nAnswer:", "{output}", instruction="Teacher: {definition}"),
    Template("{input}\n\nResponse:", "{output}", instruction="Task: {definition}"),
), answer_field="output")

# Between an example's input and output, and between examples. The input patterns end with a cue
# ("Output:", "A:") or a bare input, so a newline or a space reads well for both.
SEPARATORS = (("\n", "\n\n"), (" ", "\n\n"), ("\n", "\n\n\n"))

FIELDS = tuple(sources.NIV2_SIGNATURE) + ("exemplars",)


def held_out_overlap(entry: sources.NIv2Entry) -> str | None:
    """Why a task overlaps a held-out evaluation (MMLU-derived), or None.

    The rule: the task name contains "mmmlu", or its "Source" mentions MMLU, hendrycks or
    "massive multitask language understanding".
    """
    name = entry.name.lower()
    for pattern in HELD_OUT_NAME_PATTERNS:
        if pattern in name:
            return f"name contains {pattern!r} (MMLU-derived)"
    for source in entry.sources:
        text = source.lower().replace("_", " ")
        for pattern in HELD_OUT_SOURCE_PATTERNS:
            if pattern in text:
                return f"Source {source!r} mentions {pattern!r} (MMLU-derived)"
    return None


def prepare(example: dict[str, Any]) -> dict[str, Any] | None:
    """An NIv2 instance plus its task's positive examples as exemplar fields; None without an output.

    Example:
      positive_inputs ["2+2"], positive_outputs ["4"] -> exemplars [{"input": "2+2", "output": "4"}]
    """
    if not example["output"].strip():
        return None
    exemplars = [{"input": x, "output": y} for x, y in zip(example["positive_inputs"], example["positive_outputs"])]
    return {**example, "exemplars": exemplars}


def task_entries(
    data_dir: str | os.PathLike | None = None,
    include_unlisted: bool = True,
    split_dir: str = "splits/default",
    include_test_split: bool = False,
    overlapping: str = "exclude",
) -> tuple[list[sources.NIv2Entry], dict[str, str]]:
    """The task files to register, and the skipped ones with the reason.

    Args:
      overlapping: what to do with the files `held_out_overlap` flags: "exclude" them (the
        documented rule), or keep "only" them (for contamination audits: `flan_jax_tasks.niv2_excluded`).

    Returns:
      (entries to register, {task name: why it is skipped}).
    """
    if overlapping not in ("exclude", "only"):
        raise ValueError(f"overlapping must be 'exclude' or 'only', got {overlapping!r}.")
    kept, skipped = [], {}
    for entry in sources.scan_niv2(data_dir, split_dir):
        reason = held_out_overlap(entry)
        if entry.split == "test" and not include_test_split:
            skipped[entry.name] = (f"listed in {split_dir}/test_tasks.txt (NIv2 held-out task; "
                                   "include_test_split=True registers it)")
        elif entry.split == "unlisted" and not include_unlisted:
            skipped[entry.name] = "in neither split list (include_unlisted=False)"
        elif reason and overlapping == "exclude":
            skipped[entry.name] = reason
        elif not reason and overlapping == "only":
            skipped[entry.name] = "no held-out overlap (overlapping='only')"
        else:
            kept.append(entry)
    return kept, skipped


def family_name(entry: sources.NIv2Entry) -> str:
    """The seqio family name of a task file (see `task_family`)."""
    return task_family(entry.name)


def task_family(task: str) -> str:
    """The seqio family name of NIv2 task `task`: "niv2_" + the name, with characters seqio rejects
    as "_" ("task105_story_cloze-rocstories_..." -> "niv2_task105_story_cloze_rocstories_...")."""
    return PREFIX + re.sub(r"[^\w.:#]", "_", task)


def cluster_of(entry: sources.NIv2Entry) -> str | None:
    """The task's first NIv2 category, snake-cased ("Question Answering" -> "question_answering")."""
    if not entry.categories:
        return None
    return "_".join(entry.categories[0].lower().split())


def register(
    data_dir: str | os.PathLike | None = None,
    *,
    formats: Sequence[str] = ("zs_noopt", "fs_noopt"),
    all_outputs: bool = False,
    include_unlisted: bool = True,
    include_test_split: bool = False,
    validate: bool = False,
    on_error: str = "raise",
    on_missing: str = "error",
    num_exemplars: int = NUM_EXEMPLARS,
    max_input_length: int = formats_lib.FewShotConfig.max_input_length,
    vocabulary: seqio.Vocabulary | None = None,
    seed: int = 0,
    overlapping: str = "exclude",
) -> list[str]:
    """Registers `niv2_{task}_{format}` for every NIv2 training task file.

    Args:
      data_dir: the natural-instructions checkout; None = $FLAN_JAX_NIV2_DIR.
      formats: "zs_noopt" and/or "fs_noopt".
      all_outputs: one example per reference output instead of the first output only.
      include_unlisted: register files listed in neither split file (see the module docstring).
      include_test_split: also register the tasks of splits/default/test_tasks.txt, as the Flan
        Collection did.
      validate: parse every file now (slow on the full 3 GB checkout: for checking a checkout),
        so malformed files are found at registration. Otherwise a malformed file raises, naming
        the file and key, when its data is first read.
      on_error: "raise" on a malformed file, or "skip" it with a warning: every file is then
        parsed at registration (as with `validate`), since a task left empty in the middle of
        training would stop it. At import, $FLAN_JAX_NIV2_ON_ERROR sets it.
      on_missing: no data directory: "error" (the message says what to download and where to
        point FLAN_JAX_NIV2_DIR), "warn" (log it, register nothing) or "ignore".
      num_exemplars: positive examples shown in the few-shot format (fewer when they do not
        fit `max_input_length` vocabulary tokens with the definition and the instance).
      vocabulary: default the byte vocabulary.
      seed: rendering seed.
      overlapping: "exclude" the files overlapping held-out evaluations (the rule above), or
        register "only" them (see `task_entries`).

    Returns:
      The registered task names.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    unknown = sorted(set(formats) - {f.suffix for f in FORMATS})
    if unknown:
        raise ValueError(f"NIv2 formats are 'zs_noopt' and 'fs_noopt'; got {unknown}.")
    try:
        entries, skipped = task_entries(data_dir, include_unlisted, include_test_split=include_test_split,
                                        overlapping=overlapping)
    except sources.DataSourceError as e:
        registry.handle_missing_data(e, on_missing, "NIv2 collection")
        return []
    logging.info("NIv2: %d task files to register, %d skipped (test split or held-out overlap).",
                 len(entries), len(skipped))
    few_shot = formats_lib.FewShotConfig(num_exemplars=num_exemplars, max_input_length=max_input_length,
                                         separators=SEPARATORS, exemplars_field="exemplars")
    names = []
    for entry in entries:
        if validate or on_error == "skip":
            try:
                sources.load_niv2_task(entry.path)
            except sources.DataSourceError as e:
                if on_error == "raise":
                    raise
                logging.warning("NIv2: skipping malformed task file: %s", e)
                continue
        names += registry.register_family(
            family_name(entry), source=sources.NIv2Source(entry.path, all_outputs=all_outputs), fields=FIELDS,
            templates=TEMPLATES, collection=COLLECTION, cluster=cluster_of(entry), formats=list(formats),
            prepare=prepare, few_shot=few_shot, vocabulary=vocabulary, seed=seed,
        )
    return names


def register_from_environment(on_missing: str = "warn") -> list[str]:
    """`register` as configured by the environment: $FLAN_JAX_NIV2_DIR, and $FLAN_JAX_NIV2_ON_ERROR
    ("raise", the default, or "skip" malformed task files).

    Raises:
      ValueError: $FLAN_JAX_NIV2_ON_ERROR is neither.
    """
    on_error = os.environ.get(sources.NIV2_ON_ERROR_ENV) or "raise"
    if on_error not in ("raise", "skip"):
        raise ValueError(f"{sources.NIV2_ON_ERROR_ENV}={on_error!r}: set it to 'skip' (leave malformed NIv2 task "
                         "files out) or 'raise' (the default).")
    return register(on_missing=on_missing, on_error=on_error)


TASKS = registry.register_if_configured(sources.NIV2_ENV, "a natural-instructions checkout", sources.NIV2_URL,
                                        register_from_environment)
