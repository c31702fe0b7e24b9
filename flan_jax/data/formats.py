"""Formats: the zero-shot / few-shot / options / CoT / inversion variants of one task.

The Flan Collection trains on every dataset in several formats at once (Longpre et al. 2023,
Sec. 3: mixing zero-shot, few-shot and CoT prompts beats any one of them). Each format of a
dataset is its own seqio task, named `{dataset}_{suffix}`:

  suffix     shows options  exemplars  templates            target
  zs_opt     yes            0          standard             answer (or its letter)
  zs_noopt   no             0          standard             answer
  fs_opt     yes            k          standard             answer (or its letter)
  fs_noopt   no             k          standard             answer
  cot        if any         0          chain-of-thought     "<rationale> So the answer is X."
  fs_cot     if any         k          chain-of-thought     "<rationale> So the answer is X."
  inv        no             0          inversion            e.g. the question

Rendering happens in Python inside the data source (`TemplatedSource`), so tf.data only
tokenizes: template choice, options style and exemplars are keyed by a stable hash of the
example's content and the seed, which makes every split reproducible across runs and hosts.
Few-shot exemplars come from the same task's exemplar split (default train), never the example
itself, and are pruned to `FewShotConfig.max_input_length` tokens. Tasks that ship their own
demonstrations take them from a field instead (`FewShotConfig.exemplars_field`), and a template
with an `instruction` states it once before the exemplars ("instruction once, then exemplars",
the Flan 2022 NIv2 layout) rather than in every one.
"""
import dataclasses
import itertools
import random
from typing import Any, Callable, Iterator, Mapping, Sequence

import seqio
import tensorflow as tf

from flan_jax.data import sources
from flan_jax.data import templates as templates_lib

STANDARD, CHAIN_OF_THOUGHT, INVERSION = "standard", "cot", "inversion"


@dataclasses.dataclass(frozen=True)
class Format:
    """One prompt format.

    Attributes:
      suffix: appended to the dataset name to name the seqio task (and `_template_type`).
      kind: which templates it uses: "standard", "cot" or "inversion".
      few_shot: prepend exemplars from the exemplar split.
      options: show answer options (for kind "cot": shown when the family has options).
    """

    suffix: str
    kind: str
    few_shot: bool
    options: bool


ZS_OPT = Format("zs_opt", STANDARD, few_shot=False, options=True)
ZS_NOOPT = Format("zs_noopt", STANDARD, few_shot=False, options=False)
FS_OPT = Format("fs_opt", STANDARD, few_shot=True, options=True)
FS_NOOPT = Format("fs_noopt", STANDARD, few_shot=True, options=False)
COT = Format("cot", CHAIN_OF_THOUGHT, few_shot=False, options=True)
FS_COT = Format("fs_cot", CHAIN_OF_THOUGHT, few_shot=True, options=True)
INV = Format("inv", INVERSION, few_shot=False, options=False)

ALL_FORMATS = (ZS_OPT, ZS_NOOPT, FS_OPT, FS_NOOPT, COT, FS_COT, INV)
FORMATS_BY_SUFFIX = {f.suffix: f for f in ALL_FORMATS}


def get_format(suffix: str) -> Format:
    """The format named `suffix` ("zs_opt", ...), or an error listing the known ones."""
    if suffix not in FORMATS_BY_SUFFIX:
        raise ValueError(f"Unknown format {suffix!r}; known formats: {sorted(FORMATS_BY_SUFFIX)}.")
    return FORMATS_BY_SUFFIX[suffix]


def applicable_formats(template_set: templates_lib.TemplateSet) -> tuple[Format, ...]:
    """The formats a family supports: options formats need options, CoT a rationale, etc."""
    return tuple(f for f in ALL_FORMATS if not _unsupported_reason(f, template_set))


def _unsupported_reason(fmt: Format, template_set: templates_lib.TemplateSet) -> str:
    if fmt.kind == STANDARD and fmt.options and template_set.options_field is None:
        return "it shows answer options and the family declares no options_field"
    if fmt.kind == CHAIN_OF_THOUGHT and not template_set.cot_templates:
        return "the family has no cot_templates (see templates.chain_of_thought)"
    if fmt.kind == INVERSION and not template_set.inversion_templates:
        return "the family has no inversion_templates"
    return ""


def carries_options(fmt: Format, template_set: templates_lib.TemplateSet) -> bool:
    """Whether `fmt`'s examples carry "options" (rank classification's candidates): the family has
    options and the format's target is the answer (every format but inversion), shown or not."""
    return template_set.options_field is not None and fmt.kind != INVERSION


def check_supported(fmt: Format, template_set: templates_lib.TemplateSet, task_name: str) -> None:
    """Raises naming the task and the format when `template_set` cannot render `fmt`."""
    reason = _unsupported_reason(fmt, template_set)
    if reason:
        raise ValueError(f"Task {task_name!r} cannot use format {fmt.suffix!r}: {reason}.")


@dataclasses.dataclass(frozen=True)
class FewShotConfig:
    """How few-shot inputs are assembled.

    Attributes:
      num_exemplars: exemplars before pruning. Flan used up to 5; 3 keeps inputs short.
      max_input_length: budget for exemplars + query, in vocabulary tokens. 2048 matches the
        FLAN-T5 input length (Chung et al. 2022, Table 22); lower it for short models.
      pool_size: exemplars are drawn from the first `pool_size` examples of the exemplar split
        (read once per task and kept in memory).
      exemplar_split: where exemplars come from.
      separators: varied (inputs/targets, between exemplars) separator pairs.
      exemplars_field: take the exemplars from this field of the example itself (a list of
        field dicts, in order, the first `num_exemplars`) instead of drawing them from the
        exemplar split: for tasks that ship their own demonstrations, like NIv2's positive
        examples. No exemplar split is read then.
    """

    num_exemplars: int = 3
    max_input_length: int = 2048
    pool_size: int = 64
    exemplar_split: str = "train"
    separators: Sequence[tuple[str, str]] = templates_lib.FEW_SHOT_SEPARATORS
    exemplars_field: str | None = None

    def uses_pool(self, fmt: "Format") -> bool:
        """Whether `fmt` draws exemplars from the exemplar split (few-shot, no exemplars_field)."""
        return fmt.few_shot and self.exemplars_field is None


def template_group(fmt: Format, template_set: templates_lib.TemplateSet) -> tuple[templates_lib.Template, ...]:
    return {
        STANDARD: template_set.templates,
        CHAIN_OF_THOUGHT: template_set.cot_templates,
        INVERSION: template_set.inversion_templates,
    }[fmt.kind]


def example_key(fields: Mapping[str, Any]) -> int:
    """The identity of an example: a stable hash of its content."""
    return templates_lib.stable_hash(dict(fields))


def render_example(
    fields: Mapping[str, Any],
    *,
    task_name: str,
    template_set: templates_lib.TemplateSet,
    fmt: Format,
    seed: int = 0,
    exemplar_pool: Sequence[Mapping[str, Any]] = (),
    few_shot: FewShotConfig = FewShotConfig(),
    length_fn: Callable[[str], int] = lambda s: len(s.encode("utf-8")),
    exemplar_keys: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Renders one example in one format.

    Every choice (template, options style, exemplars, separators) is keyed by the example's
    content, the task name and `seed`, so the output is a pure function of the arguments.
    A template's instruction (`Template.instruction`) is stated once, before the exemplars.

    Args:
      fields: the example's fields.
      task_name: the seqio task (part of the key, and named in errors).
      template_set: the family's templates.
      fmt: the format.
      seed: change it to draw a different (still deterministic) rendering of the same data.
      exemplar_pool: candidate exemplars (fields) for few-shot formats; the example itself and
        exact copies of it are never chosen. Unused with `few_shot.exemplars_field`.
      few_shot: few-shot settings.
      length_fn: string length in vocabulary tokens, for pruning exemplars.
      exemplar_keys: `example_key` of each pool entry, when the caller has them (they cost a
        hash per entry per example otherwise).

    Returns:
      {"inputs", "targets", "template_idx", "num_exemplars"}, and "options" where the format
      `carries_options`: the candidate targets in the order shown (`templates.target_options`;
      in the noopt formats too, since ranking scores them without showing them).
    """
    key = example_key(fields)
    group = template_group(fmt, template_set)
    template_idx, template = templates_lib.choose(group, task_name, seed, key, "template")
    style = None
    if fmt.options and template_set.options_field is not None:
        _, style = templates_lib.choose(templates_lib.OPTION_STYLES, task_name, seed, key, "options")
    inputs, targets = templates_lib.render(template, fields, template_set, style, task_name)
    instruction = templates_lib.render_instruction(template, fields, task_name)
    num_exemplars = 0
    if not fmt.few_shot:
        inputs = templates_lib.with_instruction(instruction, inputs)
    else:
        if few_shot.exemplars_field is not None:
            chosen = list(fields[few_shot.exemplars_field])[:few_shot.num_exemplars]
        else:
            keys = exemplar_keys if exemplar_keys is not None else [example_key(e) for e in exemplar_pool]
            candidates = [e for e, k in zip(exemplar_pool, keys) if k != key]
            rng = random.Random(templates_lib.stable_hash(task_name, seed, key, "exemplars"))
            chosen = rng.sample(candidates, min(few_shot.num_exemplars, len(candidates)))
        rendered = [templates_lib.render(template, e, template_set, style, task_name) for e in chosen]
        _, separators = templates_lib.choose(few_shot.separators, task_name, seed, key, "separators")
        inputs, num_exemplars = templates_lib.assemble_few_shot(
            rendered, inputs, separators, few_shot.max_input_length, length_fn, instruction
        )
    rendered = {"inputs": inputs, "targets": targets, "template_idx": template_idx, "num_exemplars": num_exemplars}
    if carries_options(fmt, template_set):
        rendered["options"] = templates_lib.target_options(fields, template_set, style)
    return rendered


class TemplatedSource(seqio.DataSource):
    """A seqio DataSource that renders another source's examples in one format.

    It reads the base source in Python, maps each example through `prepare` (raw -> fields; None
    drops it), renders it, and yields string features "inputs" / "targets" plus the metadata
    "_task_source", "_task_name", "_template_idx", "_template_type", and for a family with options
    "options" (a list of strings: see `carries_options`; what the evaluator ranks). Downstream,
    seqio only tokenizes (and copies the strings to "inputs_pretokenized" / "targets_pretokenized");
    the training pipeline reads "inputs" and "targets" only, so the other features never reach a batch.
    """

    def __init__(
        self,
        base: seqio.DataSource,
        *,
        task_name: str,
        family: str,
        collection: str,
        template_set: templates_lib.TemplateSet,
        fmt: Format,
        prepare: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        seed: int = 0,
        few_shot: FewShotConfig = FewShotConfig(),
        length_fn: Callable[[str], int] = lambda s: len(s.encode("utf-8")),
    ):
        # Sizes are asked of the base source lazily: a TFDS source reads its builder's metadata
        # (possibly remotely) to answer, which registration must not wait for.
        super().__init__(splits=base.splits, num_input_examples=None, caching_permitted=base.caching_permitted)
        if few_shot.uses_pool(fmt) and few_shot.exemplar_split not in base.splits:
            raise ValueError(
                f"Task {task_name!r} ({fmt.suffix}): few-shot exemplars come from split "
                f"{few_shot.exemplar_split!r}, which the source lacks (splits: {list(base.splits)}). "
                "Set FewShotConfig.exemplar_split or drop the few-shot formats."
            )
        self.base = base
        self.task_name = task_name
        self.family = family
        self.collection = collection
        self.template_set = template_set
        self.fmt = fmt
        self.prepare = prepare
        self.seed = seed
        self.few_shot = few_shot
        self.length_fn = length_fn
        self._exemplar_pool: list[dict[str, Any]] | None = None
        self._exemplar_keys: list[int] = []
        self.output_signature = {**OUTPUT_SIGNATURE, **(OPTIONS_SIGNATURE if carries_options(fmt, template_set) else {})}

    @property
    def supports_arbitrary_sharding(self) -> bool:
        return True

    def list_shards(self, split: str) -> Sequence[str]:
        return self.base.list_shards(split)

    def num_input_examples(self, split: str) -> int | None:
        """The base source's count (before `prepare` drops any), None where it has none."""
        return self.base.num_input_examples(split)

    def examples(self, split: str, shard_info: seqio.ShardInfo | None = None,
                 shuffle: bool = False, seed: int | None = None) -> Iterator[dict[str, Any]]:
        """The prepared fields of the base source's examples (Python dicts)."""
        for raw in sources.iter_examples(self.base, split, shuffle=shuffle, seed=seed, shard_info=shard_info):
            fields = self.prepare(raw) if self.prepare else raw
            if fields is not None:
                yield fields

    def exemplar_pool(self) -> list[dict[str, Any]]:
        """The few-shot candidates: the first `pool_size` examples of the exemplar split."""
        if self._exemplar_pool is None:
            pool = []
            for fields in self.examples(self.few_shot.exemplar_split):
                pool.append(fields)
                if len(pool) >= self.few_shot.pool_size:
                    break
            self._exemplar_keys = [example_key(e) for e in pool]
            self._exemplar_pool = pool
        return self._exemplar_pool

    def render(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """One example's output features (strings + metadata) in this source's format."""
        uses_pool = self.few_shot.uses_pool(self.fmt)
        rendered = render_example(
            fields,
            task_name=self.task_name,
            template_set=self.template_set,
            fmt=self.fmt,
            seed=self.seed,
            exemplar_pool=self.exemplar_pool() if uses_pool else (),
            few_shot=self.few_shot,
            length_fn=self.length_fn,
            exemplar_keys=self._exemplar_keys if uses_pool else None,
        )
        out = {
            "inputs": rendered["inputs"],
            "targets": rendered["targets"],
            "_task_source": self.collection,
            "_task_name": self.family,
            "_template_idx": rendered["template_idx"],
            "_template_type": self.fmt.suffix,
        }
        if "options" in rendered:
            out["options"] = rendered["options"]
        return out

    def iter_examples(self, split: str, shuffle: bool = False, seed: int | None = None,
                      shard_info: seqio.ShardInfo | None = None) -> Iterator[dict[str, Any]]:
        """This shard's rendered examples (what `get_dataset` serves), as Python dicts: the
        `sources.ExampleSource` contract, so readers of Python examples need not tell it apart."""
        sources.check_split("Task", self.task_name, split, self.splits)
        for fields in self.examples(split, shard_info=shard_info, shuffle=shuffle, seed=seed):
            yield self.render(fields)

    def unavailable_reason(self) -> str | None:
        """The base source's answer: rendering needs nothing else."""
        return sources.unavailable_reason(self.base)

    def get_dataset(
        self,
        split: str = "train",
        shuffle: bool = True,
        seed: int | None = None,
        shard_info: seqio.ShardInfo | None = None,
        *,
        sequence_length: Mapping[str, int] | None = None,
        use_cached: bool = False,
        num_epochs: int | None = 1,
    ) -> tf.data.Dataset:
        del sequence_length, use_cached, num_epochs  # seqio repeats and trims downstream.
        sources.check_split("Task", self.task_name, split, self.splits)
        if seed is not None and not isinstance(seed, int):
            seed = int(seed)  # seqio may pass a scalar tensor.
        # Chunks of rendered examples cross into tf.data at once and are unbatched there: the
        # per-element cost of `from_generator` (~0.5 ms) is otherwise the bottleneck.
        chunks = tf.data.Dataset.from_generator(
            lambda: _chunked(self.iter_examples(split, shuffle=shuffle, seed=seed, shard_info=shard_info),
                             self.output_signature),
            output_signature={k: _chunk_spec(v) for k, v in self.output_signature.items()},
        )
        return chunks.unbatch()


def _chunk_spec(spec: tf.TensorSpec) -> tf.TypeSpec:
    """The spec of a chunk of `spec` values: a vector of scalars, a ragged matrix of lists."""
    if spec.shape.rank == 0:
        return tf.TensorSpec([None], spec.dtype)
    return tf.RaggedTensorSpec([None, None], spec.dtype, ragged_rank=1)


def _chunked(examples: Iterator[dict[str, Any]], signature: Mapping[str, tf.TensorSpec],
             size: int = 128) -> Iterator[dict[str, Any]]:
    """Up to `size` examples at a time, feature by feature (the generator's batching for tf.data):
    lists of scalars, and list features (the options) as a ragged tensor."""

    def columns(block: list[dict[str, Any]]) -> dict[str, Any]:
        out = {}
        for key, spec in signature.items():
            values = [example[key] for example in block]
            out[key] = values if spec.shape.rank == 0 else tf.RaggedTensor.from_row_lengths(
                tf.constant([v for row in values for v in row], spec.dtype), [len(row) for row in values])
        return out

    while block := list(itertools.islice(examples, size)):
        yield columns(block)


OUTPUT_SIGNATURE = sources.signature(inputs=str, targets=str, _task_source=str, _task_name=str, _template_idx=int,
                                     _template_type=str)
OPTIONS_SIGNATURE = sources.signature(options=list[str])
