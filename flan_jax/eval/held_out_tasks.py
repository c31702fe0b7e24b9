"""Register a held-out benchmark as seqio tasks: one task per subtask, one mixture per benchmark.

Task `{benchmark}_{subtask}` (e.g. "mmlu_cot_astronomy", "tydiqa_swahili") has one split,
"test", whose examples are `benchmarks.Example`s as features: "inputs" / "targets" (tokenized,
with "inputs_pretokenized" / "targets_pretokenized"), "subtask", "index", "answers" and
"options". Its postprocessor keeps the decoded output (the metric extracts the answer) and turns
targets into the accepted answers, so seqio's usual `metric_fn(targets, predictions)` scores
exactly as `flan-jax score` does. The mixture `{benchmark}` holds the benchmark's tasks.

Each task's registry info (`registry.TaskInfo`: family = the benchmark, subtask, data_dir) says
where it came from; `benchmark_of(task)` returns it for held-out tasks only, and the evaluator
uses it to aggregate subtasks and find the benchmark's random-guess score.
"""
import logging
import os
from typing import Any, Sequence

import seqio
import tensorflow as tf

from flan_jax.data import registry, sources, vocabularies
from flan_jax.eval import benchmarks, metrics

SPLIT = "test"
COLLECTION = "held_out"


def benchmark_of(task_name: str) -> registry.TaskInfo | None:
    """The registry info of a registered held-out benchmark task (benchmark = `family`), None for
    any other task."""
    info = registry.info(task_name)
    return info if info is not None and info.collection == COLLECTION else None


def task_name(benchmark: str, subtask: str) -> str:
    return f"{benchmark}_{subtask}"


_OUTPUT_SIGNATURE = sources.signature(inputs=str, targets=str, subtask=str, index=int, answers=list[str],
                                      options=list[str])


def _dataset_fn(benchmark: str, subtask: str, directory: str, prompt_files: dict[str, Any]):
    def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
        del shuffle_files, seed  # one ordered file per subtask: indices must stay file positions
        sources.check_split("Task", task_name(benchmark, subtask), split, (SPLIT,))

        # Read here, not inside the generator: a missing prompt or exemplar file (e.g. MGSM without
        # $FLAN_JAX_GSM8K_TRAIN_FILE) raises its DataError when the task is used, not as a TF error.
        examples = benchmarks.examples(benchmark, subtask, directory, **prompt_files)

        def generate():
            for ex in examples:
                yield {
                    "inputs": ex.inputs, "targets": ex.targets, "subtask": ex.subtask, "index": ex.index,
                    "answers": list(ex.answers), "options": list(ex.options),
                }

        return tf.data.Dataset.from_generator(generate, output_signature=_OUTPUT_SIGNATURE)

    return dataset_fn


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def postprocess(output: Any, example: Any = None, is_target: bool = False) -> Any:
    """Predictions: the decoded text (answers are extracted by the metric). Targets: the accepted answers."""
    if is_target and example is not None and "answers" in example:
        return [_text(a) for a in example["answers"]]
    return _text(output)


def register_benchmark(
    benchmark: str,
    directory: str | os.PathLike | None = None,
    *,
    vocabulary: seqio.Vocabulary | None = None,
    mmlu_cot_file: str | os.PathLike | None = None,
    gsm8k_train_file: str | os.PathLike | None = None,
) -> list[str]:
    """Registers `{benchmark}_{subtask}` for every subtask in the data, and the mixture `{benchmark}`.

    Args:
      benchmark: one of `metrics.BENCHMARKS`.
      directory: the data directory; None reads the benchmark's environment variable.
      vocabulary: for "inputs" / "targets" (default: the byte vocabulary). The evaluator
        re-tokenizes the pretokenized text with the model's vocabulary, so any works there.
      mmlu_cot_file: mmlu-cot.json for "mmlu_cot" (None: $FLAN_JAX_MMLU_COT_FILE).
      gsm8k_train_file: GSM8K train.jsonl for MGSM's exemplars (None: $FLAN_JAX_GSM8K_TRAIN_FILE).

    Returns:
      The task names, then the mixture name.

    Raises:
      benchmarks.DataError: the data directory is missing or holds no subtask files (a missing
        CoT prompt or GSM8K exemplar file raises when a task's dataset is built).
      ValueError: a task or the mixture is already registered.
    """
    base = benchmarks.data_dir(benchmark, directory)
    # Prompt and exemplar files are read when a task is used (its DataError names the file or
    # variable), so importing the collection never fails for a benchmark nobody evaluates.
    prompt_files: dict[str, Any] = {}
    if benchmark == "mmlu_cot":
        prompt_files["mmlu_cot_file"] = mmlu_cot_file
    if benchmark == "mgsm":
        prompt_files["gsm8k_train_file"] = gsm8k_train_file
    vocabulary = vocabulary or vocabularies.byte_vocabulary()
    output_features = {
        "inputs": seqio.Feature(vocabulary, add_eos=True),
        "targets": seqio.Feature(vocabulary, add_eos=True),
    }
    names = []
    for subtask in benchmarks.subtasks(benchmark, base):
        name = task_name(benchmark, subtask)
        if name in seqio.TaskRegistry.names():
            raise ValueError(f"Task {name!r} is already registered (tests: use the clean_registries fixture).")
        task = seqio.TaskRegistry.add(
            name,
            source=seqio.FunctionDataSource(_dataset_fn(benchmark, subtask, str(base), prompt_files), splits=[SPLIT]),
            output_features=output_features,
            preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos],
            postprocess_fn=postprocess,
            metric_fns=[metrics.seqio_metric(benchmark)],
            shuffle_buffer_size=None,
        )
        registry.record(task, registry.TaskInfo(name, benchmark, COLLECTION, cluster=benchmark, subtask=subtask,
                                                data_dir=str(base)))
        names.append(name)
    if benchmark in seqio.MixtureRegistry.names():
        raise ValueError(f"Mixture {benchmark!r} is already registered.")
    seqio.MixtureRegistry.add(benchmark, [(n, 1.0) for n in names])
    logging.info("Registered %d %s tasks from %s.", len(names), benchmark, base)
    return names + [benchmark]


def unregister(*benchmark_names: str) -> None:
    """Removes the registered benchmarks' mixtures and tasks (to register them from other files)."""
    for benchmark in benchmark_names:
        if benchmark in seqio.MixtureRegistry.names():
            for task in registry.tasks_of(benchmark):
                seqio.TaskRegistry.remove(task.name)
            seqio.MixtureRegistry.remove(benchmark)


def register_if_available(benchmark: str, **kwargs) -> list[str]:
    """`register_benchmark` where its data directory is configured; [] (logged) where it is not.

    Used at import of `flan_jax_tasks.held_out.*`: a checkout without the benchmark files still
    imports, and a configured but broken directory still fails loudly.
    """
    env = benchmarks.ENV_VARS[benchmark]
    if kwargs.get("directory") is None and not os.environ.get(env):
        logging.info("$%s is not set: no %s tasks registered.", env, benchmark)
        return []
    return register_benchmark(benchmark, **kwargs)


def register_suite(name: str, benchmark_names: Sequence[str]) -> list[str]:
    """(Re)registers mixture `name` over the tasks of the registered benchmark mixtures among
    `benchmark_names`.

    Returns [name], or [] when none of the benchmarks is registered.
    """
    if name in seqio.MixtureRegistry.names():
        seqio.MixtureRegistry.remove(name)
    present = [b for b in benchmark_names if b in seqio.MixtureRegistry.names()]
    if not present:
        return []
    tasks = [t.name for b in present for t in registry.tasks_of(b)]
    seqio.MixtureRegistry.add(name, [(t, 1.0) for t in tasks])
    return [name]
