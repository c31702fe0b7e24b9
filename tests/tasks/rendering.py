"""Test helpers: serve fixture rows in a TFDS builder's own format, and render a dataset's tasks in
every registered format from one read of its source."""
import json
import pathlib
from typing import Any, Mapping, Sequence

import seqio
import tensorflow as tf

from flan_jax.data import formats, registry, sources


def _filled(spec: Any, row: Mapping[str, Any]) -> Any:
    """`row` completed to the structure of `spec` (a builder's tensor spec): absent fields empty."""
    if isinstance(spec, Mapping):
        return {key: _filled(value, row.get(key, {})) for key, value in spec.items()}
    if row != {}:
        return row
    if spec.shape.rank:
        return tf.zeros([0], spec.dtype) if spec.dtype != tf.string else tf.constant([], tf.string)
    return {tf.string: b"", tf.bool: False}.get(spec.dtype, 0)


def tfds_rows(rows_by_builder: Mapping[str, Sequence[Mapping[str, Any]]]):
    """An `as_dataset_fn` for `tfds.testing.mock_data` serving fixed rows per builder ("name" or
    "name/config"), shaped by the builder's own features (fields a row omits are left empty)."""
    def as_dataset(self, *args, **kwargs):
        del args, kwargs
        key = f"{self.name}/{self.builder_config.name}" if self.builder_config else self.name
        spec = self.info.features.get_tensor_spec()
        rows = [_filled(spec, row) for row in rows_by_builder[key]]
        return tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=spec)
    return as_dataset


def write_jsonl(directory: pathlib.Path, name: str, rows: Sequence[Mapping[str, Any]]) -> str:
    path = directory / f"{name}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def render_every_format(family: str, split: str = "train") -> dict[str, list[dict[str, Any]]]:
    """format -> the rendered examples of each registered task of `family`.

    The family's source is read once (all its formats wrap the same source); each task then maps
    the rows with its `prepare` and renders them with its own templates, format and few-shot
    settings (`formats.render_example`, what its TemplatedSource serves), exemplars drawn from the
    same rows.
    """
    infos = [i for i in registry.all_infos() if i.family == family]
    assert infos, f"no registered task of {family}"
    base = seqio.TaskRegistry.get(infos[0].task).source.base
    raw = list(sources.iter_examples(base, split))
    out = {}
    for info in infos:
        source = seqio.TaskRegistry.get(info.task).source
        assert source.base is base
        fields = [f for f in map(source.prepare or dict, raw) if f is not None]
        pool = fields if source.few_shot.uses_pool(source.fmt) else ()
        out[info.format] = [
            formats.render_example(f, task_name=info.task, template_set=source.template_set, fmt=source.fmt,
                                   seed=source.seed, exemplar_pool=pool, few_shot=source.few_shot,
                                   length_fn=source.length_fn)
            for f in fields]
    return out


def literal(pattern: str) -> str:
    """A template's longest fixed text (its first line), to find in rendered inputs."""
    return max(pattern.replace("}", "{").split("{")[::2], key=len).strip().split("\n")[0]


def check_rendered(family: str, rendered: Mapping[str, list[dict[str, Any]]], expected: int) -> None:
    """Every format rendered `expected` examples, each from one of its templates, non-empty."""
    template_set = seqio.TaskRegistry.get(f"{family}_{next(iter(rendered))}").source.template_set
    for fmt, examples in rendered.items():
        assert len(examples) == expected, (family, fmt, len(examples))
        group = formats.template_group(formats.get_format(fmt), template_set)
        for ex in examples:
            assert ex["inputs"].strip() and ex["targets"].strip(), (family, fmt, ex)
            assert literal(group[ex["template_idx"]].inputs) in ex["inputs"], (family, fmt, ex["inputs"])
            if fmt.startswith("fs") and expected > 1:
                assert ex["num_exemplars"] >= 1, (family, fmt)
