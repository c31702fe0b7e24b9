"""Evaluation batches of similar input length, each padded to one of a few bucket lengths.

Decoding dominates evaluation, and both the encoder and every decode step's cross-attention
grow with the padded input length. Batched in file order to the full input length, a short
TyDiQA question pays for the 2,048 positions of the longest prompt. Sorted by length (longest
first, so the largest shape compiles and meets memory first) and padded per batch to the
smallest bucket that holds its longest row, each batch costs about what its rows need; the
buckets (powers of two and the halfway points between them) bound the compilations to a few.
`plan` orders a task's rows, `restore` puts the outputs back in file order.
"""
from typing import Sequence, TypeVar

T = TypeVar("T")


def bucket_lengths(limit: int, smallest: int = 128) -> list[int]:
    """The padded lengths a batch may take: 128, 192, 256, 384, 512, 768, ... below `limit`, then `limit`."""
    buckets, power = [], smallest
    while power < limit:
        buckets += [b for b in (power, power * 3 // 2) if b < limit]
        power *= 2
    return buckets + [limit]


def plan(lengths: Sequence[int], batch_size: int, limit: int) -> tuple[list[int], list[int]]:
    """(order, padded): the rows longest first, and the input length of each row of that order.

    Every block of `batch_size` consecutive rows of `order` (one global batch) gets one padded
    length: the smallest bucket of `bucket_lengths(limit)` that holds its longest row.

    Args:
      lengths: each row's input length (at most `limit`).
      batch_size: rows per global batch (over all processes).
      limit: the input feature length.
    """
    if any(length > limit for length in lengths):
        raise ValueError(f"plan: a row of {max(lengths)} tokens is longer than the input length {limit}")
    order = sorted(range(len(lengths)), key=lambda row: -lengths[row])
    buckets = bucket_lengths(limit)
    padded = []
    for start in range(0, len(order), batch_size):
        longest = lengths[order[start]]
        bucket = next(b for b in buckets if b >= longest)
        padded += [bucket] * len(order[start:start + batch_size])
    return order, padded


def restore(order: Sequence[int], outputs: Sequence[T]) -> list[T]:
    """Outputs listed in `order` -> outputs in the original row order."""
    restored: list = [None] * len(order)
    for position, row in enumerate(order):
        restored[row] = outputs[position]
    return restored
