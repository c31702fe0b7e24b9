"""Orbax checkpoints: periodic saves, keep-last-K, resume, restore resharded onto any mesh.

Layout: `MODEL_DIR/checkpoints/<step>/{params,opt_state}`, each item a standard orbax pytree
checkpoint (t5x writes `MODEL_DIR/checkpoint_<step>/` in its own format instead; wherever a
checkpoint path is taken, a MODEL_DIR, its `checkpoints/` or one step directory will do). Orbax writes a step into a temporary directory and renames it when complete, so a
crash mid-save never leaves a checkpoint that looks finished. Restoring takes abstract arrays
(`jax.ShapeDtypeStruct` with a sharding), so a checkpoint written on one mesh loads directly
onto another. A resume restores the newest step that reads back whole, moving unreadable newer
ones aside (`CheckpointManager.restore_newest_good`). The data position is the step: the input
pipeline skips `step` batches.
"""
import dataclasses
import logging
import os
import time
from typing import Any, Mapping

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from flan_jax.models import layer_stacking
from flan_jax.train import partitioning, steps

PyTree = Any
CHECKPOINTS_SUBDIR = "checkpoints"
PARAMS_ITEM = "params"
OPT_STATE_ITEM = "opt_state"


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """When to save and how many to keep (t5x's `utils.CheckpointConfig`, trimmed).

    Attributes:
      period: save every `period` steps (t5x CHECKPOINT_PERIOD); the final step is always saved.
      keep: keep the last `keep` checkpoints (None keeps all).
      async_save: write in a background thread while training continues.
    """

    period: int = 1000
    keep: int | None = None
    async_save: bool = True


class CheckpointManager:
    """Saves and restores named pytrees ("params", "opt_state") by step in one directory.

    Args:
      directory: the checkpoint directory (usually `MODEL_DIR/checkpoints`).
      config: saving period and retention.
    """

    def __init__(self, directory: str | os.PathLike, config: CheckpointConfig = CheckpointConfig()):
        self.directory = epath.Path(directory)
        self.config = config
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=config.keep,
                create=True,
                enable_async_checkpointing=config.async_save,
            ),
            item_names=(PARAMS_ITEM, OPT_STATE_ITEM),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, items: Mapping[str, PyTree], force: bool = False) -> bool:
        """Saves `items` at `step` if `step` is a multiple of the period (or `force`); True if it saved.

        The policy is ours, not orbax's (which also saves the first step it sees), so a resumed
        run saves at exactly the steps an uninterrupted one does.
        """
        if step in self._manager.all_steps() or not (force or step % self.config.period == 0):
            return False
        args = ocp.args.Composite(**{name: ocp.args.StandardSave(tree) for name, tree in items.items()})
        return self._manager.save(step, args=args, force=True)

    def restore(self, step: int, abstract_items: Mapping[str, PyTree]) -> dict[str, PyTree]:
        """Restores the named items at `step` onto the shardings in `abstract_items`."""
        # Each item's handler, not `ocp.CheckpointManager.restore`: the manager ends a restore with a
        # barrier that a process whose read failed would never reach (see `restore_newest_good`).
        handler = ocp.StandardCheckpointHandler()
        try:
            return {
                name: handler.restore(self.directory / str(step) / name, args=ocp.args.StandardRestore(tree))
                for name, tree in abstract_items.items()
            }
        finally:
            handler.close()

    def restore_newest_good(self, abstract_items: Mapping[str, PyTree]) -> tuple[int | None, dict[str, PyTree] | None]:
        """Restores the newest step that reads back whole; (None, None) when there is no checkpoint.

        A newer step that fails to read (a file truncated or missing, ...) is moved aside to
        `<step>.unreadable-<time>`, never deleted, with a warning naming the step and the error,
        and the next older step is tried. With several processes a step counts as good only if
        every process read its shards of it.

        Raises:
          UnreadableCheckpointError: no step reads back (nothing is moved: training must not
            silently start again from scratch).
        """
        failures = {}
        for step in reversed(self.all_steps()):
            try:
                items = self.restore(step, abstract_items)
            except Exception as error:  # tensorstore raises bare Exception: any failure to read counts
                items, failures[step] = None, _describe(error)
            if _on_every_process(items is not None):
                self._move_aside(failures)
                return step, items
            failures.setdefault(step, "another process could not read its part")
        if failures:
            listed = "; ".join(f"step {step}: {problem}" for step, problem in failures.items())
            raise UnreadableCheckpointError(
                f"No checkpoint in {self.directory} can be restored ({listed}). Nothing was moved: repair them, "
                "or move them away (or set another MODEL_DIR) to train from the start."
            )
        return None, None

    def _move_aside(self, failures: Mapping[int, str]) -> None:
        """Renames each unreadable step so neither orbax nor the next run takes it for a checkpoint."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for step, problem in failures.items():
            target = self.directory / f"{step}.unreadable-{stamp}"
            if jax.process_index() == 0:
                (self.directory / str(step)).rename(target)
            logging.warning("Checkpoint step %d in %s cannot be restored (%s); moved it to %s and restored an older step.",
                            step, self.directory, problem, target)
        if failures:
            _on_every_process(True)  # wait for the renames before anyone lists the steps again
            self._manager.reload()

    def wait_until_finished(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()


class UnreadableCheckpointError(ValueError):
    """MODEL_DIR holds checkpoints, but none of them can be restored."""


def _describe(error: BaseException) -> str:
    """The innermost cause of a failed read, on one line (tensorstore's names the file and what is wrong)."""
    while (error.__cause__ or error.__context__) is not None:
        error = error.__cause__ or error.__context__
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:300]}"


def _on_every_process(ok: bool) -> bool:
    """`ok` and-ed over the processes (one small allgather with several, nothing with one)."""
    if jax.process_count() == 1:
        return ok
    return bool(np.all(multihost_utils.process_allgather(np.asarray(ok))))


def checkpoint_directory(model_dir: str | os.PathLike) -> epath.Path:
    return epath.Path(model_dir) / CHECKPOINTS_SUBDIR


def find_params_directory(path: str | os.PathLike, source: str = "INITIAL_CHECKPOINT_PATH") -> epath.Path:
    """The `params` item directory of a checkpoint path given by the user.

    Accepts a step directory (`.../checkpoints/1000`), a checkpoint directory (its latest
    step is used) or a MODEL_DIR of an earlier run.

    Args:
      path: the path as given.
      source: the gin macro or flag that gave `path` (INITIAL_CHECKPOINT_PATH for training,
        CHECKPOINT_PATH for eval and infer, ...): errors name it so the user knows what to fix.

    Raises:
      FileNotFoundError naming `source`, the path and what was expected there.
    """
    # orbax needs absolute paths; remote ones (gs://...) already are.
    path = epath.Path(path if "://" in str(path) else os.path.abspath(path))
    if not path.exists():
        raise FileNotFoundError(f"{source} {str(path)!r} does not exist.")
    if (path / PARAMS_ITEM).is_dir():
        return path / PARAMS_ITEM
    if (path / CHECKPOINTS_SUBDIR).is_dir():
        path = path / CHECKPOINTS_SUBDIR
    steps = sorted(int(p.name) for p in path.iterdir() if p.name.isdigit() and (p / PARAMS_ITEM).is_dir())
    if not steps:
        raise FileNotFoundError(
            f"{source} {str(path)!r} holds no orbax checkpoint: expected a step "
            f"directory with a '{PARAMS_ITEM}' item, a directory of step directories, or a "
            "MODEL_DIR with a 'checkpoints' subdirectory."
        )
    return path / str(steps[-1]) / PARAMS_ITEM


def checkpoint_step(path: str | os.PathLike, source: str = "INITIAL_CHECKPOINT_PATH") -> int:
    """The training step a checkpoint was written at: its step directory's number, 0 when it has
    none (a converted Hugging Face checkpoint, `save_params` output). See `find_params_directory`."""
    step_dir = find_params_directory(path, source).parent.name
    return int(step_dir) if step_dir.isdigit() else 0


def has_checkpoint(model_dir: str | os.PathLike) -> bool:
    """Whether MODEL_DIR holds a finished checkpoint (a run there resumes from it)."""
    directory = checkpoint_directory(os.path.abspath(model_dir) if "://" not in str(model_dir) else model_dir)
    return directory.is_dir() and any(p.name.isdigit() for p in directory.iterdir())


def restore_params(path: str | os.PathLike, abstract_params: PyTree, source: str = "INITIAL_CHECKPOINT_PATH") -> PyTree:
    """Parameters only (no optimizer state) from an orbax checkpoint, onto the given shardings.

    Used for INITIAL_CHECKPOINT_PATH (fine-tuning starts from pre-trained or converted weights
    with a fresh optimizer, at the checkpoint's step) and for CHECKPOINT_PATH of eval and infer.

    Args:
      path: see `find_params_directory`.
      abstract_params: `jax.ShapeDtypeStruct` tree with shardings; the checkpoint must match
        its structure and shapes.
      source: the gin macro or flag that gave `path`, named in errors.

    Returns:
      The parameter tree, sharded as `abstract_params` says.
    """
    params_dir = find_params_directory(path, source)
    logging.info("Restoring parameters from %s", params_dir)
    with ocp.StandardCheckpointer() as checkpointer:
        target, to_model_layout = _in_saved_layer_layout(checkpointer.metadata(params_dir), abstract_params, params_dir)
        try:
            params = checkpointer.restore(params_dir, target)
        except (ValueError, KeyError) as error:
            raise ValueError(
                f"The parameters in {str(params_dir)!r} ({source}) do not match the model's parameters "
                f"(structure or shapes differ; check the model gin file): {error}"
            ) from error
    return to_model_layout(params)


def _in_saved_layer_layout(metadata: Any, abstract_params: PyTree, params_dir: epath.Path):
    """(restore target, conversion to the model's layout) for a checkpoint whose layer stacks are
    unrolled where the model scans them (`T5Config.scan_layers`), or the other way round; the
    identity when both agree."""
    saved = layer_stacking.is_scanned(getattr(getattr(metadata, "item_metadata", None), "tree", None))
    wanted = layer_stacking.is_scanned(abstract_params)
    if saved is None or wanted is None or saved == wanted:
        return abstract_params, lambda params: params
    logging.info("%s holds %s layers; converting them for the model's %s layout", params_dir,
                 *(("scanned", "unrolled") if saved else ("unrolled", "scanned")))
    if saved:
        target, convert = layer_stacking.stack_abstract(abstract_params), layer_stacking.unstack_layers
    else:
        target, convert = layer_stacking.unstack_abstract(abstract_params), layer_stacking.stack_layers
    shardings = [getattr(x, "sharding", None) for x in jax.tree.leaves(abstract_params)]
    if any(s is None for s in shardings):
        return target, jax.jit(convert)
    return target, jax.jit(convert, out_shardings=jax.tree.map(lambda x: x.sharding, abstract_params))


def restore_model_params(model: steps.StepModel, path: str | os.PathLike, input_shapes: Mapping[str, tuple[int, int]],
                         partitioner: partitioning.Partitioner | None = None,
                         source: str = "CHECKPOINT_PATH") -> tuple[PyTree, int]:
    """A model's parameters from a checkpoint, placed by the partitioner's logical axis rules.

    Args:
      model: the model whose parameter layout (`steps.param_layout`) the checkpoint must match.
      path: see `find_params_directory`.
      input_shapes: model feature shapes to initialise with (`features.model_input_shapes`).
      partitioner: the mesh and rules (default: one replica per device set).
      source: the gin macro or flag that gave `path`, named in errors.

    Returns:
      (params, step): step is the checkpoint's step directory number, or 0 when it has none.
    """
    partitioner = partitioner or partitioning.Partitioner()
    layout = steps.param_layout(model, partitioner, input_shapes)
    params = restore_params(path, abstract_like(layout.abstract, layout.shardings), source=source)
    return params, checkpoint_step(path, source)


def save_params(path: str | os.PathLike, params: PyTree) -> None:
    """Writes a parameter tree where `restore_params` finds it (`path/params`), e.g. for conversion."""
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(epath.Path(path if "://" in str(path) else os.path.abspath(path)) / PARAMS_ITEM, params)


def abstract_like(tree: PyTree, shardings: PyTree) -> PyTree:
    """ShapeDtypeStructs of `tree` (arrays or abstract arrays) carrying `shardings`."""
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)
