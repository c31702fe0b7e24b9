"""Evaluation batches: text to token ids (cut to the feature lengths), fixed-shape batches of the
model's features, and which rows each JAX process feeds (t5x shards eval input per host).

Batches are built by the model's own feature layout (`flan_jax.data.features`), the code that
builds its training batches, one example per row; shapes are fixed (padding rows are all
zeros), so each predict or score function compiles once.
"""
import dataclasses
from typing import Any, Callable, Mapping, Protocol, Sequence

import jax
import numpy as np
import seqio

from flan_jax.data import features

Batch = dict[str, np.ndarray]


def encode(vocabulary: seqio.Vocabulary, text: str, length: int, keep: str) -> tuple[list[int], bool]:
    """Token ids with EOS, cut to `length` keeping the "left" or "right" end; (ids, was_cut)."""
    ids = list(vocabulary.encode(text)) + [vocabulary.eos_id]
    if len(ids) <= length:
        return ids, False
    return (ids[-length:] if keep == "right" else ids[: length - 1] + [vocabulary.eos_id]), True


def decode_tokens(vocabulary: seqio.Vocabulary, tokens: Sequence[int]) -> str:
    """Output ids -> text, stopping at EOS (and at padding)."""
    ids = []
    for t in tokens:
        t = int(t)
        if t in (vocabulary.eos_id, 0):
            break
        ids.append(t)
    return vocabulary.decode(ids)


def feature_builder(converter_cls: type) -> features.Builder:
    """The numpy builder of a model's feature layout (its `FEATURE_CONVERTER_CLS`).

    Raises:
      ValueError: the converter has no layout in `features.LAYOUTS` (add one there to evaluate).
    """
    layout = features.layout_for(converter_cls)
    if layout is None:
        raise ValueError(f"No feature layout for {converter_cls.__name__}; add one to flan_jax.data.features.LAYOUTS.")
    return layout.build


def unpacked_batch(build: features.Builder, inputs: Sequence[Sequence[int]], targets: Sequence[Sequence[int]],
                   batch_size: int, lengths: Mapping[str, int]) -> Batch:
    """One example per row (as seqio's converters emit unpacked), zero rows as padding."""
    return build([[(i, t)] for i, t in zip(inputs, targets)], batch_size, lengths, False)


def prompt_batch(build: features.Builder, inputs: Sequence[Sequence[int]], batch_size: int,
                 lengths: Mapping[str, int]) -> Batch:
    """Rows to decode from: each example's inputs and one padding target (id 0).

    The padding target changes nothing in the encoder-decoder layout; in the prefix-LM layout it
    extends the prompt (`decoder_causal_attention`) to the position that reads the inputs' EOS
    and predicts the first target, where training put it.
    """
    return unpacked_batch(build, inputs, [[0]] * len(inputs), batch_size, lengths)


class BatchPlacer(Protocol):
    """Turns this process's rows of a batch into global arrays (`partitioning.Partitioner`)."""

    def batch_sharding(self) -> jax.sharding.NamedSharding: ...

    def host_local_to_global(self, batch: Mapping[str, np.ndarray]) -> dict[str, jax.Array]: ...


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class ProcessShard:
    """Which rows this JAX process feeds, and how its batches become global.

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
