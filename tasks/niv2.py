"""Super-NaturalInstructions v2 (Wang et al. 2022): one seqio task per NIv2 task file and format.

The data is a natural-instructions checkout (github.com/allenai/natural-instructions): pass its
root as `register(data_dir=...)` or set FLAN_JAX_NIV2_DIR. Each training task file becomes

  niv2_{task}_zs_noopt   the task's Definition as the instruction, then the instance input
  niv2_{task}_fs_noopt   the Definition, the task's positive examples, then the instance input

with the instance's reference output as the target (the first one; `all_outputs=True` makes one
example per reference output). NIv2 tasks come without a label set, so there are no options
formats.

Which files are registered (the documented rule):
  * tasks in `splits/default/test_tasks.txt` never are: they are the benchmark's held-out tasks;
  * tasks overlapping our held-out evaluations are excluded: MMLU-derived tasks, i.e. a name
    containing "mmmlu" or a "Source" that mentions MMLU, hendrycks or "massive multitask
    language understanding" (the 57 `taskNNN_mmmlu_answer_generation_*` files);
  * every other file is, including those listed in neither split file (the Flan Collection
    trained on all ~1,550 non-test NIv2 tasks, not only the 756 English default-train ones);
    `include_unlisted=False` keeps to train_tasks.txt.

Registration is lazy: it reads the split lists, the file names and the first 16 KiB of each file
(for the Source and Categories); instances are parsed only when a task's data is read.

Few-shot: the positive examples sit inside the template (after the definition, once), because the
generic few-shot format repeats the whole template for each exemplar, which would repeat the
definition. So `fs_noopt` here is a standard-kind format whose exemplars come from the `exemplars`
field this module renders; the mixture treats it as few-shot by its suffix.
"""
import logging
import os
import re
from typing import Any, Sequence

import seqio

from flan_jax.data import formats as formats_lib
from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet, choose

COLLECTION = "niv2"
PREFIX = "niv2_"

# A task's held-out overlap is judged on these (lower-cased, "_" read as " ").
HELD_OUT_NAME_PATTERNS = ("mmmlu",)
HELD_OUT_SOURCE_PATTERNS = ("mmlu", "hendrycks", "massive multitask language understanding")

ZERO_SHOT = formats_lib.ZS_NOOPT
# Few-shot with the positive examples rendered into the template (see the module docstring).
FEW_SHOT = formats_lib.Format("fs_noopt", formats_lib.STANDARD, few_shot=False, options=False)

# Tk-Instruct used two positive examples; three keeps inputs within FLAN-T5's 2048 tokens for
# nearly every task while showing more than one output style.
NUM_EXEMPLARS = 3
# Positive examples are dropped (last first) until their text fits this many characters, about
# 1,000 SentencePiece tokens, half the FLAN-T5 input length (Chung et al. 2022, Table 22).
MAX_EXEMPLAR_CHARS = 4000

ZERO_SHOT_TEMPLATES = (
    Template("{definition}\n\n{input}", "{output}"),
    Template("Definition: {definition}\n\nInput: {input}\nOutput:", "{output}"),
    Template("Detailed Instructions: {definition}\nProblem: {input}\nSolution:", "{output}"),
    Template("{definition}\n\nQ: {input}\n\nA:", "{output}"),
    Template("Instructions: {definition}\n\nInput: {input}\n\nOutput:", "{output}"),
    Template("You will be given a definition of a task first, then some input of the task.\n"
             "{definition}\n\n{input}\nOutput:", "{output}"),
    Template("Teacher: {definition}\nStudent: {input}\nAnswer:", "{output}"),
    Template("Task: {definition}\n\n{input}\n\nResponse:", "{output}"),
)

FEW_SHOT_TEMPLATES = (
    Template("{definition}\n\n{exemplars}\n\nNow complete the following example.\nInput: {input}\nOutput:",
             "{output}"),
    Template("Definition: {definition}\n\n{exemplars}\n\nNew input: {input}\nSolution:", "{output}"),
    Template("Instructions: {definition}\nHere are some examples.\n\n{exemplars}\n\n"
             "Now solve this one.\n{input}\nAnswer:", "{output}"),
    Template("{definition}\n\nExamples:\n{exemplars}\n\nQ: {input}\nA:", "{output}"),
    Template("Read the task and the worked examples, then answer.\nTask: {definition}\n\n{exemplars}\n\n"
             "Input: {input}\nOutput:", "{output}"),
    Template("Teacher: {definition}\nFor example:\n{exemplars}\n\nStudent: {input}\nAnswer:", "{output}"),
)

# How one positive example is shown inside {exemplars}: (item pattern, joiner). `{n}` counts
# from 1. Chosen per example, like the template.
EXEMPLAR_STYLES = (
    ("Positive Example {n} -\nInput: {input}\nOutput: {output}", "\n\n"),
    ("Example {n}:\nInput: {input}\nOutput: {output}", "\n\n"),
    ("Example input: {input}\nExample output: {output}", "\n\n"),
    ("Q: {input}\nA: {output}", "\n\n"),
)

FIELDS = tuple(sources.NIV2_SIGNATURE) + ("exemplars",)
ZERO_SHOT_SET = TemplateSet(templates=ZERO_SHOT_TEMPLATES, answer_field="output")
FEW_SHOT_SET = TemplateSet(templates=FEW_SHOT_TEMPLATES, answer_field="output")


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


def render_exemplars(fields: dict[str, Any], num_exemplars: int = NUM_EXEMPLARS,
                     max_chars: int = MAX_EXEMPLAR_CHARS) -> str:
    """The task's positive examples as one text block, within `max_chars`.

    Example:
      positive_inputs ["2+2"], positive_outputs ["4"], style 2 -> "Example input: 2+2\\nExample output: 4"
    """
    _, (item, joiner) = choose(EXEMPLAR_STYLES, fields["task"], fields["id"], "exemplar_style")
    pairs = list(zip(fields["positive_inputs"], fields["positive_outputs"]))[:num_exemplars]
    while pairs:
        block = joiner.join(item.format(n=i + 1, input=x, output=y) for i, (x, y) in enumerate(pairs))
        if len(block) <= max_chars:
            return block
        pairs = pairs[:-1]
    return ""


def _prepare(num_exemplars: int, max_chars: int):
    def prepare(example: dict[str, Any]) -> dict[str, Any] | None:
        if not example["output"].strip():
            return None
        return {**example, "exemplars": render_exemplars(example, num_exemplars, max_chars)}
    return prepare


def task_entries(
    data_dir: str | os.PathLike | None = None,
    include_unlisted: bool = True,
    split_dir: str = "splits/default",
) -> tuple[list[sources.NIv2Entry], dict[str, str]]:
    """The task files to register, and the skipped ones with the reason.

    Returns:
      (entries to register, {task name: why it is skipped}).
    """
    kept, skipped = [], {}
    for entry in sources.scan_niv2(data_dir, split_dir):
        if entry.split == "test":
            skipped[entry.name] = f"listed in {split_dir}/test_tasks.txt (NIv2 held-out task)"
        elif entry.split == "unlisted" and not include_unlisted:
            skipped[entry.name] = "in neither split list (include_unlisted=False)"
        elif reason := held_out_overlap(entry):
            skipped[entry.name] = reason
        else:
            kept.append(entry)
    return kept, skipped


def family_name(entry: sources.NIv2Entry) -> str:
    """The seqio family name: "niv2_" + the file stem, with characters seqio rejects as "_"
    ("task105_story_cloze-rocstories_..." -> "niv2_task105_story_cloze_rocstories_...")."""
    return PREFIX + re.sub(r"[^\w.:#]", "_", entry.name)


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
    validate: bool = False,
    on_error: str = "raise",
    on_missing: str = "error",
    num_exemplars: int = NUM_EXEMPLARS,
    max_exemplar_chars: int = MAX_EXEMPLAR_CHARS,
    vocabulary: seqio.Vocabulary | None = None,
    seed: int = 0,
) -> list[str]:
    """Registers `niv2_{task}_{format}` for every NIv2 training task file.

    Args:
      data_dir: the natural-instructions checkout; None = $FLAN_JAX_NIV2_DIR.
      formats: "zs_noopt" and/or "fs_noopt".
      all_outputs: one example per reference output instead of the first output only.
      include_unlisted: register files listed in neither split file (see the module docstring).
      validate: parse every file now (slow on the full 3 GB checkout: for checking a checkout),
        so malformed files are found at registration. Otherwise a malformed file raises, naming
        the file and key, when its data is first read.
      on_error: with `validate`, "raise" on a malformed file or "skip" it with a warning.
      on_missing: no data directory: "error" (the message says what to download and where to
        point FLAN_JAX_NIV2_DIR), "warn" (log it, register nothing) or "ignore".
      num_exemplars, max_exemplar_chars: positive examples shown in the few-shot format.
      vocabulary: default the byte vocabulary.
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    unknown = sorted(set(formats) - {ZERO_SHOT.suffix, FEW_SHOT.suffix})
    if unknown:
        raise ValueError(f"NIv2 formats are 'zs_noopt' and 'fs_noopt'; got {unknown}.")
    try:
        entries, skipped = task_entries(data_dir, include_unlisted)
    except sources.DataSourceError as e:
        if on_missing == "error":
            raise
        if on_missing == "warn":
            logging.warning("NIv2 collection not registered: %s", e)
        return []
    logging.info("NIv2: %d task files to register, %d skipped (test split or held-out overlap).",
                 len(entries), len(skipped))
    prepare = _prepare(num_exemplars, max_exemplar_chars)
    groups = [(fmt, template_set) for fmt, template_set in ((ZERO_SHOT, ZERO_SHOT_SET), (FEW_SHOT, FEW_SHOT_SET))
              if fmt.suffix in formats]
    names = []
    for entry in entries:
        if validate:
            try:
                sources.load_niv2_task(entry.path)
            except sources.DataSourceError as e:
                if on_error == "raise":
                    raise
                logging.warning("NIv2: skipping malformed task file: %s", e)
                continue
        source = sources.NIv2Source(entry.path, all_outputs=all_outputs)
        for fmt, template_set in groups:
            names += registry.register_family(
                family_name(entry), source=source, fields=FIELDS, templates=template_set,
                collection=COLLECTION, cluster=cluster_of(entry), formats=[fmt], prepare=prepare,
                vocabulary=vocabulary, seed=seed,
            )
    return names


def _register_at_import() -> list[str]:
    """Registers from $FLAN_JAX_NIV2_DIR when set; without it the collection is absent (logged)."""
    if not os.environ.get(sources.NIV2_ENV):
        logging.info("NIv2 collection not registered: set %s to a natural-instructions checkout (%s).",
                     sources.NIV2_ENV, sources.NIV2_URL)
        return []
    return register(on_missing="warn")


TASKS = _register_at_import()
