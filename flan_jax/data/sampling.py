"""Which task each training example comes from: seeded draws by rate, apart from any reading.

Drawing reads no data, so `flan-jax mixture sample` and the tests can draw millions of task
indices cheaply, and a resumed run replays its draws exactly. Every seed of the input pipeline
(per host, per task, per epoch) is derived by `derive_seed`, so there is one rule to audit.
"""
import collections
from typing import Sequence

import numpy as np


def derive_seed(*parts: int) -> int:
    """A 32-bit seed that is a pure function of `parts` (numpy's SeedSequence mixes them well, so
    (seed, host), (seed, host + 1) and (seed + 1, host) give unrelated streams)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


class TaskDraws:
    """Task indices drawn by rate from a seeded generator, `chunk` at a time.

    Two objects built from the same arguments yield the same indices. `first_draws` lists, in
    draw order, the indices drawn for the first time, as soon as their chunk is drawn: what a
    prefetcher needs to open tasks before their first example is wanted.
    """

    def __init__(self, rates: Sequence[float], seed: int, chunk: int = 4096):
        """
        Args:
          rates: one positive rate per task (normalised here).
          seed: the generator's seed.
          chunk: indices drawn at a time (numpy draws a chunk much faster than one by one).
        """
        self._probs = np.asarray(rates, np.float64) / np.sum(rates)
        self._rng = np.random.default_rng(seed)
        self._chunk = chunk
        self._queue: collections.deque[int] = collections.deque()
        self._seen: set[int] = set()
        self.first_draws: collections.deque[int] = collections.deque()

    def __iter__(self) -> "TaskDraws":
        return self

    def __next__(self) -> int:
        if not self._queue:
            drawn = self._rng.choice(len(self._probs), size=self._chunk, p=self._probs).tolist()
            self._queue.extend(drawn)
            for index in drawn:
                if index not in self._seen:
                    self._seen.add(index)
                    self.first_draws.append(index)
        return self._queue.popleft()
