"""Dialog (Flan 2022): next-turn generation over TFDS dialog datasets, plus input inversion.

The Flan Collection's dialog sources (Longpre et al. 2023, Table 1) are WikiDialog, QReCC,
TaskMaster and DSTC. The installed tensorflow_datasets has builders for two of them:

  wiki_dialog             `wiki_dialog/OQ`: dialogs inpainted from a Wikipedia passage
  schema_guided_dialogue  DSTC8 Schema-Guided Dialogue (the DSTC source)

(QReCC and TaskMaster have no TFDS builder; they can be added through
`flan_jax.data.sources.HfDatasetSource`, as T0-SF does.) Each dialog becomes one example: the
conversation up to its last turn is the input, the last turn the target (`dialog_{name}_zs_noopt`,
`_fs_noopt`). Input inversion (`_inv`) goes the other way: from the conversation before a turn
and the reply that followed, produce the turn in between.
"""
import dataclasses
from typing import Any, Callable, Sequence

import seqio

from flan_jax.data import registry
from flan_jax.data.templates import Template, TemplateSet

COLLECTION = "dialog"
PREFIX = "dialog_"
CLUSTER = "dialog"
FIELDS = ("background", "conversation", "history", "previous", "response")

TEMPLATES = TemplateSet(
    templates=(
        Template("{background}\n\n{conversation}\n\nWhat is the next turn of this conversation?", "{response}"),
        Template("Continue the dialog.\n{background}\n{conversation}", "{response}"),
        Template("Here is a conversation:\n{conversation}\n\nWrite the next response. Context: {background}",
                 "{response}"),
        Template("{conversation}\n\nGenerate an appropriate reply.", "{response}"),
        Template("Topic: {background}\nDialog so far:\n{conversation}\nNext:", "{response}"),
    ),
    inversion_templates=(
        Template("{background}\n\n{history}\n\nThe reply was: {response}\nWhat was said just before this reply?",
                 "{previous}"),
        Template("Fill in the missing turn.\n{history}\n[missing turn]\n{response}", "{previous}"),
        Template("Conversation:\n{history}\nNext reply: \"{response}\"\nWrite the turn that prompted this reply.",
                 "{previous}"),
    ),
)


def render_turns(turns: Sequence[str], speakers: Sequence[str]) -> str:
    """Turns as "Speaker: text" lines: ["hi", "hello"], ["User", "System"] -> "User: hi\\nSystem: hello"."""
    return "\n".join(f"{speaker}: {turn}" for speaker, turn in zip(speakers, turns))


def dialog_fields(turns: Sequence[str], speakers: Sequence[str], background: str) -> dict[str, Any] | None:
    """The fields of one dialog; None for dialogs under two turns (nothing to predict)."""
    turns = [t.strip() for t in turns]
    if len(turns) < 2 or not all(turns):
        return None
    return {
        "background": background,
        "conversation": render_turns(turns[:-1], speakers),
        "history": render_turns(turns[:-2], speakers) if len(turns) > 2 else "(start of conversation)",
        "previous": turns[-2],
        "response": turns[-1],
    }


def _wiki_dialog(ex: dict) -> dict | None:
    # Author 0 asks (an imagined reader), author 1 answers from the passage.
    speakers = ["Reader" if a == 0 else "Writer" for a in ex["author_num"]]
    if len(speakers) != len(ex["utterances"]):
        return None
    return dialog_fields(ex["utterances"], speakers, f"{ex['title']}: {ex['passage']}")


def _schema_guided(ex: dict) -> dict | None:
    first = ex["first_speaker"]  # ClassLabel: 0 USER, 1 SYSTEM.
    speakers = ["User" if (i + first) % 2 == 0 else "Assistant" for i in range(len(ex["utterances"]))]
    services = ", ".join(ex["metadata"]["services"]["name"]) or "a task-oriented conversation"
    return dialog_fields(ex["utterances"], speakers, f"Services: {services}")


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    tfds_name: str
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None]
    splits: dict


DATASETS = (
    Dataset("wiki_dialog", "wiki_dialog/OQ:1.0.0", _wiki_dialog, {"train": "train", "validation": "validation"}),
    Dataset("schema_guided_dialogue", "schema_guided_dialogue:1.0.0", _schema_guided,
            {"train": "train", "validation": "dev"}),
)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}


def register(
    datasets: Sequence[str] | None = None,
    formats: Sequence[str] = ("zs_noopt", "fs_noopt", "inv"),
    vocabulary: seqio.Vocabulary | None = None,
    tfds_data_dir: str | None = None,
    seed: int = 0,
) -> list[str]:
    """Registers `dialog_{dataset}_{format}` (nothing is read now).

    Args:
      datasets: names from DATASETS (default all).
      formats: "zs_noopt", "fs_noopt", "inv".
      vocabulary: default the byte vocabulary.
      tfds_data_dir: where TFDS keeps prepared data.
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    names = []
    for name in datasets or [d.name for d in DATASETS]:
        if name not in DATASETS_BY_NAME:
            raise ValueError(f"Unknown dialog dataset {name!r}; known: {sorted(DATASETS_BY_NAME)}.")
        d = DATASETS_BY_NAME[name]
        source = seqio.TfdsDataSource(tfds_name=d.tfds_name, tfds_data_dir=tfds_data_dir, splits=dict(d.splits))
        names += registry.register_family(
            PREFIX + d.name, source=source, fields=FIELDS, templates=TEMPLATES, collection=COLLECTION,
            cluster=CLUSTER, formats=list(formats), prepare=d.prepare, vocabulary=vocabulary, seed=seed,
        )
    return names


TASKS = register()
