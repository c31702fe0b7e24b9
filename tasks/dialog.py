"""Dialog (Flan 2022): next-turn generation over dialog datasets, plus input inversion.

The Flan Collection's dialog sources (Longpre et al. 2023, Table 1) are WikiDialog, QReCC,
TaskMaster and DSTC. Two have TFDS builders; the others are read from their public release files:

  wiki_dialog             TFDS `wiki_dialog/OQ`: dialogs inpainted from a Wikipedia passage
  schema_guided_dialogue  TFDS: DSTC8 Schema-Guided Dialogue (the DSTC source)
  qrecc                   QReCC (Anantha et al. 2021): `qrecc_train.json` / `qrecc_test.json` from
                          dataset/qrecc_data.zip of github.com/apple/ml-qrecc; directory in
                          `register(qrecc_dir=...)` or FLAN_JAX_QRECC_DIR
  taskmaster1/2/3         Taskmaster-1/2/3 (Byrne et al. 2019): a checkout of
                          github.com/google-research-datasets/Taskmaster; directory in
                          `register(taskmaster_dir=...)` or FLAN_JAX_TASKMASTER_DIR

Each dialog becomes one example: the conversation up to a turn is the input, that turn the target
(`dialog_{name}_zs_noopt`, `_fs_noopt`). Input inversion (`_inv`) goes the other way: from the
conversation before a turn and the reply that followed, produce the turn in between.

Splits of the file releases: QReCC's test file serves as "validation"; Taskmaster-1 self-dialogs
use the release's train-dev-test lists ("dev" is validation, "test" dialogs are left out, WOz
dialogs are all train); Taskmaster-2/3 put a dialog in "validation" when a hash of its
conversation_id falls in 1 bucket of 20 (5%), so the split is the same on every machine.
"""
import dataclasses
import json
import os
import pathlib
from typing import Any, Callable, Iterable, Mapping, Sequence

import seqio

from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet, stable_hash

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


# --------------------------------------------------------------------------- TFDS datasets
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


# --------------------------------------------------------------------------- file releases
def _load_json(path: pathlib.Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise sources.DataSourceError(f"Dialog file {str(path)!r} is not valid JSON ({e}); re-download it.") from e


def _records(path: pathlib.Path, keys: Iterable[str]) -> list[dict[str, Any]]:
    """A release file's top-level list of objects, each checked for `keys` (named on failure)."""
    data = _load_json(path)
    if not isinstance(data, list):
        raise sources.DataSourceError(f"Dialog file {str(path)!r}: expected a JSON list of records.")
    for i, record in enumerate(data):
        missing = [k for k in keys if not isinstance(record, dict) or k not in record]
        if missing:
            raise sources.DataSourceError(f"Dialog file {str(path)!r}: record {i} lacks key(s) {missing}.")
    return data


QRECC_BACKGROUND = "An information-seeking conversation: the assistant answers the user's questions from the web."


def qrecc_fields(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """One QReCC row (a question in its conversation) -> fields; the answer is the target.

    "Context" holds the earlier turns, question and answer alternating, so the user speaks first.
    """
    turns = [*row["Context"], row["Question"], row["Answer"]]
    speakers = ["User" if i % 2 == 0 else "Assistant" for i in range(len(turns))]
    return dialog_fields(turns, speakers, QRECC_BACKGROUND)


QRECC_FILES = {"train": "qrecc_train.json", "validation": "qrecc_test.json"}


def read_qrecc(directory: pathlib.Path, split: str) -> list[dict[str, Any]]:
    """QReCC rows of `split` ("train": qrecc_train.json, "validation": qrecc_test.json) as fields."""
    path = directory / QRECC_FILES[split]
    rows = _records(path, ("Context", "Question", "Answer"))
    return [f for f in map(qrecc_fields, rows) if f is not None]

SPEAKERS = {"USER": "User", "ASSISTANT": "Assistant"}


def taskmaster_fields(dialog: Mapping[str, Any], background: str) -> dict[str, Any] | None:
    """One Taskmaster dialog -> fields, cut after one of its assistant turns.

    Consecutive utterances of one speaker are joined into a turn. Which assistant turn is the
    target is chosen by a hash of the conversation_id (stable across runs), so dialogs teach
    replies from every stage of a conversation, not only the closing "goodbye".
    """
    turns: list[str] = []
    speakers: list[str] = []
    for utterance in sorted(dialog["utterances"], key=lambda u: u.get("index", 0)):
        text, speaker = str(utterance.get("text", "")).strip(), SPEAKERS.get(str(utterance.get("speaker")).upper())
        if not text or speaker is None:
            continue
        if speakers and speakers[-1] == speaker:
            turns[-1] = f"{turns[-1]} {text}"
        else:
            turns.append(text)
            speakers.append(speaker)
    ends = [i for i, s in enumerate(speakers) if s == "Assistant" and i >= 1]
    if not ends:
        return None
    end = ends[stable_hash("taskmaster", dialog["conversation_id"]) % len(ends)]
    return dialog_fields(turns[:end + 1], speakers[:end + 1], background)


def hash_split(conversation_id: str) -> str:
    """The split of a conversation: validation for 1 in 20 (by a stable hash of its id), else train."""
    return "validation" if stable_hash("split", conversation_id) % 20 == 0 else "train"


def _topic(name: str) -> str:
    """A domain or instruction id as words: "restaurant-table-2" -> "restaurant table"."""
    return " ".join(w for w in name.replace("_", "-").split("-") if w and not w.isdigit())


def _read_id_list(path: pathlib.Path) -> set[str]:
    """Conversation ids of a TM-1 train-dev-test CSV (one "dlg-...," per line)."""
    if not path.is_file():
        return set()
    return {line.strip().rstrip(",").strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def read_taskmaster1(directory: pathlib.Path, split: str) -> list[dict[str, Any]]:
    """TM-1-2019 self-dialogs (release splits) and WOz dialogs (train) of `split` as fields."""
    root = directory / "TM-1-2019"
    dev = _read_id_list(root / "train-dev-test" / "dev.csv")
    test = _read_id_list(root / "train-dev-test" / "test.csv")
    out = []
    for name in ("self-dialogs.json", "woz-dialogs.json"):
        for dialog in _records(root / name, ("conversation_id", "utterances")):
            dialog_id = dialog["conversation_id"]
            dialog_split = "validation" if dialog_id in dev else None if dialog_id in test else "train"
            if dialog_split == split:
                topic = _topic(str(dialog.get("instruction_id", ""))) or "a task"
                fields = taskmaster_fields(dialog, f"A user talks with an assistant about {topic}.")
                if fields is not None:
                    out.append(fields)
    return out


def _read_hash_split(paths: Iterable[pathlib.Path], split: str,
                     background: Callable[[pathlib.Path, Mapping[str, Any]], str]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        for dialog in _records(path, ("conversation_id", "utterances")):
            if hash_split(dialog["conversation_id"]) == split:
                fields = taskmaster_fields(dialog, background(path, dialog))
                if fields is not None:
                    out.append(fields)
    return out


def read_taskmaster2(directory: pathlib.Path, split: str) -> list[dict[str, Any]]:
    """TM-2-2020/data/{domain}.json (seven domains) of `split` as fields."""
    return _read_hash_split(sorted((directory / "TM-2-2020" / "data").glob("*.json")), split,
                            lambda path, _: f"A user talks with an assistant about {_topic(path.stem)}.")


def read_taskmaster3(directory: pathlib.Path, split: str) -> list[dict[str, Any]]:
    """TM-3-2020/data/data_NN.json (movie ticketing) of `split` as fields."""
    def background(_, dialog: Mapping[str, Any]) -> str:
        vertical = str(dialog.get("vertical") or "movie tickets").lower()
        return f"A user talks with an assistant about {vertical}."

    return _read_hash_split(sorted((directory / "TM-3-2020" / "data").glob("data_*.json")), split, background)


QRECC_RELEASE = sources.Release(
    "FLAN_JAX_QRECC_DIR", "https://github.com/apple/ml-qrecc (dataset/qrecc_data.zip, unzipped)",
    "qrecc_train.json and qrecc_test.json", tuple(QRECC_FILES.values()), read_qrecc, argument="qrecc_dir")
TASKMASTER_URL = "https://github.com/google-research-datasets/Taskmaster (git clone)"
TASKMASTER_ENV = "FLAN_JAX_TASKMASTER_DIR"


def _taskmaster(required: tuple[str, ...], read) -> sources.Release:
    return sources.Release(TASKMASTER_ENV, TASKMASTER_URL,
                           "the checkout's TM-1-2019/, TM-2-2020/ and TM-3-2020/ folders", required, read,
                           argument="taskmaster_dir")


# Every dialog field is one string.
SIGNATURE = sources.signature(**dict.fromkeys(FIELDS, str))


# --------------------------------------------------------------------------- the collection
@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dialog dataset: a TFDS builder (`tfds_name`, `prepare`) or a file `release`."""

    name: str
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    tfds_name: str | None = None
    splits: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"train": "train", "validation": "validation"})
    release: sources.Release | None = None
    cluster: str = CLUSTER
    templates: TemplateSet = TEMPLATES
    fields: tuple[str, ...] = FIELDS


DATASETS = (
    Dataset("wiki_dialog", _wiki_dialog, "wiki_dialog/OQ:1.0.0"),
    Dataset("schema_guided_dialogue", _schema_guided, "schema_guided_dialogue:1.0.0",
            {"train": "train", "validation": "dev"}),
    Dataset("qrecc", release=QRECC_RELEASE),
    Dataset("taskmaster1", release=_taskmaster(("TM-1-2019/self-dialogs.json", "TM-1-2019/woz-dialogs.json"),
                                               read_taskmaster1)),
    Dataset("taskmaster2", release=_taskmaster(("TM-2-2020/data/*.json",), read_taskmaster2)),
    Dataset("taskmaster3", release=_taskmaster(("TM-3-2020/data/data_*.json",), read_taskmaster3)),
)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}


def register(
    datasets: Sequence[str] | None = None,
    formats: Sequence[str] = ("zs_noopt", "fs_noopt", "inv"),
    vocabulary: seqio.Vocabulary | None = None,
    tfds_data_dir: str | None = None,
    qrecc_dir: str | os.PathLike | None = None,
    taskmaster_dir: str | os.PathLike | None = None,
    on_missing: str = "error",
    seed: int = 0,
) -> list[str]:
    """Registers `dialog_{dataset}_{format}` (nothing is read now but file names).

    Args:
      datasets: names from DATASETS. Default: the TFDS ones, plus each file release whose
        directory is given here or by its environment variable.
      formats: "zs_noopt", "fs_noopt", "inv".
      vocabulary: default the byte vocabulary.
      tfds_data_dir: where TFDS keeps prepared data.
      qrecc_dir: the unzipped qrecc_data.zip (default $FLAN_JAX_QRECC_DIR).
      taskmaster_dir: the Taskmaster checkout (default $FLAN_JAX_TASKMASTER_DIR).
      on_missing: a file release whose directory or files are absent: "error" (the message says
        what to download and where to point) or "warn" (log it, skip the dataset).
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    if on_missing not in ("error", "warn"):
        raise ValueError(f"on_missing must be 'error' or 'warn', got {on_missing!r}.")
    given = {QRECC_RELEASE.env: qrecc_dir, TASKMASTER_ENV: taskmaster_dir}
    if datasets is None:
        datasets = [d.name for d in DATASETS
                    if d.release is None or given[d.release.env] is not None or os.environ.get(d.release.env)]
    directories: dict[str, pathlib.Path] = {}
    chosen = []
    for d in registry.select(DATASETS, datasets, COLLECTION):
        if d.release is not None:
            try:
                directories[d.name] = d.release.directory(given[d.release.env], d.name)
            except sources.DataSourceError as e:
                registry.handle_missing_data(e, on_missing, f"Dialog dataset {d.name}")
                continue
        chosen.append(d.name)

    def make_source(d: Dataset) -> seqio.DataSource:
        if d.release is not None:
            return sources.ReleaseSource(d.name, directories[d.name], d.release, SIGNATURE)
        return seqio.TfdsDataSource(tfds_name=d.tfds_name, tfds_data_dir=tfds_data_dir, splits=dict(d.splits))

    return registry.register_datasets(
        DATASETS, chosen, make_source=make_source, collection=COLLECTION, prefix=PREFIX, formats=formats,
        vocabulary=vocabulary, seed=seed,
    )


TASKS = register(on_missing="warn")
