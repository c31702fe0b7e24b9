"""The training loop around the pure steps of `flan_jax.train.steps`.

The loop, in order: check the lengths, the task, then MODEL_DIR -> mesh and shardings (eval_shape
-> specs -> jitted init) -> restore (resume, or INITIAL_CHECKPOINT_PATH) -> one jitted, donating train step
-> for each step: host batch -> global array -> step; every few steps pull metrics, check they
are finite, write them; checkpoint on the period. Everything the loop needs is an argument, so
tests and gin supply the same collaborators.
"""
import dataclasses
import functools
import logging
import math
import os
import time
from typing import Any, Callable, Iterator, Mapping, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
import seqio
from clu import metric_writers
from etils import epath

from flan_jax.data import features, mixing, pipeline, registry
from flan_jax.train import checkpoints, optimizers, partitioning, preemption, steps, utilization

PyTree = Any
Batch = Mapping[str, jax.Array]


class Model(steps.StepModel, Protocol):
    """What the loop needs from `flan_jax.models.model.EncoderDecoderModel`: the step's needs
    plus the feature converter that shapes its batches."""

    FEATURE_CONVERTER_CLS: type[seqio.FeatureConverter]


class BatchesFn(Protocol):
    """`pipeline.train_batches`: per-host numpy batches from `start_step` on."""

    def __call__(
        self, config: pipeline.DatasetConfig, feature_converter: seqio.FeatureConverter, start_step: int, shard_info: seqio.ShardInfo | None
    ) -> Iterator[Mapping[str, np.ndarray]]: ...


class InferEvalFn(Protocol):
    """`eval.jobs.InferEval` (t5x's infer_eval): evaluates a held-out suite on the current
    parameters and returns TensorBoard scalars (it may write its own files under MODEL_DIR)."""

    def __call__(self, model: Model, params: PyTree, partitioner: partitioning.Partitioner, step: int,
                 model_dir: str) -> Mapping[str, float]: ...


class TrainingDivergedError(FloatingPointError):
    """The loss, gradients or parameters became non-finite."""


# ---------------------------------------------------------------------------------------------
# Setup helpers.


def check_model_dir(model_dir: str) -> epath.Path:
    """Creates MODEL_DIR and proves it writable before anything is compiled.

    Returns the directory as an absolute path (orbax requires one); each process probes with
    its own file so hosts sharing MODEL_DIR do not race.
    """
    if not model_dir:
        raise ValueError("MODEL_DIR is not set: set --gin.MODEL_DIR to the directory the run writes to "
                         "(or run gin/runs/pretrain.gin with `flan-jax pretrain`, which picks one).")
    path = epath.Path(model_dir if "://" in str(model_dir) else os.path.abspath(model_dir))
    probe = path / f".write_test.{jax.process_index()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise PermissionError(
            f"MODEL_DIR {model_dir!r} is not writable ({error.__class__.__name__}: {error}); set "
            "--gin.MODEL_DIR to a directory you can write."
        ) from error
    return path


def count_truncated(
    mixture_or_task_name: str,
    task_feature_lengths: Mapping[str, int],
    split: str = "train",
    max_examples: int = 256,
    max_tasks: int = 8,
) -> dict[str, int]:
    """How many of the first examples are longer than TASK_FEATURE_LENGTHS (and get truncated).

    Reads up to `max_examples` untrimmed examples spread over at most `max_tasks` of the
    mixture's tasks (a quick look, not a census: FLAN mixtures hold ~1,800 tasks).

    Returns:
      {"examples": checked, "<feature>": number longer than its length, ...}.
    """
    tasks = registry.tasks_of(mixture_or_task_name)[:max_tasks]
    per_task = max(1, max_examples // max(len(tasks), 1))
    counts = {"examples": 0, **{key: 0 for key in task_feature_lengths}}
    for task in tasks:
        try:
            # No sequence_length: preprocessors such as append_eos_after_trim would trim to it.
            dataset = task.get_dataset(
                sequence_length=None, split=split, shuffle=False, num_epochs=1, trim_output_features=False
            )
            for example in dataset.take(per_task).as_numpy_iterator():
                counts["examples"] += 1
                for key, length in task_feature_lengths.items():
                    if key in example and len(example[key]) > length:
                        counts[key] += 1
        except Exception as error:  # a task without this split must not stop training
            logging.warning("Skipping the length check of task %s: %s", task.name, error)
    return counts


def _tokens_read(batch: Mapping[str, np.ndarray]) -> int:
    """Non-padding tokens of a batch: encoder inputs (T5) plus decoder targets (a prefix LM's
    targets hold its inputs too)."""
    return sum(int(np.count_nonzero(batch[key])) for key in ("encoder_input_tokens", "decoder_target_tokens") if key in batch)


def _warn_truncation(config: pipeline.DatasetConfig, max_examples: int) -> dict[str, int]:
    counts = count_truncated(config.mixture_or_task_name, config.task_feature_lengths, config.split, max_examples)
    long = {k: v for k, v in counts.items() if k != "examples" and v}
    if long:
        logging.warning(
            "%s of the first %d examples of %s are longer than TASK_FEATURE_LENGTHS=%s and will be "
            "truncated; raise TASK_FEATURE_LENGTHS if that loses answers.",
            ", ".join(f"{v} {k}" for k, v in long.items()), counts["examples"],
            config.mixture_or_task_name, dict(config.task_feature_lengths),
        )
    return counts


def restore_or_init_state(
    model: Model,
    optimizer: optax.GradientTransformation,
    layout: steps.StateLayout,
    input_shapes: Mapping[str, tuple[int, int]],
    rng: jax.Array,
    manager: checkpoints.CheckpointManager,
    initial_checkpoint_path: str | None = None,
) -> steps.TrainState:
    """Resume from MODEL_DIR's newest readable checkpoint, else start from INITIAL_CHECKPOINT_PATH's
    parameters (at its step, as t5x does, with a fresh optimizer), else from a random
    initialisation at step 0."""
    abstract = jax.tree.map(
        lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), layout.abstract_state, layout.shardings
    )
    latest, items = manager.restore_newest_good({checkpoints.PARAMS_ITEM: abstract.params, checkpoints.OPT_STATE_ITEM: abstract.opt_state})
    if latest is not None:
        logging.info("Resumed from the checkpoint at step %d in %s", latest, manager.directory)
        step = jax.device_put(jnp.asarray(latest, jnp.int32), layout.shardings.step)
        return steps.TrainState(step=step, params=items[checkpoints.PARAMS_ITEM], opt_state=items[checkpoints.OPT_STATE_ITEM])
    state = steps.init_state(model, optimizer, layout, input_shapes, rng)
    if initial_checkpoint_path:
        params = checkpoints.restore_params(initial_checkpoint_path, abstract.params)
        opt_state = jax.jit(optimizer.init, out_shardings=layout.shardings.opt_state)(params)
        step = jax.device_put(jnp.asarray(checkpoints.checkpoint_step(initial_checkpoint_path), jnp.int32),
                              layout.shardings.step)
        state = state.replace(step=step, params=params, opt_state=opt_state)
    return state


def initial_step(initial_checkpoint_path: str | None, model_dir: str, train_steps: int) -> int:
    """INITIAL_CHECKPOINT_PATH's step (0 without one), checked against TRAIN_STEPS for a new run.

    TRAIN_STEPS counts every step, the initial checkpoint's included (t5x: "pre-trained steps +
    fine-tuning steps"). A run resuming in MODEL_DIR does not need the initial checkpoint any more.

    Raises:
      ValueError: a new run whose initial checkpoint's step (> 0) is already TRAIN_STEPS or beyond.
    """
    if not initial_checkpoint_path:
        return 0
    resuming = checkpoints.has_checkpoint(model_dir)
    try:
        step = checkpoints.checkpoint_step(initial_checkpoint_path)
    except FileNotFoundError:
        if not resuming:
            raise
        logging.warning("INITIAL_CHECKPOINT_PATH %s is gone; resuming from MODEL_DIR's checkpoint, reading the "
                        "data as if the run had started at step 0.", initial_checkpoint_path)
        return 0
    if not resuming and 0 < step >= train_steps:
        raise ValueError(
            f"INITIAL_CHECKPOINT_PATH {initial_checkpoint_path!r} is at step {step} and TRAIN_STEPS = {train_steps}: "
            f"TRAIN_STEPS counts all steps, the checkpoint's included (as in t5x), so nothing would be trained. "
            f"Set TRAIN_STEPS to {step} + the fine-tuning steps, e.g. --gin.TRAIN_STEPS={step + 1000}."
        )
    return step


def _items(state: steps.TrainState) -> dict[str, PyTree]:
    return {checkpoints.PARAMS_ITEM: state.params, checkpoints.OPT_STATE_ITEM: state.opt_state}


class _MetricsBuffer:
    """Per-step device metrics, pulled to the host in one transfer when logging or saving.

    Pulling each step would stall the asynchronous dispatch; pulling before every checkpoint
    still guarantees that no non-finite state is ever saved.
    """

    def __init__(self):
        self._pending: list[tuple[int, dict[str, jax.Array], int]] = []

    def add(self, step: int, metrics: dict[str, jax.Array], input_tokens: int) -> None:
        self._pending.append((step, metrics, input_tokens))

    def pull(self) -> list[tuple[int, dict[str, float], int]]:
        pending, self._pending = self._pending, []
        host = jax.device_get([m for _, m, _ in pending])
        for (step, _, _), values in zip(pending, host):
            bad = [k for k in ("loss", "grad_norm", "param_norm") if not math.isfinite(float(values[k]))]
            if bad:
                raise TrainingDivergedError(
                    f"Training diverged at step {step}: {', '.join(bad)} became non-finite "
                    f"({ {k: float(values[k]) for k in bad} }). Lower LEARNING_RATE or check the data."
                )
        return [(step, {k: float(v) for k, v in values.items()}, n) for (step, _, n), values in zip(pending, host)]


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What a finished run reports (the state itself stays on the devices).

    Attributes:
      history: (step, metrics) of every metrics write, in order.
      preempted: SIGTERM stopped the run before `train_steps`; its last step is saved.
    """

    state: steps.TrainState
    first_metrics: dict[str, float]
    last_metrics: dict[str, float]
    start_step: int
    history: list[tuple[int, dict[str, float]]]
    preempted: bool = False


def train(
    *,
    model: Model,
    partitioner: partitioning.Partitioner,
    train_dataset: pipeline.DatasetConfig,
    learning_rate_schedule: optimizers.LearningRateSchedule,
    train_steps: int,
    model_dir: str,
    make_optimizer: Callable[[optimizers.LearningRateSchedule], optax.GradientTransformation] = optimizers.adafactor,
    checkpoint_config: checkpoints.CheckpointConfig = checkpoints.CheckpointConfig(),
    initial_checkpoint_path: str | None = None,
    num_microbatches: int = 1,
    eval_dataset: pipeline.DatasetConfig | None = None,
    eval_period: int = 1000,
    eval_steps: int = 10,
    infer_eval: InferEvalFn | None = None,
    log_period: int = 10,
    seed: int = 0,
    truncation_check_examples: int = 256,
    get_batches: BatchesFn = pipeline.train_batches,
    operative_config: Callable[[], str] | None = None,
    show_progress: bool = True,
    profile_steps: tuple[int, int] | None = None,
) -> TrainResult:
    """Trains `model` to step `train_steps`, resuming from MODEL_DIR's checkpoints if there are any.

    Args:
      model: an EncoderDecoderModel or DecoderOnlyModel (loss_fn over raw sums, get_initial_variables).
      partitioner: the mesh and logical axis rules.
      train_dataset: mixture/task, lengths, global batch size, packing.
      learning_rate_schedule: step -> learning rate (also logged).
      train_steps: the total number of steps (t5x TRAIN_STEPS; a resumed run stops there too),
        counting those of INITIAL_CHECKPOINT_PATH.
      model_dir: where checkpoints, TensorBoard events, config.gin and the parameter table go.
      make_optimizer: schedule -> optax transformation (default: t5x's Adafactor).
      checkpoint_config: CHECKPOINT_PERIOD and how many to keep.
      initial_checkpoint_path: parameters to start from when MODEL_DIR has no checkpoint; the
        run starts at its step (a step directory's number, else 0) and reads the data from the start.
      num_microbatches: split each batch into this many sequential micro-batches.
      eval_dataset: optional held-out split for loss/accuracy every `eval_period` steps.
      eval_period: t5x EVAL_PERIOD: both evaluations run every this many steps and at the last.
      eval_steps: batches per evaluation.
      infer_eval: optional held-out suite (t5x's infer_eval, `eval.jobs.InferEval`) decoded or
        ranked every `eval_period` steps; its per-task and aggregate scalars go to TensorBoard.
      log_period: steps between metric writes (and finiteness checks).
      seed: seeds initialisation and dropout.
      truncation_check_examples: examples to check for truncation up front (0 skips).
      get_batches: the training stream (default `pipeline.train_batches`).
      operative_config: returns the gin config to save as MODEL_DIR/config.gin.
      show_progress: draw a tqdm progress bar.
      profile_steps: (first, last): write a `jax.profiler` trace of steps first..last
        (inclusive) to MODEL_DIR/profile (PROFILE_STEPS; open it with TensorBoard or Perfetto).

    Besides losses and rates, each write logs timing/model_tflops_per_device, the analytic FLOPs
    of the steps (`utilization.train_flops`) per second and device, and timing/mfu, that over
    the device's peak (`utilization.ACCELERATORS`), where the device is in the table.

    Returns:
      The final state and the first and last logged metrics. After SIGTERM every process stops at
      the same step, saves it and returns early with `preempted=True` (see `preemption`).

    Raises:
      PermissionError: MODEL_DIR is not writable.
      ValueError: unknown task, TASK_FEATURE_LENGTHS the model cannot use, batch size that does
        not split over the mesh, bad shardings, an initial checkpoint at TRAIN_STEPS already.
      TrainingDivergedError: a non-finite loss; the checkpoints written before it are intact.
    """
    # Validate everything cheap before compiling anything, and the inputs before creating MODEL_DIR.
    optimizer = make_optimizer(learning_rate_schedule)
    features.check_lengths(model.FEATURE_CONVERTER_CLS, train_dataset.task_feature_lengths)
    if eval_dataset is not None:
        features.check_lengths(model.FEATURE_CONVERTER_CLS, eval_dataset.task_feature_lengths)
    profiler = _Profiler(profile_steps)
    registry.get_mixture_or_task(train_dataset.mixture_or_task_name)
    partitioner.check_batch_size(train_dataset.batch_size, num_microbatches)
    first_step = initial_step(initial_checkpoint_path, model_dir, train_steps)
    model_path = check_model_dir(model_dir)
    if jax.process_index() == 0:
        mixing.warn_left_out(train_dataset.mixture_or_task_name)
    if truncation_check_examples and jax.process_index() == 0:
        _warn_truncation(train_dataset, truncation_check_examples)

    input_shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, train_dataset.task_feature_lengths,
                                               train_dataset.pack)
    layout = steps.state_layout(model, optimizer, partitioner, input_shapes)
    flops_per_step = utilization.train_flops(model, train_dataset.batch_size, input_shapes)
    device = utilization.accelerator(partitioner.mesh.devices.flat[0].device_kind)
    init_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(seed))
    manager = checkpoints.CheckpointManager(checkpoints.checkpoint_directory(model_path), checkpoint_config)
    state = restore_or_init_state(model, optimizer, layout, input_shapes, init_rng, manager, initial_checkpoint_path)
    start_step = int(state.step)
    if start_step >= train_steps:
        logging.warning("%s is already at step %d (TRAIN_STEPS = %d): nothing to train; raise TRAIN_STEPS to train "
                        "further.", manager.directory, start_step, train_steps)

    is_chief = jax.process_index() == 0
    if is_chief:
        table = partitioning.describe_parameters(layout.abstract_state.params, layout.logical_specs, layout.mesh_specs, partitioner.mesh)
        (model_path / "parameters.txt").write_text(table + "\n")
        if operative_config is not None:
            (model_path / "config.gin").write_text(operative_config())
    writer = metric_writers.create_default_writer(str(model_path), just_logging=not is_chief, asynchronous=False)

    step_fn = steps.jit_train_step(model, optimizer, learning_rate_schedule, layout, partitioner, num_microbatches)
    feature_converter = model.FEATURE_CONVERTER_CLS(pack=train_dataset.pack)
    # The data position: batches read since this run's first step (an initial checkpoint's steps read other data).
    batches = get_batches(train_dataset, feature_converter, start_step - first_step, pipeline.host_shard_info())

    buffer = _MetricsBuffer()
    first, last = {}, {}
    history = []
    window_start = time.perf_counter()
    progress = _progress_bar(start_step, train_steps, show_progress and is_chief)
    watch = preemption.PreemptionWatch()
    preempted = False

    def flush(step: int) -> None:
        nonlocal first, last, window_start
        pulled = buffer.pull()
        if not pulled:
            return
        sums = {k: sum(m[k] for _, m, _ in pulled) for k in pulled[0][1]}
        seconds = max(time.perf_counter() - window_start, 1e-9)
        scalars = {f"train/{k}": v for k, v in steps.summarize_metrics(sums).items()}
        scalars["train/loss"] = sums["loss"] / len(pulled)
        scalars["train/learning_rate"] = pulled[-1][1]["learning_rate"]
        scalars["train/grad_norm"] = pulled[-1][1]["grad_norm"]
        scalars["train/param_norm"] = pulled[-1][1]["param_norm"]
        scalars["timing/steps_per_second"] = len(pulled) / seconds
        scalars["timing/target_tokens_per_second"] = sums["weight_sum"] / seconds
        scalars["timing/tokens_per_second"] = sum(n for _, _, n in pulled) / seconds
        if flops_per_step:
            flops_per_device = flops_per_step * len(pulled) / seconds / partitioner.mesh.devices.size
            scalars["timing/model_tflops_per_device"] = flops_per_device / 1e12
            if device is not None:
                scalars["timing/mfu"] = flops_per_device / device.peak_flops
        writer.write_scalars(step, scalars)
        last = {k.split("/", 1)[1]: v for k, v in scalars.items()}
        history.append((step, last))
        if not first:
            first = dict(last)
        progress.set_postfix(loss=f"{last['loss_per_token']:.4f}", acc=f"{last['accuracy']:.3f}")
        window_start = time.perf_counter()

    try:
        for step in range(start_step + 1, train_steps + 1):
            host_batch = next(batches)
            input_tokens = _tokens_read(host_batch)
            batch = partitioner.host_local_to_global(host_batch)
            profiler.before(step, model_path / "profile")
            with jax.profiler.StepTraceAnnotation("train", step_num=step):
                state, metrics = step_fn(state, batch, dropout_rng)
            profiler.after(step, metrics)
            buffer.add(step, metrics, input_tokens * jax.process_count())
            progress.update(1)
            preempted = watch.reached(step) and step < train_steps
            saving_now = preempted or step % checkpoint_config.period == 0 or step == train_steps
            evaluating_now = not preempted and (eval_dataset is not None or infer_eval is not None) and (
                step % eval_period == 0 or step == train_steps)
            if step % log_period == 0 or saving_now or evaluating_now or step == start_step + 1:
                flush(step)  # raises before a non-finite state can be saved
            if saving_now:
                manager.save(step, _items(state), force=preempted or step == train_steps)
            if preempted:
                logging.warning("Preempted: stopping at step %d, saved in %s.", step, manager.directory)
                break
            if evaluating_now:
                if eval_dataset is not None:
                    evaluate_loss(model, state.params, eval_dataset, partitioner, eval_steps, writer, step)
                if infer_eval is not None:
                    writer.write_scalars(step, dict(infer_eval(model, state.params, partitioner, step, str(model_path))))
                window_start = time.perf_counter()  # evaluation time is not training time
        flush(train_steps)
    except TrainingDivergedError as error:
        manager.wait_until_finished()
        latest = manager.latest_step()
        kept = (
            f"The last good checkpoint is step {latest} in {manager.directory}; rerunning resumes from it."
            if latest is not None else "No checkpoint was written before it."
        )
        raise TrainingDivergedError(f"{error} {kept}") from None
    finally:
        watch.close()
        profiler.close()
        progress.close()
        manager.wait_until_finished()
        manager.close()
        writer.flush()
    return TrainResult(state=state, first_metrics=first, last_metrics=last, start_step=start_step, history=history, preempted=preempted)


def evaluate_loss(
    model: Model,
    params: PyTree,
    config: pipeline.DatasetConfig,
    partitioner: partitioning.Partitioner,
    num_batches: int,
    writer: metric_writers.MetricWriter | None = None,
    step: int = 0,
) -> dict[str, float]:
    """Teacher-forced loss and token accuracy over up to `num_batches` batches of `config`."""
    converter = model.FEATURE_CONVERTER_CLS(pack=config.pack)
    dataset = pipeline.get_dataset(config, pipeline.host_shard_info(), converter, num_epochs=1)
    fn = _jitted_eval_step(model.loss_fn, partitioner)
    sums = None
    per_host = config.batch_size // jax.process_count()
    for host_batch in dataset.take(num_batches).as_numpy_iterator():
        if len(host_batch["decoder_target_tokens"]) != per_host:
            break  # a last partial batch would not split over the mesh
        values = jax.device_get(fn(params, partitioner.host_local_to_global(host_batch)))
        sums = values if sums is None else jax.tree.map(np.add, sums, values)
    if sums is None:
        logging.warning("No full evaluation batch in %s/%s", config.mixture_or_task_name, config.split)
        return {}
    summary = steps.summarize_metrics(sums)
    if writer is not None:
        writer.write_scalars(step, {f"eval/{k}": v for k, v in summary.items()})
    return summary


class _Profiler:
    """A `jax.profiler` trace of the steps first..last (PROFILE_STEPS), from the first of them
    that this run takes."""

    def __init__(self, profile_steps: tuple[int, int] | None):
        if profile_steps is not None:
            if len(profile_steps) != 2 or not 1 <= profile_steps[0] <= profile_steps[1]:
                raise ValueError(
                    f"PROFILE_STEPS (train.profile_steps) must be (first, last) with 1 <= first <= last, got {profile_steps!r}"
                )
        self.first, self.last = profile_steps or (0, -1)
        self.active = False

    def before(self, step: int, directory: epath.Path) -> None:
        if not self.active and self.first <= step <= self.last:
            logging.info("Profiling steps %d-%d into %s", step, self.last, directory)
            jax.profiler.start_trace(str(directory))
            self.active = True

    def after(self, step: int, outputs: PyTree) -> None:
        if self.active and step == self.last:
            jax.block_until_ready(outputs)  # the trace holds the last step's device work
            self.close()

    def close(self) -> None:
        if self.active:
            jax.profiler.stop_trace()
            self.active = False


@functools.lru_cache(maxsize=8)
def _jitted_eval_step(loss_fn: optimizers.LossFn, partitioner: partitioning.Partitioner):
    return jax.jit(partitioner.with_activation_rules(functools.partial(steps.eval_step, loss_fn=loss_fn)),
                   out_shardings=partitioner.replicated())


def _progress_bar(start: int, total: int, enabled: bool):
    import tqdm

    return tqdm.tqdm(total=total, initial=start, disable=not enabled, desc="train", unit="step", dynamic_ncols=True)
