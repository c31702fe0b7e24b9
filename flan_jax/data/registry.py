"""Register a family of seqio tasks (one per dataset x format) in a few lines.

Example (a complete new instruction task; see docs/register_a_task.py for one with a mixture):

    import seqio
    import tensorflow as tf
    from flan_jax.data import registry, templates

    def yes_no_numbers(split, shuffle_files):
        del shuffle_files
        return tf.data.Dataset.from_tensor_slices({"n": [1, 2, 3, 4]}).map(
            lambda ex: {**ex, "answer": tf.where(ex["n"] % 2 == 0, "yes", "no")})

    names = registry.register_family(
        "even_numbers",
        source=seqio.FunctionDataSource(yes_no_numbers, splits=["train", "validation"]),
        fields=["n", "answer", "options"],
        prepare=lambda ex: {**ex, "options": ["yes", "no"]},
        templates=templates.TemplateSet(
            templates=[templates.Template("Is {n} even?\\n{options_}", "{answer}"),
                       templates.Template("{n}: even or not?\\n{options_}", "{answer}")],
            options_field="options"),
        collection="my_collection", cluster="arithmetic")
    # -> ["even_numbers_zs_opt", "even_numbers_zs_noopt", "even_numbers_fs_opt", "even_numbers_fs_noopt"]

Each registered task's features: "inputs"/"targets" (tokenized with `vocabulary`, EOS added),
"inputs_pretokenized"/"targets_pretokenized" (the rendered strings) and the metadata
"_task_source" (collection), "_task_name" (family), "_template_idx", "_template_type" (format).

Which collection, cluster and format a task belongs to is recorded in a small index keyed by
the task object itself, and looked up through seqio's registry, so `collection_of` and
`tasks_in` report exactly the tasks registered now: never one that `seqio.TaskRegistry.reset()`
removed, and still the original ones when a test restores a registry it had emptied and filled
again with same-named tasks.
"""
import dataclasses
import difflib
import logging
import os
import weakref
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, TypeVar

import seqio

from flan_jax.data import formats as formats_lib
from flan_jax.data import templates as templates_lib
from flan_jax.data import vocabularies

# The collections `flan-jax tasks list --collection` knows (Longpre et al. 2023, Table 1, plus
# our offline suite and the evaluation benchmarks).
COLLECTIONS = ("flan2021", "t0sf", "niv2", "cot", "dialog", "synthetic", "held_out")


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """Where a registered task belongs, and what the input pipeline may assume of it.

    Attributes:
      task: the seqio task name.
      family: the dataset / task family (the name without the format suffix); for a held-out
        benchmark task, the benchmark ("mmlu_cot").
      collection: e.g. "flan2021", "synthetic", "held_out".
      cluster: the task cluster (e.g. "nli"), for held-out-cluster experiments; None if unset.
      format: the format suffix ("zs_opt", ...), or None for tasks registered otherwise.
      subtask: a held-out benchmark task's subtask ("virology"); None for other tasks.
      data_dir: where a held-out benchmark task's files are (for its random-guess score).
      tokenize_in_python: the task's source is a `sources.ExampleSource` yielding "inputs" and
        "targets" strings and its preprocessing is exactly seqio's `tokenize` then
        `append_eos_after_trim` (what `register_family` registers), so the input pipeline may do
        that in Python instead of building a tf.data pipeline for the task.
    """

    task: str
    family: str
    collection: str
    cluster: str | None = None
    format: str | None = None
    subtask: str | None = None
    data_dir: str | None = None
    tokenize_in_python: bool = False


# seqio.Task object -> its info. Keyed by the object (seqio.Task compares by identity), so the
# info of a task that seqio's registry no longer holds is never reported, and it goes away with
# the task.
_INDEX: "weakref.WeakKeyDictionary[seqio.Task, TaskInfo]" = weakref.WeakKeyDictionary()


def record(task: seqio.Task, info: TaskInfo) -> None:
    """Records where `task` (already in seqio.TaskRegistry) belongs; for tasks registered by hand."""
    _INDEX[task] = info


def info(task_name: str) -> TaskInfo | None:
    """The recorded info of a registered task, or None (unknown, unrecorded, or not a Task)."""
    if task_name not in seqio.TaskRegistry.names():
        return None
    return _INDEX.get(seqio.TaskRegistry.get(task_name))


def close_names(name: str, n: int = 5) -> list[str]:
    """Registered task and mixture names close to `name`, closest first (for "did you mean")."""
    known = list(seqio.TaskRegistry.names()) + list(seqio.MixtureRegistry.names())
    return difflib.get_close_matches(name, known, n=n, cutoff=0.6)


def did_you_mean(name: str) -> str:
    """" Did you mean: a, b?" for the registered names close to `name`, or ""."""
    close = close_names(name)
    return f" Did you mean: {', '.join(close)}?" if close else ""


# name -> why a task or mixture the collection registers elsewhere is not registered here (e.g.
# none of its data is on this machine): said when the name is looked up, not at every import.
_NOT_REGISTERED: dict[str, str] = {}


def record_not_registered(name: str, reason: str) -> None:
    """Notes why `name` is not registered (logged; `get_mixture_or_task` says it when `name` is asked for)."""
    _NOT_REGISTERED[name] = reason
    logging.info("Not registered: %s", reason)


def get_mixture_or_task(name: str, hint: str = "Check MIXTURE_OR_TASK_NAME and that MIXTURE_OR_TASK_MODULE "
                        "imports its registration.") -> seqio.Task | seqio.Mixture:
    """The registered task or mixture `name`.

    Raises:
      ValueError: none is registered; the message suggests close names, then `hint` (what the
        caller's user should check).
    """
    if name in seqio.MixtureRegistry.names():
        return seqio.MixtureRegistry.get(name)
    if name in seqio.TaskRegistry.names():
        return seqio.TaskRegistry.get(name)
    if name in _NOT_REGISTERED:
        raise ValueError(f"{name!r} is not registered on this machine: {_NOT_REGISTERED[name]}.")
    count = len(seqio.TaskRegistry.names()) + len(seqio.MixtureRegistry.names())
    raise ValueError(f"No seqio task or mixture named {name!r} is registered ({count} are).{did_you_mean(name)} {hint}")


def tasks_of(provider: str | seqio.Task | seqio.Mixture) -> list[seqio.Task]:
    """A mixture's leaf tasks (sub-mixtures expanded, as seqio does), or [task] for a task."""
    if isinstance(provider, str):
        provider = get_mixture_or_task(provider)
    return list(provider.tasks) if isinstance(provider, seqio.Mixture) else [provider]


def collection_of(task_name: str) -> str | None:
    """The collection of a registered task ("flan2021", ...), None when not recorded."""
    task_info = info(task_name)
    return task_info.collection if task_info else None


def all_infos() -> list[TaskInfo]:
    """The info of every recorded task still registered, sorted by task name."""
    return sorted(filter(None, (info(name) for name in seqio.TaskRegistry.names())), key=lambda i: i.task)


def tasks_in(collection: str, formats: Iterable[str] | None = None) -> list[str]:
    """Registered task names of a collection (optionally only some format suffixes), sorted."""
    wanted = set(formats) if formats is not None else None
    return [
        i.task for i in all_infos()
        if i.collection == collection and (wanted is None or i.format in wanted)
    ]


def clusters(collection: str | None = None) -> dict[str, list[str]]:
    """cluster -> sorted task names, over one collection or all."""
    out: dict[str, list[str]] = {}
    for i in all_infos():
        if i.cluster is not None and (collection is None or i.collection == collection):
            out.setdefault(i.cluster, []).append(i.task)
    return out


def task_name(family: str, fmt: formats_lib.Format) -> str:
    """The naming scheme: `{family}_{format suffix}`, e.g. "anli_r1_zs_opt"."""
    return f"{family}_{fmt.suffix}"


def exact_match(targets: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """Percent of predictions equal to their target (after the task's postprocessor)."""
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} targets but {len(predictions)} predictions.")
    hits = sum(t == p for t, p in zip(targets, predictions))
    return {"exact_match": 100.0 * hits / max(len(targets), 1)}


def postprocess_answer(output: str | bytes, example: Any = None, is_target: bool = False) -> str:
    """Decoded text -> answer: the part after "So the answer is" when present, stripped."""
    del example, is_target
    if isinstance(output, bytes):
        output = output.decode("utf-8")
    return templates_lib.extract_cot_answer(output)


def register_family(
    name: str,
    *,
    source: seqio.DataSource,
    fields: Sequence[str],
    templates: templates_lib.TemplateSet,
    collection: str,
    cluster: str | None = None,
    formats: Sequence[formats_lib.Format | str] | None = None,
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    vocabulary: seqio.Vocabulary | None = None,
    metric_fns: Sequence[Callable[..., Mapping[str, Any]]] = (exact_match,),
    postprocess_fn: Callable[..., Any] | None = postprocess_answer,
    few_shot: formats_lib.FewShotConfig = formats_lib.FewShotConfig(),
    seed: int = 0,
    shuffle_buffer_size: int | None = seqio.SHUFFLE_BUFFER_SIZE,
) -> list[str]:
    """Registers one seqio task per format of one dataset and returns their names.

    Args:
      name: the dataset / family name; tasks are named `{name}_{format suffix}`.
      source: any seqio.DataSource; its examples, after `prepare`, must have `fields`.
      fields: the field names of prepared examples; every template is checked against them
        here, so a typo fails now, naming the template and the field.
      templates: the family's templates.
      collection: the collection the tasks belong to (see COLLECTIONS).
      cluster: the task cluster (e.g. "nli"), for held-out-cluster experiments.
      formats: formats (or suffixes) to register; None = every format the templates support.
      prepare: raw example (Python dict, bytes decoded) -> fields, or None to drop the example.
      vocabulary: for "inputs" and "targets"; default `vocabularies.byte_vocabulary()`.
      metric_fns: seqio metric functions `fn(targets, predictions) -> dict`.
      postprocess_fn: applied to decoded predictions and targets; the default extracts the
        answer of CoT outputs, so exact match compares answers, not rationales.
      few_shot: few-shot assembly (exemplar count, length budget in `vocabulary` tokens).
      seed: rendering seed (template and options-style choice).
      shuffle_buffer_size: seqio's per-task shuffle buffer; generated sources can use less.

    Returns:
      The registered task names, in format order.

    Raises:
      ValueError: a template references an undeclared field, a format is unsupported, or a
        task of that name is already registered (named in the message).
    """
    vocabulary = vocabulary or vocabularies.byte_vocabulary()
    templates.validate(fields, name)
    if few_shot.exemplars_field is not None and few_shot.exemplars_field not in fields:
        raise ValueError(f"Task family {name!r}: FewShotConfig.exemplars_field={few_shot.exemplars_field!r} is not "
                         f"a declared field (declared: {sorted(fields)}).")
    chosen = [formats_lib.get_format(f) if isinstance(f, str) else f
              for f in (formats_lib.applicable_formats(templates) if formats is None else formats)]
    for fmt in chosen:
        formats_lib.check_supported(fmt, templates, task_name(name, fmt))
    names = [task_name(name, fmt) for fmt in chosen]
    for task in names:
        if task in seqio.TaskRegistry.names():
            raise ValueError(
                f"Task {task!r} is already registered; pick another dataset name or remove the "
                "earlier registration (tests: use the clean_registries fixture)."
            )

    def length_fn(text: str) -> int:
        return len(vocabulary.encode(text))

    output_features = {
        "inputs": seqio.Feature(vocabulary, add_eos=True),
        "targets": seqio.Feature(vocabulary, add_eos=True),
    }
    for fmt, task in zip(chosen, names):
        templated = formats_lib.TemplatedSource(
            source, task_name=task, family=name, collection=collection, template_set=templates,
            fmt=fmt, prepare=prepare, seed=seed, few_shot=few_shot, length_fn=length_fn,
        )
        registered = seqio.TaskRegistry.add(
            task,
            source=templated,
            output_features=output_features,
            preprocessors=[
                seqio.preprocessors.tokenize,
                seqio.CacheDatasetPlaceholder(),
                seqio.preprocessors.append_eos_after_trim,
            ],
            postprocess_fn=postprocess_fn,
            metric_fns=list(metric_fns),
            shuffle_buffer_size=shuffle_buffer_size,
        )
        record(registered, TaskInfo(task, name, collection, cluster, fmt.suffix, tokenize_in_python=True))
    return names


class DatasetSpec(Protocol):
    """What `register_datasets` needs of a collection's description of one dataset.

    Each collection module keeps its own frozen dataclass (with where the data comes from: a
    TFDS name, a Hub path, a file); these are the attributes they share.
    """

    @property
    def name(self) -> str: ...
    @property
    def cluster(self) -> str | None: ...
    @property
    def templates(self) -> templates_lib.TemplateSet: ...
    @property
    def fields(self) -> Sequence[str]: ...
    @property
    def prepare(self) -> Callable[[dict[str, Any]], dict[str, Any] | None] | None: ...


Spec = TypeVar("Spec", bound=DatasetSpec)


def select(datasets: Sequence[Spec], names: Sequence[str] | None, collection: str) -> list[Spec]:
    """The datasets called `names`, in that order (all of them, in order, when None).

    Raises:
      ValueError: naming an unknown dataset and listing the collection's known ones.
    """
    by_name = {d.name: d for d in datasets}
    if names is None:
        return list(datasets)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"Unknown {collection} dataset(s) {unknown}; known: {sorted(by_name)}.")
    return [by_name[n] for n in names]


def register_datasets(
    datasets: Sequence[Spec],
    names: Sequence[str] | None,
    *,
    make_source: Callable[[Spec], seqio.DataSource],
    collection: str,
    prefix: str,
    formats: Sequence[str] | None = None,
    vocabulary: seqio.Vocabulary | None = None,
    seed: int = 0,
    **family_options: Any,
) -> list[str]:
    """Registers `{prefix}{dataset}_{format}` for each dataset of a collection (nothing is read).

    Args:
      datasets: the collection's datasets.
      names: which of them (default all); an unknown name is an error listing the known ones.
      make_source: dataset -> its seqio source (TFDS, Hugging Face, local files...).
      collection: recorded for every task (see COLLECTIONS).
      prefix: prepended to the dataset name, e.g. "flan2021_".
      formats: format suffixes, each registered for the datasets whose templates support it
        (e.g. options formats only where there are options); None = all each one supports.
      vocabulary: default the byte vocabulary.
      seed: rendering seed.
      **family_options: passed to `register_family` (few_shot, shuffle_buffer_size, ...).

    Returns:
      The registered task names, dataset by dataset.
    """
    wanted = None if formats is None else [formats_lib.get_format(f) for f in formats]
    registered = []
    for spec in select(datasets, names, collection):
        chosen = None
        if wanted is not None:
            supported = formats_lib.applicable_formats(spec.templates)
            chosen = [f for f in wanted if f in supported]
        registered += register_family(
            prefix + spec.name, source=make_source(spec), fields=spec.fields, templates=spec.templates,
            collection=collection, cluster=spec.cluster, formats=chosen, prepare=spec.prepare,
            vocabulary=vocabulary, seed=seed, **family_options,
        )
    return registered


def handle_missing_data(error: Exception, on_missing: str, what: str) -> None:
    """A file-based collection's `on_missing` policy for absent data (the caller then skips it).

    Args:
      error: what is missing (a `sources.DataSourceError` saying what to download and where).
      on_missing: "error" raises `error`; "warn" logs that `what` is not registered; "skip" says nothing.
      what: the collection or dataset left out, e.g. "NIv2 collection".
    """
    if on_missing == "error":
        raise error
    if on_missing == "warn":
        logging.warning("%s not registered: %s", what, error)


def register_if_configured(env: str, what: str, url: str, register: Callable[..., list[str]]) -> list[str]:
    """What a file-based collection registers at import: everything when $`env` names its data.

    Without the variable the collection is absent, with one log line saying what to set; with it,
    `register(on_missing="warn")` runs, so a wrong path warns instead of failing the import.

    Args:
      env: the environment variable, e.g. "FLAN_JAX_NIV2_DIR".
      what: what it should point to, e.g. "a natural-instructions checkout".
      url: where to get the data.
      register: the collection's `register`, taking `on_missing`.

    Returns:
      The registered task names.
    """
    if not os.environ.get(env):
        logging.info("Collection not registered: set %s to %s (%s).", env, what, url)
        return []
    return register(on_missing="warn")
