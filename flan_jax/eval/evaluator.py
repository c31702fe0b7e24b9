"""Evaluate a model on seqio tasks and mixtures: predictions, each task's metrics, benchmark tables.

    results = evaluator.evaluate(model, params, ["flan_held_out"],
                                 task_feature_lengths={"inputs": 2048, "targets": 256}, batch_size=32)
    print(report.format_markdown(results))
    report.write_results(results, "runs/x/eval")   # results.json, results.md, predictions/

For every task (mixtures are expanded into their tasks), the examples of its evaluation split
are read in order, their pretokenized text is tokenized with the MODEL's vocabularies (so a task
registered with any vocabulary evaluates any model), batched to fixed shapes by the model's own
feature layout (`batching`; one compilation),
decoded with `model.predict_batch` (or ranked with `model.score_batch`: rank classification),
passed through the task's postprocessor and scored by its metric functions, as seqio does.
Tasks of the held-out benchmarks (`flan_jax.eval.held_out_tasks`) are then aggregated per
benchmark (macro average, MMLU categories, normalised score, the paper's normalised average)
with the code `flan-jax score` uses (`report`).

Inputs longer than the feature length are cut from the LEFT (few-shot prompts keep the question
and lose the start of the exemplars); the number cut is reported per task.
"""
import dataclasses
import functools
import logging
from typing import Any, Callable, Mapping, Protocol, Sequence

import jax
import seqio

from flan_jax.data import mixing, registry, sources
from flan_jax.eval import batching, benchmarks, held_out_tasks, length_buckets, metrics, report
from flan_jax.models import decoding


class Model(Protocol):
    """What the evaluator needs of a model (flan_jax.models.model.EncoderDecoderModel)."""

    FEATURE_CONVERTER_CLS: type  # its batches' layout (`flan_jax.data.features`)
    input_vocabulary: seqio.Vocabulary
    output_vocabulary: seqio.Vocabulary

    def predict_batch(self, params: Any, batch: Mapping[str, Any], rng: Any = None, **kwargs) -> Any: ...

    def score_batch(self, params: Any, batch: Mapping[str, Any]) -> Any: ...


@dataclasses.dataclass(frozen=True)
class DecodeOptions:
    """How `predict_batch` decodes (its keyword arguments).

    Attributes:
      method: "greedy", "beam_search" or "sample" (`decoding.DecodeMethod`, the model's own).
      num_beams, alpha: beam search width and length penalty (t5x's defaults 4 and 0.6).
      temperature, top_k: sampling.
      seed: the base key of sampling; batch i uses fold_in(key, i).
    """

    method: decoding.DecodeMethod = "greedy"
    num_beams: int = 4
    alpha: float = 0.6
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0

    def __post_init__(self):
        decoding.check_method(self.method, "evaluation.DecodeOptions.method")


def expand_tasks(names: Sequence[str]) -> list[seqio.Task]:
    """Tasks and mixtures -> the tasks, in order, without duplicates.

    Raises:
      ValueError: a name is neither; the message suggests registered names that are close.
    """
    tasks, seen = [], set()
    for name in names:
        provider = registry.get_mixture_or_task(
            name, "Is the module that registers it imported (MIXTURE_OR_TASK_MODULE, e.g. "
            "'flan_jax_tasks.held_out' with EVAL_DATA_DIRS or the FLAN_JAX_*_DIR variables set)?")
        if isinstance(provider, seqio.Mixture) and jax.process_index() == 0:
            mixing.warn_left_out(name)
        for task in registry.tasks_of(provider):
            if task.name not in seen:
                seen.add(task.name)
                tasks.append(task)
    return tasks


def evaluation_split(task: seqio.Task, split: str | None = None) -> str:
    """`split` if given, else the task's "validation" split, else its "test" split."""
    if split is not None:
        sources.check_split("Task", task.name, split, task.splits)
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


@dataclasses.dataclass
class _Steps:
    """The jitted predict / score functions and the batch builder, built once per (model, options)."""

    predict: Callable[..., Any]
    score: Callable[..., Any]
    build: Callable[..., batching.Batch]


@functools.lru_cache(maxsize=8)
def _steps(model: Model, decode: DecodeOptions) -> _Steps:
    """Cached per (model, options), so periodic evaluation in a training loop compiles once."""

    def predict(params, batch, rng):
        return model.predict_batch(
            params, batch, rng, method=decode.method, num_beams=decode.num_beams, alpha=decode.alpha,
            temperature=decode.temperature, top_k=decode.top_k,
        )

    return _Steps(predict=jax.jit(predict), score=jax.jit(model.score_batch),
                  build=batching.feature_builder(model.FEATURE_CONVERTER_CLS))


def _progress(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not enabled or jax.process_index() != 0, leave=False,
                dynamic_ncols=True)


def _predict_texts(model: Model, steps: _Steps, params: Any, encoded: list[list[int]], shard: batching.ProcessShard,
                   lengths: Mapping[str, int], decode: DecodeOptions, bar) -> list[str]:
    key = jax.random.PRNGKey(decode.seed)
    # Longest rows first, each batch padded to a bucket just above its longest row (a process
    # left without rows in the last step pads to that step's bucket, the last one).
    order, padded = length_buckets.plan([len(e) for e in encoded], shard.local_batch_size * shard.count, lengths["inputs"])
    tokens = shard.map(
        lambda batch, index: steps.predict(params, batch, jax.random.fold_in(key, index)),
        [(encoded[row], length) for row, length in zip(order, padded)],
        lambda chunk, size: batching.prompt_batch(steps.build, [ids for ids, _ in chunk], size,
                                                  {**lengths, "inputs": chunk[0][1] if chunk else padded[-1]}),
        bar,
    )
    return [batching.decode_tokens(model.output_vocabulary, row) for row in length_buckets.restore(order, tokens)]


def predict_texts(
    model: Model,
    params: Any,
    texts: Sequence[str],
    *,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 32,
    decode: DecodeOptions = DecodeOptions(),
    progress: bool = False,
    placer: batching.BatchPlacer | None = None,
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
    shard = batching.ProcessShard.current(batch_size, placer)
    encoded = [batching.encode(model.input_vocabulary, t, task_feature_lengths["inputs"], keep="right")[0] for t in texts]
    with _progress(shard.num_steps(len(encoded)), "predict", progress) as bar:
        return _predict_texts(model, _steps(model, decode), params, encoded, shard, task_feature_lengths, decode, bar)


def _rank_texts(model: Model, steps: _Steps, params: Any, encoded: list[list[int]], options: list[list[str]],
                shard: batching.ProcessShard, lengths: Mapping[str, int], bar) -> list[str]:
    pairs = [(i, option) for i, opts in enumerate(options) for option in opts]

    def build(chunk, size):
        targets = [batching.encode(model.output_vocabulary, option, lengths["targets"], keep="left")[0] for _, option in chunk]
        return batching.unpacked_batch(steps.build, [encoded[i] for i, _ in chunk], targets, size, lengths)

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
    shard: batching.ProcessShard

    def run(self, task: seqio.Task) -> report.TaskResult:
        """One task: predictions (or ranked options), postprocessing and the task's metrics."""
        split = evaluation_split(task, self.split)
        examples = load_examples(task, split, self.max_examples)
        encoded, truncated = [], 0
        for ex in examples:
            ids, cut = batching.encode(self.model.input_vocabulary, _text(ex["inputs_pretokenized"]),
                                       self.lengths["inputs"], keep="right")
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
        return report.TaskResult(
            task=task.name, split=split, metrics=values, num_examples=len(examples), num_truncated=truncated,
            rank_classification=use_ranking, benchmark=info.family if info else None,
            subtask=info.subtask if info else None, predictions=records,
        )


def summarize_benchmarks(task_results: Sequence[report.TaskResult]) -> dict[str, report.BenchmarkSummary]:
    """Per benchmark: its subtasks' scores aggregated as `flan-jax score` does."""
    grouped: dict[str, dict[str, report.TaskResult]] = {}
    directories = {}
    for r in task_results:
        if r.benchmark is not None:
            grouped.setdefault(r.benchmark, {})[r.subtask] = r
            directories[r.benchmark] = held_out_tasks.benchmark_of(r.task).data_dir
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
    placer: batching.BatchPlacer | None = None,
) -> report.EvalResults:
    """Evaluates `params` on tasks and mixtures (held-out benchmarks, synthetic tasks, any seqio task).

    Args:
      model: an EncoderDecoderModel (`predict_batch`, `score_batch`, `input_vocabulary`,
        `output_vocabulary`, `FEATURE_CONVERTER_CLS`).
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
      Per-task metrics and predictions, per-benchmark summaries, normalised average.
    """
    names = [task_or_mixture_names] if isinstance(task_or_mixture_names, str) else list(task_or_mixture_names)
    for key in ("inputs", "targets"):
        if key not in task_feature_lengths:
            raise ValueError(f"task_feature_lengths needs {key!r} (got {dict(task_feature_lengths)}).")
    evaluation = _TaskEvaluation(
        model, params, task_feature_lengths, split, max_examples, rank_classification, decode, progress,
        _steps(model, decode), batching.ProcessShard.current(batch_size, placer),
    )
    results = {}
    tasks = expand_tasks(names)
    for position, task in enumerate(tasks):
        if progress:
            logging.info("Evaluating %s (%d/%d)", task.name, position + 1, len(tasks))
        results[task.name] = evaluation.run(task)
    summaries = summarize_benchmarks(list(results.values()))
    return report.EvalResults(results, summaries, report.normalized_average(list(summaries.values())))
