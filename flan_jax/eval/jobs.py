"""The jobs `flan-jax eval` and `flan-jax infer` run, as plain functions gin binds (eval.gin,
infer.gin): restore a checkpoint, run the evaluator or decode prompts, write what came out.

Library code: the command-line modules (`flan_jax.eval.main`, `flan_jax.eval.infer`) parse flags
and gin and call these; tests and other programs call them directly with the same arguments.
"""
import dataclasses
import datetime
import json
import os
import pathlib
import sys
import time
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

import jax
from etils import epath

from flan_jax.data import features
from flan_jax.eval import evaluator, held_out_tasks, report
from flan_jax.train import checkpoints, partitioning

CHECKPOINT_MACRO = "CHECKPOINT_PATH"  # eval.gin / infer.gin's name for the checkpoint to restore


def suite_names(suite: str | Sequence[str]) -> list[str]:
    """EVAL_SUITE -> task / mixture names: "a,b" and ["a", "b"] both give ["a", "b"]."""
    parts = suite.split(",") if isinstance(suite, str) else list(suite)
    names = [p.strip() for p in parts if p and p.strip()]
    if not names:
        raise ValueError("EVAL_SUITE is empty: name 'flan_held_out', a benchmark, or tasks / mixtures.")
    return names


def dump_prompts(suite: str | Sequence[str], directory: str | os.PathLike, split: str | None = None) -> dict[str, int]:
    """Writes each task's exact prompts as JSON lines; returns file name -> lines written.

    Held-out benchmark tasks go to `{benchmark}.jsonl` with the keys `flan-jax score` uses
    (subtask, index) plus inputs and targets; other tasks to `{task}.jsonl` with task, index.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[dict[str, Any]]] = {}
    for task in evaluator.expand_tasks(suite_names(suite)):
        info = held_out_tasks.benchmark_of(task.name)
        task_split = evaluator.evaluation_split(task, split)
        for position, ex in enumerate(evaluator.load_examples(task, task_split)):
            key = {"subtask": info.subtask, "index": int(ex["index"])} if info else {"task": task.name, "index": position}
            record = {**key, "inputs": ex["inputs_pretokenized"].decode("utf-8"),
                      "targets": ex["targets_pretokenized"].decode("utf-8")}
            files.setdefault(info.family if info else task.name, []).append(record)
    for name, records in files.items():
        with open(directory / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return {f"{name}.jsonl": len(records) for name, records in files.items()}


def restore(model: Any, checkpoint_path: str | None, task_feature_lengths: Mapping[str, int],
            partitioner: partitioning.Partitioner | None = None) -> tuple[Any, int]:
    """CHECKPOINT_PATH's parameters placed by the partitioner, and its step.

    Raises:
      ValueError: no CHECKPOINT_PATH is set (saying how to set it).
    """
    if not checkpoint_path:
        raise ValueError("No checkpoint: set --gin.CHECKPOINT_PATH=\"'runs/x'\" (a MODEL_DIR, its "
                         "checkpoints/ directory or one step directory).")
    input_shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, task_feature_lengths, pack=False)
    return checkpoints.restore_model_params(model, checkpoint_path, input_shapes, partitioner, CHECKPOINT_MACRO)


def model_dir_of(checkpoint_path: str | os.PathLike) -> pathlib.Path:
    """The run directory a checkpoint belongs to: MODEL_DIR for `MODEL_DIR/checkpoints/<step>`, the
    checkpoint's own directory otherwise (e.g. a converted checkpoint's)."""
    step_dir = pathlib.Path(str(checkpoints.find_params_directory(checkpoint_path, CHECKPOINT_MACRO))).parent
    return step_dir.parent.parent if step_dir.parent.name == checkpoints.CHECKPOINTS_SUBDIR else step_dir


def results_root(checkpoint_path: str | os.PathLike, output_dir: str | os.PathLike | None) -> pathlib.Path:
    """EVAL_OUTPUT_DIR, default `MODEL_DIR/eval`: each evaluated step's results go to `<root>/<step>/`.

    Raises:
      ValueError: the directory is inside `MODEL_DIR/checkpoints/`, whose step directories a later
        training run deletes when it rotates them.
    """
    model_dir = model_dir_of(checkpoint_path)
    root = pathlib.Path(os.path.abspath(output_dir)) if output_dir else model_dir / "eval"
    checkpoints_dir = model_dir / checkpoints.CHECKPOINTS_SUBDIR
    if root == checkpoints_dir or checkpoints_dir in root.parents:
        raise ValueError(f"EVAL_OUTPUT_DIR {str(root)!r} is inside {str(checkpoints_dir)!r}: training deletes old "
                         "step directories there (CHECKPOINTS_TO_KEEP), results with them. Leave EVAL_OUTPUT_DIR "
                         f"unset ({model_dir / 'eval'}/<step>/) or choose a directory outside it.")
    return root


@dataclasses.dataclass(frozen=True)
class InferEval:
    """A held-out suite evaluated on parameters in hand: `evaluate`'s job after its restore, and
    t5x's infer_eval during training (the trainer calls it every EVAL_PERIOD steps with its
    current parameters and writes the scalars it returns beside the train scalars).

    The fields are `evaluate`'s (see `evaluator.evaluate`); the suite is checked when made, so a
    misspelt EVAL_SUITE fails before training compiles anything.
    """

    suite: str | Sequence[str]
    task_feature_lengths: Mapping[str, int]
    batch_size: int = 32
    split: str | None = None
    max_examples: int | None = None
    rank_classification: bool = False
    decode: evaluator.DecodeOptions = evaluator.DecodeOptions()

    def __post_init__(self):
        evaluator.expand_tasks(suite_names(self.suite))

    def results(self, model: Any, params: Any, partitioner: partitioning.Partitioner, show_progress: bool = False) -> report.EvalResults:
        """The suite's results for `params` (placed by `partitioner`; every process gets them all)."""
        return evaluator.evaluate(
            model, params, suite_names(self.suite), task_feature_lengths=self.task_feature_lengths,
            batch_size=self.batch_size, split=self.split, max_examples=self.max_examples,
            rank_classification=self.rank_classification, decode=self.decode, progress=show_progress, placer=partitioner,
        )

    def __call__(self, model: Any, params: Any, partitioner: partitioning.Partitioner, step: int, model_dir: str) -> dict[str, float]:
        """Evaluates the training parameters at `step`; the chief writes results.json, results.md and
        predictions to MODEL_DIR/infer_eval/{step}/. Returns the TensorBoard scalars
        (`infer_eval/{task}/{metric}`, benchmark averages, `infer_eval/other_tasks_average`, ...)."""
        started = time.time()
        results = self.results(model, params, partitioner)
        if jax.process_index() == 0:
            run = {"step": step, "suite": ",".join(suite_names(self.suite)), "split": self.split,
                   "max_examples": self.max_examples, "rank_classification": self.rank_classification,
                   "task_feature_lengths": dict(self.task_feature_lengths), "decode": dataclasses.asdict(self.decode),
                   "seconds": round(time.time() - started, 1)}
            report.write_results(results, epath.Path(model_dir) / "infer_eval" / str(step), run)
        return results.scalars("infer_eval")


def evaluate(
    *,
    model: Any,
    checkpoint_path: str | None,
    suite: str | Sequence[str],
    output_dir: str | None,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 32,
    split: str | None = None,
    max_examples: int | None = None,
    rank_classification: bool = False,
    decode: evaluator.DecodeOptions = evaluator.DecodeOptions(),
    partitioner: partitioning.Partitioner | None = None,
    show_progress: bool = True,
    operative_config: Callable[[], str] | None = None,
) -> report.EvalResults:
    """Restores CHECKPOINT_PATH, evaluates the suite, writes results, Markdown, predictions, TensorBoard.

    Results go to `<EVAL_OUTPUT_DIR>/<step>/` (default `MODEL_DIR/eval/<step>/`), never inside a
    checkpoint directory, so evaluating another step adds results beside the earlier ones and a
    later training run's checkpoint rotation cannot delete them. results.json records what was
    measured: step, checkpoint, suite, lengths, decode options, time and the gin config.

    Args:
      model: the EncoderDecoderModel of the model gin file (MODEL).
      checkpoint_path: a step directory, a checkpoints directory (latest step) or a MODEL_DIR.
      suite: EVAL_SUITE: "flan_held_out", a benchmark, or comma-separated tasks / mixtures.
      output_dir: EVAL_OUTPUT_DIR, the root of the per-step directories; None = `MODEL_DIR/eval`
        (see `results_root`). TensorBoard scalars go to the root, one point per step.
      task_feature_lengths: input / target (decode) lengths.
      batch_size, split, max_examples, rank_classification, decode: see `evaluator.evaluate`.
      partitioner: places the parameters (default: `partitioning.Partitioner()`); in several JAX
        processes each one decodes its share of the examples on it (see `evaluator.evaluate`).
      show_progress: progress bars.
      operative_config: returns the gin config to record in results.json (the command line's).

    Returns:
      The results (also written under `<root>/<step>/`).
    """
    from clu import metric_writers

    features.check_lengths(model.FEATURE_CONVERTER_CLS, task_feature_lengths)
    names = suite_names(suite)
    partitioner = partitioner or partitioning.Partitioner()
    root = results_root(checkpoint_path, output_dir) if checkpoint_path else None
    started = time.time()
    params, step = restore(model, checkpoint_path, task_feature_lengths, partitioner)
    job = InferEval(names, task_feature_lengths, batch_size, split, max_examples, rank_classification, decode)
    results = job.results(model, params, partitioner, show_progress)
    if jax.process_index() != 0:  # every process holds the gathered results; the chief writes them
        return results
    run = {
        "step": step,
        "checkpoint": str(checkpoints.find_params_directory(checkpoint_path, CHECKPOINT_MACRO)),
        "suite": ",".join(names),
        "split": split,
        "max_examples": max_examples,
        "rank_classification": rank_classification,
        "task_feature_lengths": dict(task_feature_lengths),
        "batch_size": batch_size,
        "decode": dataclasses.asdict(decode),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "gin_config": operative_config() if operative_config else None,
    }
    written = report.write_results(results, root / str(step), run)
    writer = metric_writers.create_default_writer(str(root), just_logging=False)
    writer.write_scalars(step, results.scalars())
    writer.flush()
    writer.close()
    print(report.format_markdown(results))
    print(f"Wrote {written['json']}, {written['markdown']} and {written['predictions']}/ (step {step}).")
    return results


def read_inputs(path: str) -> list[dict[str, Any]]:
    """JSON-lines records with an "inputs" string (the line is named when one lacks it)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("inputs"), str):
                raise ValueError(f"{path}:{line_number}: expected a JSON object with an 'inputs' string.")
            records.append(record)
    return records


def interactive(predict, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Reads prompts line by line and prints each output; stops at an empty line or EOF."""
    count = 0
    while True:
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line.strip():
            return count
        stdout.write(predict([line.rstrip("\n")])[0] + "\n")
        count += 1


def write_records(records: Iterable[Mapping[str, Any]], path: str | None) -> None:
    """JSON lines to `path`, or to stdout when None."""
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    if path is None:
        sys.stdout.writelines(lines)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


def infer(
    *,
    model: Any,
    checkpoint_path: str | None,
    task_feature_lengths: Mapping[str, int],
    batch_size: int = 8,
    decode: evaluator.DecodeOptions = evaluator.DecodeOptions(),
    partitioner: partitioning.Partitioner | None = None,
    input_file: str | None = None,
    output_file: str | None = None,
    prompts: Sequence[str] = (),
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Restores CHECKPOINT_PATH and predicts for `input_file`, `prompts`, or (neither) stdin.

    Returns:
      The output records ({..., "inputs", "prediction"}); also written to `output_file`
      (JSON lines) when given, printed otherwise.
    """
    features.check_lengths(model.FEATURE_CONVERTER_CLS, task_feature_lengths)
    partitioner = partitioner or partitioning.Partitioner()
    params, _ = restore(model, checkpoint_path, task_feature_lengths, partitioner)

    def predict(texts: Sequence[str]) -> list[str]:
        return evaluator.predict_texts(model, params, texts, task_feature_lengths=task_feature_lengths,
                                       batch_size=batch_size, decode=decode, progress=show_progress and len(texts) > batch_size,
                                       placer=partitioner)

    records = read_inputs(input_file) if input_file else [{"inputs": p} for p in prompts]
    if not records:
        interactive(predict)
        return []
    outputs = [{**r, "prediction": p} for r, p in zip(records, predict([r["inputs"] for r in records]))]
    if jax.process_index() == 0:  # every process holds the gathered outputs; the chief writes them
        write_records(outputs, output_file)
    return outputs
