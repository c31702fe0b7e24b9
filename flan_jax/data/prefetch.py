"""Work done ahead on worker threads: batches read ahead of the trainer, tasks opened ahead of
their first draw. Both change timing only: what is produced, and its order, is the same.

One mechanism for both, `concurrent.futures`: a future per item, results taken in order, and an
exception in a worker is raised by `result()` to the consumer.
"""
import collections
import concurrent.futures
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items` in order, produced by a background thread up to `depth` ahead of the consumer.

    One worker calls `next(items)` for each queued future, so the producer runs in order. An
    exception in the producer is raised to the consumer; closing the returned generator cancels
    what is queued (the producer then stops after at most the item it is making).
    """
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="read_ahead")
    pending: collections.deque[concurrent.futures.Future] = collections.deque(
        executor.submit(next, items, _END) for _ in range(depth))
    try:
        while True:
            item = pending.popleft().result()
            if item is _END:
                return
            pending.append(executor.submit(next, items, _END))
            yield item
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=False, cancel_futures=True)


class OpenAhead(Generic[T]):
    """`open(index)`, with the tasks about to be drawn for the first time opened by workers first.

    Opening a task through tf.data (tracing its preprocessors) costs ~0.1 s and runs ~1.7x faster
    on 2 threads than on one, so while the main thread packs, `workers` threads open up to
    `depth` upcoming tasks (those `worth` says need it). An opened result is a function of the
    index alone, not of the thread that made it.
    """

    def __init__(self, open: Callable[[int], T], upcoming: collections.deque[int], workers: int, depth: int = 16,
                 worth: Callable[[int], bool] = lambda index: True):
        """
        Args:
          open: index -> the opened task (e.g. its epoch iterator and first chunk).
          upcoming: indices in the order of their first draw, consumed here as they are queued
            (`sampling.TaskDraws.first_draws`).
          workers: threads.
          depth: tasks opened ahead at most (bounds the memory of opened chunks).
          worth: index -> whether opening it ahead is worth a thread.
        """
        self._open, self._upcoming, self._depth, self._worth = open, upcoming, depth, worth
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="open_ahead")
        self._futures: dict[int, concurrent.futures.Future] = {}
        self._asked: set[int] = set()

    def __call__(self, index: int) -> T:
        """The opened task `index` (each index is asked for once)."""
        self._asked.add(index)
        future = self._futures.pop(index, None)
        opened = future.result() if future is not None else self._open(index)
        self._top_up()
        return opened

    def _top_up(self) -> None:
        while self._upcoming and len(self._futures) < self._depth:
            index = self._upcoming.popleft()
            if index not in self._asked and self._worth(index):
                self._futures[index] = self._executor.submit(self._open, index)
