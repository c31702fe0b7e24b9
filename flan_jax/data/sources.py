"""Data sources seqio lacks, behind one protocol: examples read in Python (`ExampleSource`).

Sources: the NIv2 task directory, Flan CoT TSV files, file releases, Hugging Face datasets and
procedurally generated examples (`GeneratorSource`). Each is a `seqio.DataSource` that also
answers `iter_examples` (Python dicts for `formats.TemplatedSource` and the input pipeline, no
tf.data round trip) and `unavailable_reason` (whether its data is here, judged without reading
it); `get_dataset` still serves the raw fields as tf.data. `iter_examples(source, ...)` reads
any seqio source as Python dicts, ours directly and others through tf.data.

  * NIv2 (Super-NaturalInstructions v2, Wang et al. 2022) ships as a directory of task files
    `tasks/taskNNN_*.json` plus `splits/default/{train,test}_tasks.txt`. The full directory is
    ~1,600 files / 3 GB, so nothing here parses a task file before its data is asked for:
    `scan_niv2` lists file names and split lists (and, for the held-out-overlap rule, the
    first few KiB of each file); `NIv2Source` parses its one file when examples or counts are
    first needed.
  * The Flan CoT files (`flan/v2/cot_data/{dataset}_train.tsv`) are headerless TSV rows
    `question<TAB>answer<TAB>rationale` with newlines written as the two characters "\\n".
  * `ReleaseSource` reads a dataset published as files (a `Release`: where to download it, the
    files its directory must hold, and a reader), e.g. QReCC and Taskmaster.
  * `HfDatasetSource` reads a Hugging Face dataset by name; `datasets` is imported only when
    data is read, so it stays an optional dependency.
"""
import dataclasses
import functools
import json
import os
import pathlib
import random
import re
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import seqio
import tensorflow as tf

from flan_jax.data import availability
from flan_jax.data import templates as templates_lib

NIV2_ENV = "FLAN_JAX_NIV2_DIR"
COT_ENV = "FLAN_JAX_COT_DIR"
NIV2_URL = "https://github.com/allenai/natural-instructions"
# "skip": registration parses every NIv2 file and leaves malformed ones out (read by tasks/niv2.py).
NIV2_ON_ERROR_ENV = "FLAN_JAX_NIV2_ON_ERROR"
COT_URL = "https://github.com/google-research/FLAN/tree/main/flan/v2/cot_data"

# Keys a task file must have for us to render it (the rest is metadata we do not need).
NIV2_REQUIRED_KEYS = ("Definition", "Instances")

# "Source" and "Categories" sit near the top of every task file (after "Contributors"); 16 KiB
# covers them even for long contributor lists, and reading that much of 1,600 files takes tens
# of milliseconds.
NIV2_HEADER_BYTES = 16 * 1024


class DataSourceError(ValueError):
    """A data file or directory is missing or malformed; the message names it and the fix."""


def resolve_dir(data_dir: str | os.PathLike | None, env: str, what: str, url: str, layout: str,
                argument: str = "data_dir") -> pathlib.Path:
    """The data directory: the argument, else the environment variable `env`.

    Args:
      data_dir: the directory given by the caller (None: read `env`).
      env: the environment variable that names the directory otherwise.
      what: the data, for messages ("the Flan CoT data").
      url: where to download it.
      layout: what the directory holds, for messages.
      argument: the caller's name for `data_dir`, for messages ("qrecc_dir").

    Raises:
      DataSourceError: naming what to download (`url`) and where to point (`argument`, `env`),
        when neither is set or the directory does not exist.
    """
    chosen = data_dir if data_dir is not None else os.environ.get(env)
    hint = (f"Download {what} from {url} and pass its directory ({layout}) as `{argument}` "
            f"or set {env}=/path/to/it.")
    if not chosen:
        raise DataSourceError(f"No directory given for {what}: {hint}")
    path = pathlib.Path(chosen).expanduser()
    if not path.is_dir():
        raise DataSourceError(f"{what} directory {str(path)!r} does not exist: {hint}")
    return path


# --------------------------------------------------------------------------- the protocol
@runtime_checkable
class ExampleSource(Protocol):
    """A seqio source read in Python: what `TemplatedSource` and the input pipeline read.

    Every source of this module and `formats.TemplatedSource` answers it. (Only methods are
    listed: an `isinstance` check then never touches a property such as a TFDS source's
    `splits`, which builds its builder.)
    """

    def iter_examples(self, split: str, shuffle: bool = False, seed: int | None = None,
                      shard_info: seqio.ShardInfo | None = None) -> Iterator[dict[str, Any]]:
        """This shard's examples of `split` as Python dicts (a seeded order when shuffled).

        Raises:
          ValueError: `split` is not one of the source's splits (`check_split`).
        """

    def unavailable_reason(self) -> str | None:
        """Why the data cannot be read here without downloading (None: it can), judged without
        reading examples or touching the network."""


def check_split(kind: str, name: str, split: str, splits: Sequence[str]) -> None:
    """Raises naming the task or source (`kind` `name`) and its splits when it lacks `split`."""
    if split not in splits:
        raise ValueError(f"{kind} {name!r} has no split {split!r}; its splits: {list(splits)}.")


def shard(items: Sequence[Any], shard_info: seqio.ShardInfo | None) -> Sequence[Any]:
    """This shard's items: every `num_shards`-th from `index` (any number of shards)."""
    return items[shard_info.index::shard_info.num_shards] if shard_info else items


def tensor_spec(value: Any, where: str) -> Any:
    """A tf.TensorSpec (or nested dict of them) that holds `value`, a Python example value."""
    if isinstance(value, Mapping):
        return {k: tensor_spec(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, str):
        return tf.TensorSpec([], tf.string)
    if isinstance(value, bool):
        return tf.TensorSpec([], tf.bool)
    if isinstance(value, int):
        return tf.TensorSpec([], tf.int64)
    if isinstance(value, float):
        return tf.TensorSpec([], tf.float32)
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return tf.TensorSpec([None], tf.string)
        if all(isinstance(v, (int, bool)) for v in value):
            return tf.TensorSpec([None], tf.int64)
        if all(isinstance(v, float) for v in value):
            return tf.TensorSpec([None], tf.float32)
    raise DataSourceError(f"Field {where!r} has a value tf.data cannot hold as one tensor ({type(value).__name__}); "
                          "read it through iter_examples, or flatten it.")


# Python types of example fields -> how tf.data holds them.
_SPECS = {str: tf.TensorSpec([], tf.string), int: tf.TensorSpec([], tf.int64), float: tf.TensorSpec([], tf.float32),
          list[str]: tf.TensorSpec([None], tf.string)}


def signature(**fields: type) -> dict[str, tf.TensorSpec]:
    """A tf.data output signature written as a schema: `signature(question=str, options=list[str])`."""
    return {name: _SPECS[kind] for name, kind in fields.items()}


def to_python(value: Any) -> Any:
    """A tf/numpy example value as plain Python: bytes -> str, arrays -> lists, dicts recursed."""
    if isinstance(value, Mapping):
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [to_python(v) for v in value.tolist()] if value.ndim else to_python(value.item())
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def iter_examples(source: seqio.DataSource, split: str, shuffle: bool = False, seed: int | None = None,
                  shard_info: seqio.ShardInfo | None = None) -> Iterator[dict[str, Any]]:
    """The examples of any seqio source as Python dicts (one shard of them when `shard_info`).

    An `ExampleSource` is read directly; any other source through its tf.data `get_dataset`
    (sharded by index where the source cannot shard that finely itself).
    """
    if isinstance(source, ExampleSource):
        yield from source.iter_examples(split, shuffle=shuffle, seed=seed, shard_info=shard_info)
        return
    index_shard = None
    if shard_info is not None and shard_info.num_shards > 1:
        if not (source.supports_arbitrary_sharding or len(source.list_shards(split)) >= shard_info.num_shards):
            index_shard, shard_info = shard_info, None
    dataset = source.get_dataset(split=split, shuffle=shuffle, seed=seed, shard_info=shard_info)
    for i, example in enumerate(dataset.as_numpy_iterator()):
        if index_shard is None or i % index_shard.num_shards == index_shard.index:
            yield to_python(example)


class _IndexedSource(seqio.DataSource):
    """What our sources share as seqio DataSources: any number of shards (by example index), one
    shard list per split, the split check, and raw fields served as tf.data from `iter_examples`."""

    name: str

    @property
    def supports_arbitrary_sharding(self) -> bool:
        return True

    def list_shards(self, split: str) -> Sequence[str]:
        return [split]

    def _check_split(self, split: str) -> None:
        check_split("Source", self.name, split, self.splits)

    def unavailable_reason(self) -> str | None:
        return None

    def output_signature(self, split: str) -> Mapping[str, Any]:
        raise NotImplementedError

    def get_dataset(self, split: str = "train", shuffle: bool = True, seed: int | None = None,
                    shard_info: seqio.ShardInfo | None = None, *, sequence_length=None,
                    use_cached: bool = False, num_epochs: int | None = 1) -> tf.data.Dataset:
        """The raw fields as tf.data (templated tasks read `iter_examples` instead)."""
        del sequence_length, use_cached, num_epochs
        self._check_split(split)
        if seed is not None and not isinstance(seed, int):
            seed = int(seed)  # seqio may pass a scalar tensor.
        signature = dict(self.output_signature(split))
        return tf.data.Dataset.from_generator(
            lambda: ({k: ex[k] for k in signature} for ex in self.iter_examples(split, shuffle, seed, shard_info)),
            output_signature=signature)


# --------------------------------------------------------------------------- Python-native base
class PythonSource(_IndexedSource):
    """A seqio DataSource over examples read in Python (a file per split, parsed on demand).

    Subclasses implement `read(split) -> list of field dicts`. Examples are sharded by index
    (any number of shards) and shuffled by a seeded permutation, so a shard is reproducible.
    Counts are cached once known (the examples themselves are not: a mixture of 1,600 NIv2
    tasks must not keep every file in memory).
    """

    def __init__(self, name: str, splits: Sequence[str], signature: Mapping[str, tf.TensorSpec]):
        super().__init__(splits=tuple(splits), num_input_examples=None)
        self.name = name
        self.signature = dict(signature)
        self._counts: dict[str, int] = {}

    def read(self, split: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def output_signature(self, split: str) -> Mapping[str, Any]:
        return self.signature

    def num_input_examples(self, split: str) -> int:
        """The split's example count (reads the data the first time it is asked)."""
        self._check_split(split)
        if split not in self._counts:
            self._counts[split] = len(self.read(split))
        return self._counts[split]

    def iter_examples(self, split: str, shuffle: bool = False, seed: int | None = None,
                      shard_info: seqio.ShardInfo | None = None) -> Iterator[dict[str, Any]]:
        """This shard's examples (every `num_shards`-th), in file order or a seeded permutation."""
        self._check_split(split)
        examples = self.read(split)
        self._counts[split] = len(examples)
        order = list(range(len(examples)))
        if shuffle:
            random.Random(seed).shuffle(order)
        for i in shard(order, shard_info):
            yield examples[i]


class GeneratorSource(_IndexedSource):
    """Procedurally generated examples: `make(rng) -> fields`, deterministic from a seed.

    Example i of a split is drawn from `random.Random(stable_hash(name, seed, split, i, try))`,
    so any example can be regenerated alone (and any shard, without the others). Splits are
    disjoint by content: an example belongs to "validation" iff a hash of its fields falls in
    one of `validation_buckets` out of 10 buckets, and draws landing in the other split are
    redrawn. Generators with a tiny output space (e.g. "true AND false": 4 examples) pass
    `disjoint=False`: their splits are independent draws from the same distribution. Sizes
    are nominal (for examples-proportional mixing) and may be made as large as wanted; the
    generator has no limit of its own.
    """

    def __init__(
        self,
        name: str,
        make: Callable[[random.Random], dict[str, Any]],
        num_examples: Mapping[str, int] = {"train": 10_000, "validation": 500},  # noqa: B006
        seed: int = 0,
        validation_buckets: int = 1,
        disjoint: bool = True,
    ):
        super().__init__(splits=tuple(num_examples), num_input_examples=dict(num_examples))
        unknown = set(num_examples) - {"train", "validation"}
        if unknown:
            raise ValueError(f"GeneratorSource {name!r}: splits must be train/validation, got {sorted(unknown)}.")
        self.name = name
        self.make = make
        self.seed = seed
        self.validation_buckets = validation_buckets
        self.disjoint = disjoint
        self.fields = tuple(make(random.Random(seed)))

    def example(self, split: str, index: int) -> dict[str, Any]:
        """Example `index` of `split` (a pure function of name, seed, split and index)."""
        for attempt in range(1000):
            fields = self.make(random.Random(templates_lib.stable_hash(self.name, self.seed, split, index, attempt)))
            in_validation = templates_lib.stable_hash(self.name, fields) % 10 < self.validation_buckets
            if not self.disjoint or in_validation == (split == "validation"):
                if set(fields) != set(self.fields):
                    raise ValueError(f"GeneratorSource {self.name!r} made fields {sorted(fields)}, "
                                     f"not the declared {sorted(self.fields)}.")
                return fields
        raise ValueError(f"GeneratorSource {self.name!r}: no {split} example in 1000 draws; "
                         "the generator's output space is too small to split: pass disjoint=False.")

    def iter_examples(self, split: str, shuffle: bool = False, seed: int | None = None,
                      shard_info: seqio.ShardInfo | None = None) -> Iterator[dict[str, Any]]:
        """This shard's examples in index order (examples are i.i.d., so `shuffle` is moot)."""
        del shuffle, seed
        self._check_split(split)
        for i in shard(range(self.num_input_examples(split)), shard_info):
            yield self.example(split, i)

    def output_signature(self, split: str) -> Mapping[str, Any]:
        """Strings, numbers and string lists, as the first training example holds them."""
        return {k: tensor_spec(v, f"{self.name}.{k}") for k, v in self.example("train", 0).items()}


# --------------------------------------------------------------------------- NIv2
@dataclasses.dataclass(frozen=True)
class NIv2Entry:
    """One task file of a natural-instructions checkout, known without parsing it.

    Attributes:
      name: the task name (file stem), e.g. "task1565_triviaqa_classification".
      path: the JSON file.
      split: "train" or "test" (listed in splits/default/*_tasks.txt), or "unlisted".
      sources: the file's "Source" list, read from its header (() when not found there).
      categories: the file's "Categories" list, read likewise (e.g. ("Question Answering",)).
    """

    name: str
    path: pathlib.Path
    split: str
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def read_split_list(path: pathlib.Path) -> set[str]:
    """Task names in a splits/*/*.txt file (one per line; blank lines and '#' comments skipped)."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line[:-5] if line.endswith(".json") else line)
    return names


def _header_list_re(key: str) -> re.Pattern:
    return re.compile(r'"' + re.escape(key) + r'"\s*:\s*(\[[^\]]*\])', re.DOTALL)


# The metadata read from a file's header: "Source" (for the held-out-overlap rule) and
# "Categories" (the task cluster).
HEADER_KEYS = ("Source", "Categories")
_HEADER_RES = {key: _header_list_re(key) for key in HEADER_KEYS}


def read_header_lists(path: pathlib.Path, max_bytes: int = NIV2_HEADER_BYTES) -> dict[str, tuple[str, ...]]:
    """The "Source" and "Categories" lists of an NIv2 file from its first `max_bytes`.

    Only the header is read, never the instances. A key not found there maps to () (the full
    parse, when the data is built, reports real format errors).
    """
    with open(path, "rb") as f:
        head = f.read(max_bytes).decode("utf-8", errors="ignore")
    out = {}
    for key, pattern in _HEADER_RES.items():
        match = pattern.search(head)
        value: Any = ()
        if match:
            try:
                value = json.loads(match.group(1))
            except json.JSONDecodeError:
                value = ()
        out[key] = tuple(str(v) for v in value) if isinstance(value, list) else ()
    return out


def scan_niv2(data_dir: str | os.PathLike | None = None, split_dir: str = "splits/default",
              read_header: bool = True) -> list[NIv2Entry]:
    """Lists the task files of a natural-instructions checkout with their split (no parsing).

    Args:
      data_dir: the checkout (containing `tasks/` and `splits/`); None = $FLAN_JAX_NIV2_DIR.
      split_dir: the split definition inside it, holding train_tasks.txt and test_tasks.txt.
      read_header: also read each file's "Source" and "Categories" from its first few KiB.

    Returns:
      One entry per `tasks/*.json`, sorted by name.

    Raises:
      DataSourceError: the directory, its tasks/ folder or its split lists are missing.
    """
    root = resolve_dir(data_dir, NIV2_ENV, "Super-NaturalInstructions (NIv2)", NIV2_URL,
                       "the checkout root, holding tasks/ and splits/")
    tasks_dir = root / "tasks"
    if not tasks_dir.is_dir():
        raise DataSourceError(f"NIv2 directory {str(root)!r} has no tasks/ folder; point {NIV2_ENV} at the "
                              f"root of a natural-instructions checkout ({NIV2_URL}).")
    splits = {}
    for split in ("train", "test"):
        path = root / split_dir / f"{split}_tasks.txt"
        if not path.is_file():
            raise DataSourceError(f"NIv2 split list {str(path)!r} is missing; it ships with {NIV2_URL} "
                                  f"({split_dir}/{split}_tasks.txt). Test-split tasks cannot be held out without it.")
        splits[split] = read_split_list(path)
    entries = []
    for path in sorted(tasks_dir.glob("*.json")):
        name = path.stem
        split = "test" if name in splits["test"] else "train" if name in splits["train"] else "unlisted"
        header = read_header_lists(path) if read_header else {}
        entries.append(NIv2Entry(name, path, split, header.get("Source", ()), header.get("Categories", ())))
    return entries


@dataclasses.dataclass(frozen=True)
class NIv2Task:
    """A parsed NIv2 task file (only what rendering needs)."""

    name: str
    definition: str
    positive_examples: tuple[dict[str, str], ...]
    instances: tuple[dict[str, Any], ...]


def _fail(path: pathlib.Path, key: str, problem: str) -> DataSourceError:
    return DataSourceError(f"NIv2 task file {str(path)!r}: key {key!r} {problem}. {_NIV2_FIX}")


_NIV2_FIX = (f"Fix or remove the file, or set {NIV2_ON_ERROR_ENV}=skip to leave malformed task files out "
             "(registration then parses every file).")


def load_niv2_task(path: str | os.PathLike) -> NIv2Task:
    """Parses and validates one task file.

    Raises:
      DataSourceError: naming the file and the key at fault (bad JSON, a missing or empty
        Definition, missing Instances, an instance without input/output).
    """
    path = pathlib.Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise DataSourceError(f"NIv2 task file {str(path)!r} is not valid JSON ({e}); key '<file>'. "
                              f"Re-download it. {_NIV2_FIX}") from e
    if not isinstance(data, dict):
        raise _fail(path, "<root>", "is not a JSON object")
    for key in NIV2_REQUIRED_KEYS:
        if key not in data:
            raise _fail(path, key, "is missing")
    definition = data["Definition"]
    if isinstance(definition, list):
        definition = "\n".join(str(d) for d in definition)
    if not isinstance(definition, str) or not definition.strip():
        raise _fail(path, "Definition", "is empty or not text")
    instances = data["Instances"]
    if not isinstance(instances, list):
        raise _fail(path, "Instances", "is not a list")
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or "input" not in instance or "output" not in instance:
            raise _fail(path, f"Instances[{i}]", "lacks 'input' or 'output'")
    positives = data.get("Positive Examples", [])
    if not isinstance(positives, list):
        raise _fail(path, "Positive Examples", "is not a list")
    clean_positives = tuple(
        {"input": str(p["input"]), "output": str(p["output"])}
        for p in positives if isinstance(p, dict) and "input" in p and "output" in p
    )
    return NIv2Task(path.stem, definition.strip(), clean_positives, tuple(instances))


def _outputs(instance: Mapping[str, Any]) -> list[str]:
    output = instance["output"]
    return [str(o) for o in output] if isinstance(output, list) else [str(output)]


NIV2_SIGNATURE = signature(task=str, id=str, definition=str, input=str, output=str, outputs=list[str],
                           positive_inputs=list[str], positive_outputs=list[str])


class NIv2Source(PythonSource):
    """The instances of one NIv2 task file, parsed when first read.

    Each instance becomes one example whose target is its first reference output; with
    `all_outputs` every reference output becomes an example of its own. Instances without any
    output are dropped. Fields: task, id, definition, input, output, outputs (all references),
    positive_inputs / positive_outputs (the task's positive examples, for few-shot prompts).

    NIv2 has no validation split: Flan trains on every instance of the training tasks and
    evaluates on held-out tasks, so the only split is "train".
    """

    def __init__(self, path: str | os.PathLike, all_outputs: bool = False):
        self.path = pathlib.Path(path)
        super().__init__(self.path.stem, ("train",), NIV2_SIGNATURE)
        self.all_outputs = all_outputs

    def load(self) -> NIv2Task:
        return load_niv2_task(self.path)

    def unavailable_reason(self) -> str | None:
        return _missing_file(self.path)

    def read(self, split: str) -> list[dict[str, Any]]:
        self._check_split(split)
        task = self.load()
        positive_inputs = [p["input"] for p in task.positive_examples]
        positive_outputs = [p["output"] for p in task.positive_examples]
        examples = []
        for i, instance in enumerate(task.instances):
            outputs = _outputs(instance)
            for output in (outputs if self.all_outputs else outputs[:1]):
                examples.append({
                    "task": task.name,
                    "id": str(instance.get("id", f"{task.name}-{i}")),
                    "definition": task.definition,
                    "input": str(instance["input"]),
                    "output": output,
                    "outputs": outputs,
                    "positive_inputs": positive_inputs,
                    "positive_outputs": positive_outputs,
                })
        return examples


# --------------------------------------------------------------------------- CoT TSV
COT_SIGNATURE = signature(question=str, answer=str, rationale=str)


def cot_tsv_path(data_dir: pathlib.Path, dataset: str) -> pathlib.Path:
    """Where the Flan CoT release keeps `dataset`'s training rows."""
    return data_dir / f"{dataset}_train.tsv"


def _unescape(text: str) -> str:
    """The release writes newlines as the two characters backslash-n (and tabs as "\\t")."""
    return text.replace("\\n", "\n").replace("\\t", "\t").strip()


def read_cot_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a Flan CoT TSV file as {question, answer, rationale}.

    Raises:
      DataSourceError: naming the file and line, when a row does not have three columns or
        has an empty question or answer.
    """
    path = pathlib.Path(path)
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            columns = line.split("\t")
            if len(columns) != 3:
                raise DataSourceError(
                    f"CoT file {str(path)!r} line {line_number}: expected 3 tab-separated columns "
                    f"(question, answer, rationale), found {len(columns)}.")
            question, answer, rationale = (_unescape(c) for c in columns)
            if not question or not answer:
                raise DataSourceError(f"CoT file {str(path)!r} line {line_number}: empty question or answer.")
            rows.append({"question": question, "answer": answer, "rationale": rationale})
    return rows


class CotTsvSource(PythonSource):
    """One Flan CoT dataset (a single "train" split), read when first asked."""

    def __init__(self, path: str | os.PathLike, name: str | None = None):
        self.path = pathlib.Path(path)
        super().__init__(name or self.path.stem, ("train",), COT_SIGNATURE)

    def unavailable_reason(self) -> str | None:
        return _missing_file(self.path)

    @functools.lru_cache(maxsize=1)  # noqa: B019 - a few MB per dataset, nine datasets.
    def _rows(self) -> tuple[dict[str, str], ...]:
        return tuple(read_cot_tsv(self.path))

    def read(self, split: str) -> list[dict[str, Any]]:
        self._check_split(split)
        return list(self._rows())


# --------------------------------------------------------------------------- file releases
@dataclasses.dataclass(frozen=True)
class Release:
    """A dataset published as files (no TFDS builder): where to get it, what it holds, how to read it.

    Attributes:
      env: the environment variable naming its directory.
      url: where to download it.
      layout: what the directory holds, for the error when it does not.
      required: glob patterns (relative to the directory) that must each match a file.
      read: (directory, split) -> the split's examples as field dicts.
      argument: the registration argument that names the directory (e.g. "qrecc_dir"), named in
        errors beside `env`.
    """

    env: str
    url: str
    layout: str
    required: tuple[str, ...]
    read: Callable[[pathlib.Path, str], list[dict[str, Any]]]
    argument: str = "data_dir"

    def missing(self, directory: pathlib.Path) -> list[str]:
        """The `required` patterns no file under `directory` matches."""
        return [pattern for pattern in self.required if not any(directory.glob(pattern))]

    def problem(self, directory: pathlib.Path, name: str) -> str | None:
        """Why `directory` does not hold the release `name` (None: it does), and how to fix it."""
        where = f"download from {self.url} and point `{self.argument}` or {self.env} at it"
        if not directory.is_dir():
            return f"{name}: release directory {str(directory)!r} does not exist; {where}"
        missing = self.missing(directory)
        if missing:
            return f"{name}: {str(directory)!r} lacks {missing}; it should hold {self.layout} ({where})"
        return None

    def directory(self, data_dir: str | os.PathLike | None, name: str) -> pathlib.Path:
        """The release directory (`data_dir`, else $`env`), checked for its files.

        Raises:
          DataSourceError: naming what to download, where to point, and any file missing.
        """
        path = resolve_dir(data_dir, self.env, f"the {name} release", self.url, self.layout, self.argument)
        problem = self.problem(path, name)
        if problem:
            raise DataSourceError(problem)
        return path


class ReleaseSource(PythonSource):
    """The examples of one file release, each split read once when first asked and then kept.

    A release's files are whole JSON documents (a split cannot be streamed), so a split read
    once is kept rather than parsed again every epoch; `Release.read` decides the splits.
    """

    def __init__(self, name: str, directory: str | os.PathLike, release: Release,
                 output_signature: Mapping[str, tf.TensorSpec], splits: Sequence[str] = ("train", "validation")):
        super().__init__(name, splits, output_signature)
        self.directory = pathlib.Path(directory)
        self.release = release
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def unavailable_reason(self) -> str | None:
        return self.release.problem(self.directory, self.name)

    def read(self, split: str) -> list[dict[str, Any]]:
        self._check_split(split)
        if split not in self._cache:
            self._cache[split] = self.release.read(self.directory, split)
        return self._cache[split]


# --------------------------------------------------------------------------- Hugging Face datasets
class HfDatasetSource(PythonSource):
    """A Hugging Face dataset read by name (`datasets.load_dataset(path, name, ...)`).

    Args:
      path: the dataset name on the Hub (e.g. "allenai/social_i_qa"), or a builder such as
        "json" with `data_files` (how tests read local JSON-lines fixtures).
      name: the configuration name, if any.
      splits: our split name -> the dataset's split ("train" -> "train[:90%]" works too).
      data_files: passed to load_dataset (local files for "json", "csv", ...).
      load_kwargs: any other load_dataset arguments (revision, cache_dir, ...).

    The `datasets` package is imported only when data is read, so registering tasks does not
    need it; reading without it raises an error that says how to install it.
    """

    def __init__(self, path: str, name: str | None = None,
                 splits: Mapping[str, str] | Sequence[str] = ("train", "validation"),
                 data_files: Any = None, load_kwargs: Mapping[str, Any] | None = None):
        split_map = dict(splits) if isinstance(splits, Mapping) else {s: s for s in splits}
        super().__init__(f"{path}/{name}" if name else path, tuple(split_map), {})
        self.path, self.config, self.split_map = path, name, split_map
        self.data_files, self.load_kwargs = data_files, dict(load_kwargs or {})

    def _load(self, split: str):
        try:
            import datasets  # noqa: PLC0415 - optional dependency, imported on first read.
        except ImportError as e:
            raise DataSourceError(
                f"Reading Hugging Face dataset {self.name!r} needs the `datasets` package: "
                "pip install datasets") from e
        return datasets.load_dataset(self.path, self.config, split=self.split_map[split],
                                     data_files=self.data_files, **self.load_kwargs)

    def read(self, split: str) -> list[dict[str, Any]]:
        self._check_split(split)
        return [dict(row) for row in self._load(split)]

    def output_signature(self, split: str) -> Mapping[str, Any]:
        """Inferred from the split's first example (a Hub dataset declares no tf types)."""
        examples = self.read(split)
        if not examples:
            raise DataSourceError(f"Hugging Face dataset {self.name!r} split {split!r} is empty.")
        return {k: tensor_spec(v, k) for k, v in examples[0].items()}

    def unavailable_reason(self) -> str | None:
        return availability.hf_unavailable_reason(
            self.name, self.path, self.config, self.data_files, self.load_kwargs.get("cache_dir"))


def _missing_file(path: pathlib.Path) -> str | None:
    return None if path.is_file() else f"file {str(path)!r} does not exist"


def unavailable_reason(source: seqio.DataSource) -> str | None:
    """Why a source's data cannot be read here without downloading, or None when it can.

    Cheap (no examples read, no builders built, no network): an `ExampleSource` answers itself
    (NIv2 / CoT: the file exists; a file release: its directory holds the required files; Hugging
    Face: the local cache; a TemplatedSource: its base source); TFDS: `tfds_unavailable_reason`
    (the prepared files exist); any other seqio source is assumed available.
    """
    if isinstance(source, ExampleSource):
        return source.unavailable_reason()
    if isinstance(source, seqio.TfdsDataSource):
        return availability.tfds_unavailable_reason(source)
    return None


def data_available(source: seqio.DataSource) -> bool:
    """Whether a source's data can be read here without downloading (see `unavailable_reason`).

    Mixtures use this to leave out tasks whose data is absent instead of failing (or, for the
    Hub, retrying offline) when rates are computed.
    """
    return unavailable_reason(source) is None
