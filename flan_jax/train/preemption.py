"""Stopping at an agreed step when the machine is about to go away.

A TPU VM or a SLURM job gets SIGTERM some seconds before it is preempted. The loop asks
`PreemptionWatch.reached(step)` after every step; once it says True, every process saves a
checkpoint at that same step and returns, and the rerun resumes there.

- One process: a SIGTERM handler sets a flag that `reached` reads. No host sync.
- Several processes (`jax.distributed`): JAX's preemption service, which `jax.distributed.initialize`
  starts and which catches SIGTERM itself. When any process gets the signal, the service agrees in
  the background on the first step every process can still reach;
  `multihost_utils.reached_preemption_sync_point` is True at that step on every process (t5x and
  orbax's `CheckpointManager.reached_preemption` use the same call). Each call only reads local
  state, so asking every step costs no collective.
"""
import logging
import signal
import threading
from types import FrameType

import jax
from jax.experimental import multihost_utils


class PreemptionWatch:
    """Whether every process should stop at this step because SIGTERM arrived (see the module docstring).

    `close()` puts back the SIGTERM handler it replaced.
    """

    def __init__(self):
        self._signalled = False
        self._previous_handler = None
        self._multiprocess = jax.process_count() > 1
        if self._multiprocess:
            return
        if threading.current_thread() is not threading.main_thread():
            # Python delivers signals to the main thread only; a loop run elsewhere (a notebook
            # worker, a test thread) keeps the default SIGTERM behaviour.
            logging.warning("Training outside the main thread: SIGTERM will stop it without a checkpoint.")
            return
        # None when the handler was not installed from Python (then the default is put back).
        self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm) or signal.SIG_DFL

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        self._signalled = True  # only a flag: the loop logs when it stops

    def reached(self, step: int) -> bool:
        """True at the step where this process (and every other) saves and stops. Call it every step."""
        if not self._multiprocess:
            return self._signalled
        try:
            return multihost_utils.reached_preemption_sync_point(step)
        except RuntimeError as error:  # jax_enable_preemption_service was turned off
            logging.warning("SIGTERM will stop training without a checkpoint: %s", error)
            self._multiprocess = False  # warn once; the flag stays False
            return False

    def close(self) -> None:
        """Restores the SIGTERM handler this watch replaced (a no-op with several processes)."""
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None
