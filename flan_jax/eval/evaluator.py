"""Evaluate a model on seqio tasks and mixtures: predictions, each task's metrics, benchmark tables.

    results = evaluator.evaluate(model, params, ["flan_held_out"],
                                 task_feature_lengths={"inputs": 2048, "targets": 256}, batch_size=32)
    print(evaluator.format_markdown(results))
    evaluator.write_results(results, "runs/x/eval")   # results.json, results.md, predictions/

For every task (mixtures are expanded into their tasks), the examples of its evaluation split
are read in order, their pretokenized text is tokenized with the MODEL's vocabularies (so a task
registered with any vocabulary evaluates any model), batched to fixed shapes (one compilation),
decoded with `model.predict_batch` (or ranked with `model.score_batch`: rank classification),
passed through the task's postprocessor and scored by its metric functions, as seqio does.
Tasks of the held-out benchmarks (`flan_jax.eval.held_out_tasks`) are then aggregated per
benchmark (macro average, MMLU categories, normalised score, the paper's normalised average)
with the code `flan-jax score` uses, and their predictions are written in `score`'s format.

Inputs longer than the feature length are cut from the LEFT (few-shot prompts keep the question
and lose the start of the exemplars); the number cut is reported per task.
"""
import dataclasses
import functools
import json
import logging
import pathlib
from typing import Any, Callable, Mapping, Protocol, Sequence

import jax
import numpy as np
import seqio

from flan_jax.data import registry
from flan_jax.eval import benchmarks, held_out_tasks, metrics, report

Batch = dict[str, np.ndarray]


class Model(Protocol):
    """What the evaluator needs of a model (flan_jax.models.model.EncoderDecoderModel)."""

    input_vocabulary: seqio.Vocabulary
    output_vocabulary: seqio.Vocabulary

    def predict_batch(self, params: Any, batch: Mapping[str, Any], rng: Any = None, **kwargs) -> Any: ...

    def score_batch(self, params: Any, batch: Mapping[str, Any]) -> Any: ...


@dataclasses.dataclass(frozen=True)
class DecodeOptions:
    """How `predict_batch` decodes (its keyword arguments).

    Attributes:
      method: "greedy", "beam" or "sample".
      num_beams, alpha: beam search width and length penalty (t5x's defaults 4 and 0.6).
      temperature, top_k: sampling.
      seed: the base key of sampling; batch i uses fold_in(key, i).
    """

    method: str = "greedy"
    num_beams: int = 4
    alpha: float = 0.6
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0


@dataclasses.dataclass
class TaskResult:
    """One task's evaluation.

    Attributes:
      task: the seqio task name.
      split: the split evaluated.
      metrics: the task's metric values (percent for the held-out benchmarks).
      num_examples: examples scored.
      num_truncated: inputs cut to the input feature length.
      rank_classification: whether predictions are the best-scoring options.
      benchmark, subtask: set for held-out benchmark tasks.
      predictions: one record per example: {"subtask"/"task", "index", "prediction", "target"}.
    """

    task: str
    split: str
    metrics: dict[str, float]
    num_examples: int
    num_truncated: int = 0
    rank_classification: bool = False
    benchmark: str | None = None
    subtask: str | None = None
    predictions: list[dict[str, Any]] = dataclasses.field(default_factory=list, repr=False)


@dataclasses.dataclass
class EvalResults:
    """All tasks' results and the benchmark aggregates.

    Attributes:
      tasks: task name -> TaskResult, in evaluation order.
      benchmarks: benchmark -> summary (only benchmarks whose tasks were evaluated).
      normalized_average: the mean of the six normalised benchmark scores; None unless all six ran.
    """

    tasks: dict[str, TaskResult]
    benchmarks: dict[str, report.BenchmarkSummary]
    normalized_average: float | None

    def other_tasks_average(self) -> float | None:
        """Mean of the first metric of the tasks outside the held-out benchmarks (e.g. synthetic)."""
        values = [next(iter(r.metrics.values())) for r in self.tasks.values() if r.benchmark is None and r.metrics]
        return float(np.mean(values)) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "normalized_average": self.normalized_average,
            "benchmarks": {name: s.to_json() for name, s in self.benchmarks.items()},
            "tasks": {
                name: {k: v for k, v in dataclasses.asdict(r).items() if k != "predictions"}
                for name, r in self.tasks.items()
            },
            "other_tasks_average": self.other_tasks_average(),
        }

    def scalars(self, prefix: str = "eval") -> dict[str, float]:
        """Flat scalars for TensorBoard: per task metric, per benchmark average/normalised, overall."""
        out = {f"{prefix}/{t}/{m}": float(v) for t, r in self.tasks.items() for m, v in r.metrics.items()}
        for name, s in self.benchmarks.items():
            out[f"{prefix}/{name}/average"] = s.average
            out[f"{prefix}/{name}/normalized"] = s.normalized
        if self.normalized_average is not None:
            out[f"{prefix}/normalized_average"] = self.normalized_average
        other = self.other_tasks_average()
        if other is not None:
            out[f"{prefix}/other_tasks_average"] = other
        return out


def expand_tasks(names: Sequence[str]) -> list[seqio.Task]:
    """Tasks and mixtures -> the tasks, in order, without duplicates.

    Raises:
      ValueError: a name is neither; the message suggests registered names that are close.
    """
    import difflib

    tasks, seen = [], set()
    for name in names:
        if name in seqio.TaskRegistry.names() or name in seqio.MixtureRegistry.names():
            provider = seqio.get_mixture_or_task(name)
        else:
            known = list(seqio.TaskRegistry.names()) + list(seqio.MixtureRegistry.names())
            close = difflib.get_close_matches(name, known, n=5)
            raise ValueError(
                f"No task or mixture named {name!r} to evaluate"
                + (f"; did you mean {close}?" if close else ".")
                + " Is the module that registers it imported (MIXTURE_OR_TASK_MODULE, e.g. "
                "'flan_jax_tasks.held_out' with the FLAN_JAX_*_DIR variables set)?"
            )
        for task in provider.tasks if isinstance(provider, seqio.Mixture) else [provider]:
            if task.name not in seen:
                seen.add(task.name)
                tasks.append(task)
    return tasks


def evaluation_split(task: seqio.Task, split: str | None = None) -> str:
    """`split` if given, else the task's "validation" split, else its "test" split."""
    if split is not None:
        if split not in task.splits:
            raise ValueError(f"Task {task.name!r} has no split {split!r}; it has {list(task.splits)}.")
        return split
    for candidate in ("validation", "test"):
        if candidate in task.splits:
            return candidate
    raise ValueError(f"Task {task.name!r} has neither a 'validation' nor a 'test' split ({list(task.splits)}); pass split=.")


def load_examples(task: seqio.Task, split: str, max_examples: int | None = None) -> list[dict[str, Any]]:
    """The task's preprocessed examples of `split` in order, as numpy dicts (pretokenized text kept)."""
    ds = task.get_dataset(sequence_length=None, split=split, shuffle=False, use_cached=False, num_epochs=1)
    if max_examples is not None:
        ds = ds.take(max_examples)
    examples = list(ds.as_numpy_iterator())
    for key in ("inputs_pretokenized", "targets_pretokenized"):
        if examples and key not in examples[0]:
            raise ValueError(f"Task {task.name!r} examples lack {key!r}; the evaluator tokenizes that text with the model's vocabulary.")
    return examples


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def encode(vocabulary: seqio.Vocabulary, text: str, length: int, keep: str) -> tuple[list[int], bool]:
    """Token ids with EOS, cut to `length` keeping the "left" or "right" end; (ids, was_cut)."""
    ids = list(vocabulary.encode(text)) + [vocabulary.eos_id]
    if len(ids) <= length:
        return ids, False
    return (ids[-length:] if keep == "right" else ids[: length - 1] + [vocabulary.eos_id]), True


def make_batch(inputs: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], batch_size: int,
               lengths: Mapping[str, int]) -> Batch:
    """t5x enc-dec batch (unpacked, as seqio.EncDecFeatureConverter emits), zero rows as padding."""
    encoder = np.zeros((batch_size, lengths["inputs"]), np.int32)
    decoder_target = np.zeros((batch_size, lengths["targets"]), np.int32)
    for row, (i, t) in enumerate(zip(inputs, targets)):
        encoder[row, : len(i)] = i
        decoder_target[row, : len(t)] = t
    decoder_input = np.zeros_like(decoder_target)
    decoder_input[:, 1:] = decoder_target[:, :-1]  # shifted right; BOS is 0 in T5
    return {
        "encoder_input_tokens": encoder,
        "decoder_input_tokens": decoder_input,
        "decoder_target_tokens": decoder_target,
        "decoder_loss_weights": (decoder_target > 0).astype(np.int32),
    }


def decode_tokens(vocabulary: seqio.Vocabulary, tokens: Sequence[int]) -> str:
    """Output ids -> text, stopping at EOS (and at padding)."""
    ids = []
    for t in tokens:
        t = int(t)
        if t in (vocabulary.eos_id, 0):
            break
        ids.append(t)
    return vocabulary.decode(ids)


@dataclasses.dataclass
class _Steps:
    """The jitted predict / score functions, built once per evaluate() call."""

    predict: Callable[..., Any]
    score: Callable[..., Any]


@functools.lru_cache(maxsize=8)
def _steps(model: Model, decode: DecodeOptions) -> _Steps:
    """Cached per (model, options), so periodic evaluation in a training loop compiles once."""

    def predict(params, batch, rng):
        return model.predict_batch(
            params, batch, rng, method=decode.method, num_beams=decode.num_beams, alpha=decode.alpha,
            temperature=decode.temperature, top_k=decode.top_k,
        )

    return _Steps(predict=jax.jit(predict), score=jax.jit(model.score_batch))


def _progress(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not enabled or jax.process_index() != 0, leave=False,
                dynamic_ncols=True)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class BatchPlacer(Protocol):
    """Turns this process's rows of a batch into global arrays (`partitioning.Partitioner`)."""

    def batch_sharding(self) -> jax.sharding.NamedSharding: ...

    def host_local_to_global(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]: ...


@dataclasses.dataclass(frozen=True)
class ProcessShard:
    """Which rows this JAX process feeds, and how its batches become global (t5x shards eval input per host).

    Process `index` of `count` takes rows index, index + count, ... (`local_batch_size` of them
    per step); with several processes each batch is a global array over the mesh's data axis and
    the outputs are gathered, so every process (the chief writes) ends with every row's output.
    """

    index: int
    count: int
    local_batch_size: int
    placer: BatchPlacer | None

    @classmethod
    def current(cls, batch_size: int, placer: BatchPlacer | None) -> "ProcessShard":
        """This process's shard of global batches of `batch_size` rows.

        Raises:
          ValueError: several processes without a placer, or a batch that does not split evenly.
        """
        count = jax.process_count()
        if count == 1:
            return cls(0, 1, batch_size, placer)
        if placer is None:
            raise ValueError(f"Evaluating in {count} JAX processes needs the partitioner whose mesh holds the params.")
        data_size = placer.batch_sharding().mesh.shape.get("data", 1)
        if batch_size % count or batch_size % data_size:
            raise ValueError(f"EVAL_BATCH_SIZE={batch_size} must be a multiple of the {count} processes and of the "
                             f"{data_size} data-parallel replicas of the mesh.")
        return cls(jax.process_index(), count, batch_size // count, placer)

    def num_steps(self, num_rows: int) -> int:
        """Steps every process runs (the same number everywhere: each step is a collective)."""
        return _ceil_div(_ceil_div(num_rows, self.count), self.local_batch_size)

    def rows_of_step(self, num_rows: int, step_index: int) -> list[int]:
        """The rows this process feeds at `step_index` (at most `local_batch_size`; [] once it is done)."""
        start = self.index + step_index * self.local_batch_size * self.count
        return list(range(start, num_rows, self.count))[: self.local_batch_size]

    def map(self, step: Callable[[Batch, int], Any], rows: Sequence[Any],
            build: Callable[[Sequence[Any], int], Batch], bar) -> list[np.ndarray]:
        """`step(batch, step_index)` over all `rows`; returns one output row per input row, in order.

        Args:
          step: batch, step index -> per-row outputs [rows, ...].
          rows: the items to batch (encoded inputs, (input, option) pairs).
          build: items, batch size -> a numpy batch with zero rows as padding.
          bar: progress bar, advanced once per step.
        """
        outputs: list[Any] = [None] * len(rows)
        for step_index in range(self.num_steps(len(rows))):
            ids = self.rows_of_step(len(rows), step_index)
            batch = build([rows[i] for i in ids], self.local_batch_size)
            row_ids = np.full(self.local_batch_size, -1, np.int32)
            row_ids[: len(ids)] = ids
            if self.count == 1:
                result = np.asarray(step(batch, step_index))
            else:
                from jax.experimental import multihost_utils

                global_ids = jax.make_array_from_process_local_data(self.placer.batch_sharding(), row_ids)
                result = step(self.placer.host_local_to_global(batch), step_index)
                # Outputs and ids gathered together keep each output with its row, whatever the device order.
                result, row_ids = (np.asarray(x) for x in multihost_utils.process_allgather((result, global_ids), tiled=True))
            for row_id, output in zip(row_ids, result):
                if row_id >= 0:
                    outputs[row_id] = output
            bar.update(1)
        return outputs


def _predict_texts(model: Model, steps: _Steps, params: Any, encoded: list[list[int]], shard: ProcessShard,
                   lengths: Mapping[str, int], decode: DecodeOptions, bar) -> list[str]:
    key = jax.random.PRNGKey(decode.seed)
    tokens = shard.map(
        lambda batch, index: steps.predict(params, batch, jax.random.fold_in(key, index)),
        encoded,
        lambda chunk, size: make_batch(chunk, [[] for _ in chunk], size, lengths),
        bar,
    )
    return [decode_tokens(model.output_vocabulary, row) for row in tokens]


def predict_texts(
    model: Model,
    params: Any,
    texts: Sequence[str],
    *,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 32,
    decode: DecodeOptions = DecodeOptions(),
    progress: bool = False,
    placer: BatchPlacer | None = None,
) -> list[str]:
    """Decoded outputs for raw input texts (inputs cut from the left to the input length).

    Args:
      model, params: as in `evaluate`.
      texts: the inputs.
      task_feature_lengths: {"inputs": ..., "targets": ...}; "targets" is the decode length.
      batch_size: rows per predict call (one compilation).
      decode: decoding options.
      progress: show a progress bar.
      placer: as in `evaluate` (needed in several processes).

    Returns:
      One output string per input.
    """
    shard = ProcessShard.current(batch_size, placer)
    encoded = [encode(model.input_vocabulary, t, task_feature_lengths["inputs"], keep="right")[0] for t in texts]
    with _progress(shard.num_steps(len(encoded)), "predict", progress) as bar:
        return _predict_texts(model, _steps(model, decode), params, encoded, shard, task_feature_lengths, decode, bar)


def _rank_texts(model: Model, steps: _Steps, params: Any, encoded: list[list[int]], options: list[list[str]],
                shard: ProcessShard, lengths: Mapping[str, int], bar) -> list[str]:
    pairs = [(i, option) for i, opts in enumerate(options) for option in opts]

    def build(chunk, size):
        targets = [encode(model.output_vocabulary, option, lengths["targets"], keep="left")[0] for _, option in chunk]
        return make_batch([encoded[i] for i, _ in chunk], targets, size, lengths)

    scores = shard.map(lambda batch, _: steps.score(params, batch), pairs, build, bar)
    by_example: dict[int, list[float]] = {}
    for (i, _), score in zip(pairs, scores):
        by_example.setdefault(i, []).append(float(score))
    return [metrics.rank_classification(by_example[i], opts) for i, opts in enumerate(options)]


@dataclasses.dataclass(frozen=True)
class _TaskEvaluation:
    """What `evaluate` applies to each task, fixed once per call (see `evaluate` for the fields)."""

    model: Model
    params: Any
    lengths: Mapping[str, int]
    split: str | None
    max_examples: int | None
    rank_classification: bool
    decode: DecodeOptions
    progress: bool
    steps: _Steps
    shard: ProcessShard

    def run(self, task: seqio.Task) -> TaskResult:
        """One task: predictions (or ranked options), postprocessing and the task's metrics."""
        split = evaluation_split(task, self.split)
        examples = load_examples(task, split, self.max_examples)
        encoded, truncated = [], 0
        for ex in examples:
            ids, cut = encode(self.model.input_vocabulary, _text(ex["inputs_pretokenized"]), self.lengths["inputs"], keep="right")
            encoded.append(ids)
            truncated += cut
        if truncated:
            logging.warning("%s: %d of %d inputs longer than %d tokens were cut from the left.",
                            task.name, truncated, len(examples), self.lengths["inputs"])
        options = [[_text(o) for o in ex.get("options", [])] for ex in examples]
        use_ranking = self.rank_classification and bool(examples) and all(options)
        if use_ranking:
            with _progress(self.shard.num_steps(sum(len(o) for o in options)), f"{task.name} (rank)", self.progress) as bar:
                outputs = _rank_texts(self.model, self.steps, self.params, encoded, options, self.shard, self.lengths, bar)
        else:
            with _progress(self.shard.num_steps(len(examples)), task.name, self.progress) as bar:
                outputs = _predict_texts(self.model, self.steps, self.params, encoded, self.shard, self.lengths, self.decode, bar)
        postprocess = task.postprocess_fn or (lambda output, example=None, is_target=False: output)
        predictions = [postprocess(o, example=ex, is_target=False) for o, ex in zip(outputs, examples)]
        targets = [postprocess(_text(ex["targets_pretokenized"]), example=ex, is_target=True) for ex in examples]
        values: dict[str, float] = {}
        for metric_fn in task.predict_metric_fns:
            values.update({k: float(v) for k, v in metric_fn(targets, predictions).items()})
        info = held_out_tasks.benchmark_of(task.name)
        records = []
        for position, (ex, output, target) in enumerate(zip(examples, outputs, targets)):
            where = {"subtask": info.subtask, "index": int(ex["index"])} if info else {"task": task.name, "index": position}
            records.append({**where, "prediction": output, "target": target})
        return TaskResult(
            task=task.name, split=split, metrics=values, num_examples=len(examples), num_truncated=truncated,
            rank_classification=use_ranking, benchmark=info.benchmark if info else None,
            subtask=info.subtask if info else None, predictions=records,
        )


def summarize_benchmarks(task_results: Sequence[TaskResult]) -> dict[str, report.BenchmarkSummary]:
    """Per benchmark: its subtasks' scores aggregated as `flan-jax score` does."""
    grouped: dict[str, dict[str, TaskResult]] = {}
    directories = {}
    for r in task_results:
        if r.benchmark is not None:
            grouped.setdefault(r.benchmark, {})[r.subtask] = r
            directories[r.benchmark] = held_out_tasks.benchmark_of(r.task).directory
    out = {}
    for name in [b for b in metrics.BENCHMARKS if b in grouped]:
        subtasks = grouped[name]
        out[name] = report.summarize(
            name,
            {s: r.metrics[metrics.metric_name(name)] for s, r in subtasks.items()},
            benchmarks.random_score(name, directories[name], sorted(subtasks)),
            num_examples={s: r.num_examples for s, r in subtasks.items()},
        )
    return out


def evaluate(
    model: Model,
    params: Any,
    task_or_mixture_names: Sequence[str] | str,
    *,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 32,
    split: str | None = None,
    max_examples: int | None = None,
    rank_classification: bool = False,
    decode: DecodeOptions = DecodeOptions(),
    progress: bool = False,
    placer: BatchPlacer | None = None,
) -> EvalResults:
    """Evaluates `params` on tasks and mixtures (held-out benchmarks, synthetic tasks, any seqio task).

    Args:
      model: an EncoderDecoderModel (`predict_batch`, `score_batch`, `input_vocabulary`,
        `output_vocabulary`).
      params: plain (unboxed) parameters, on host or sharded.
      task_or_mixture_names: names (or one name); mixtures are expanded into their tasks.
      task_feature_lengths: {"inputs": ..., "targets": ...}; "targets" is the decode length.
      batch_size: examples per predict call (the last batch is padded; one compilation).
      split: the split to evaluate; None = "validation", else "test" (the held-out benchmarks').
      max_examples: at most this many examples per task (quick looks; benchmark averages then
        cover only those examples).
      rank_classification: for tasks whose examples carry "options", predict the option with
        the highest `score_batch` log-likelihood instead of decoding.
      decode: decoding options for `predict_batch`.
      progress: show a progress bar per task.
      placer: the partitioner whose mesh holds `params`. In several JAX processes it is required:
        each process then runs the model on only its share of every task's examples (rows
        p, p + count, ...), batches become global arrays over the data axis, and the outputs are
        gathered, so every process returns the same results. One process ignores it.

    Returns:
      EvalResults: per-task metrics and predictions, per-benchmark summaries, normalised average.
    """
    names = [task_or_mixture_names] if isinstance(task_or_mixture_names, str) else list(task_or_mixture_names)
    for key in ("inputs", "targets"):
        if key not in task_feature_lengths:
            raise ValueError(f"task_feature_lengths needs {key!r} (got {dict(task_feature_lengths)}).")
    evaluation = _TaskEvaluation(
        model, params, task_feature_lengths, split, max_examples, rank_classification, decode, progress,
        _steps(model, decode), ProcessShard.current(batch_size, placer),
    )
    results = {}
    tasks = expand_tasks(names)
    for position, task in enumerate(tasks):
        if progress:
            logging.info("Evaluating %s (%d/%d)", task.name, position + 1, len(tasks))
        results[task.name] = evaluation.run(task)
    summaries = summarize_benchmarks(list(results.values()))
    return EvalResults(results, summaries, report.normalized_average(list(summaries.values())))


def cluster_averages(task_results: Sequence[TaskResult]) -> dict[str, tuple[int, float]]:
    """cluster -> (number of tasks, mean of their first metric), for tasks whose cluster is recorded."""
    grouped: dict[str, list[float]] = {}
    for r in task_results:
        info = registry.info(r.task)
        if info is not None and info.cluster and r.metrics:
            grouped.setdefault(info.cluster, []).append(next(iter(r.metrics.values())))
    return {c: (len(v), float(np.mean(v))) for c, v in sorted(grouped.items())}


def format_markdown(results: EvalResults) -> str:
    """The report: the benchmark overview and normalised average, each benchmark's table, other tasks."""
    parts = []
    if results.benchmarks:
        parts.append("## Held-out benchmarks\n\n" + report.overview_table(list(results.benchmarks.values()), results.normalized_average))
        parts += [report.benchmark_table(s) for s in results.benchmarks.values()]
    others = [r for r in results.tasks.values() if r.benchmark is None]
    if others:
        lines = ["## Tasks", "", "| task | split | metric | value | examples |", "|---|---|---|---:|---:|"]
        for r in others:
            for name, value in r.metrics.items():
                lines.append(f"| {r.task} | {r.split} | {name} | {value:.2f} | {r.num_examples} |")
            if not r.metrics:  # a task without metric functions: predictions only
                lines.append(f"| {r.task} | {r.split} | (none) | | {r.num_examples} |")
        if results.other_tasks_average() is not None:
            lines.append(f"| **mean (first metric)** | | | {results.other_tasks_average():.2f} | |")
        parts.append("\n".join(lines))
        by_cluster = cluster_averages(others)
        if by_cluster:
            rows = [f"| {c} | {n} | {v:.2f} |" for c, (n, v) in by_cluster.items()]
            parts.append("\n".join(["## By task cluster", "", "| cluster | tasks | mean (first metric) |", "|---|---:|---:|"] + rows))
    return "\n\n".join(parts) + "\n"


def write_results(results: EvalResults, directory: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """Writes results.json, results.md and predictions/*.jsonl (held-out ones in `flan-jax score` format).

    Returns:
      What was written: {"json", "markdown", "predictions"} -> path.
    """
    directory = pathlib.Path(directory)
    predictions_dir = directory / "predictions"
    predictions_dir.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    (directory / "results.md").write_text(format_markdown(results), encoding="utf-8")
    files: dict[str, list[dict[str, Any]]] = {}
    for r in results.tasks.values():
        files.setdefault(r.benchmark or r.task, []).extend(r.predictions)
    for name, records in files.items():
        with open(predictions_dir / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
    return {"json": directory / "results.json", "markdown": directory / "results.md", "predictions": predictions_dir}


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
