"""What a command prints: the terminal shows what a person needs, library logs go to a log file.

Quiet by default: the terminal (stderr) gets warnings and errors from flan-jax's own code and
errors from other libraries; everything at INFO and above (orbax's save reports, seqio's cache
lookups, absl, TensorFlow's and XLA's C++ start-up lines) goes to the command's log file, e.g.
`MODEL_DIR/log.txt`. `--verbose` shows all of it on the terminal as well. Progress bars, result
tables and paths are printed by the commands themselves.

Command line only: library code logs with `logging` and never configures it.
"""
import collections
import contextlib
import importlib.util
import io
import logging
import os
import pathlib
import re
import sys
import tempfile
from typing import Iterator

LOG_FILE = "log.txt"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _our_directories() -> tuple[str, ...]:
    """The source directories of flan_jax and the task collection (records logged there are ours)."""
    spec = importlib.util.find_spec("flan_jax_tasks")
    tasks = list(spec.submodule_search_locations or []) if spec else []
    return tuple(os.path.join(os.path.realpath(d), "") for d in [os.path.dirname(__file__), *tasks])


class _Terminal(logging.Filter):
    """Our warnings and errors; other libraries' errors (their INFO and WARNING go to the log only)."""

    def __init__(self):
        super().__init__()
        self._ours = _our_directories()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        return record.levelno >= logging.WARNING and os.path.realpath(record.pathname).startswith(self._ours)


class _Stderr(logging.StreamHandler):
    """A stream handler writing to whatever `sys.stderr` is at each record (tests replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        del value


def _not_gin_search_noise(record: logging.LogRecord) -> bool:
    """gin logs "ERROR Path not found" for every search path it tries before the one that holds a
    file; a file found nowhere is reported by `gin_flags` with the paths tried."""
    return not record.pathname.endswith(os.path.join("gin", "resource_reader.py"))


class DirectoryLog(logging.Handler):
    """Appends records to `directory/log.txt` once a directory is set and the run has created it;
    keeps the latest records until then.

    The command does not create the directory itself: a run refused up front (a mistyped task,
    bad lengths) leaves nothing behind, and its records are dropped with it.
    """

    MAX_PENDING = 20_000

    def __init__(self):
        super().__init__(logging.INFO)
        self.path: pathlib.Path | None = None
        self._pending: collections.deque[logging.LogRecord] = collections.deque(maxlen=self.MAX_PENDING)
        self._file = None
        self.setFormatter(logging.Formatter(_FORMAT))

    def set_directory(self, directory: str | os.PathLike, name: str = LOG_FILE) -> None:
        self.path = pathlib.Path(directory) / name

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.append(record)
        if self._file is None:
            if self.path is None or not self.path.parent.is_dir():
                return
            self._file = open(self.path, "a", encoding="utf-8")
        try:
            while self._pending:
                self._file.write(self.format(self._pending.popleft()) + "\n")
            self._file.flush()
        except Exception:  # pylint: disable=broad-except  (logging must never stop the run)
            self.handleError(record)

    def finish(self) -> None:
        """Closes the file; later records are kept in memory only (until `set_directory` again)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path = None

    def close(self) -> None:
        self.finish()
        super().close()


def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "_flan_jax", False)


def setup(verbose: bool = False) -> None:
    """Routes logging: the terminal gets what a person needs (everything with `verbose`); the log
    file (`log_to`) gets everything from INFO up.

    Idempotent: a second call replaces the handlers of the first.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if _ours(h)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.INFO)
    if not any(_ours(f) for f in root.filters):
        noise = logging.Filter()
        noise.filter = _not_gin_search_noise
        noise._flan_jax = True
        root.addFilter(noise)
    terminal = _Stderr()
    terminal.setFormatter(logging.Formatter(_FORMAT if verbose else "%(levelname)s: %(message)s"))
    if not verbose:
        terminal.addFilter(_Terminal())
    log_file = DirectoryLog()
    for handler in (terminal, log_file):
        handler._flan_jax = True
        root.addHandler(handler)


def log_to(directory: str | os.PathLike, name: str = LOG_FILE) -> pathlib.Path | None:
    """Writes the log (from the start of the command) to `directory/name` once the directory exists.

    Returns:
      The log file's path; None when `setup` was not called (e.g. the library used from Python).
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, DirectoryLog) and _ours(handler):
            handler.set_directory(directory, name)
            return handler.path
    return None


def finish() -> None:
    """Closes the command's log file (the end of a command run in-process, e.g. by tests)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, DirectoryLog) and _ours(handler):
            handler.finish()


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Sends what C++ libraries write to file descriptor 2 meanwhile (TensorFlow's and XLA's start-up
    lines) to the log; Python's own `sys.stderr` keeps writing to the terminal.

    Used around importing TensorFlow and starting JAX's and TensorFlow's devices: their C++
    logging ignores TF_CPP_MIN_LOG_LEVEL before absl is initialised. Fatal lines ("F...") are
    logged as errors, so they reach the terminal too.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded interpreters)
        yield
        return
    python_stderr = sys.stderr
    uses_fd = _fileno(python_stderr) == 2
    with tempfile.TemporaryFile() as capture:
        if uses_fd:  # Python's writes bypass the capture: through a copy of the terminal's descriptor
            sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(saved), "w"), encoding=python_stderr.encoding,
                                          errors="backslashreplace", line_buffering=True)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            if uses_fd:
                sys.stderr.close()
                sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            native = logging.getLogger("native")
            for line in capture.read().decode("utf-8", errors="replace").splitlines():
                if line.strip():
                    native.log(logging.ERROR if re.match(r"^F\d{4} ", line) else logging.INFO, "%s", line)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
