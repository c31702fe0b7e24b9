"""Helpers for the tests that start JAX processes on 127.0.0.1: a free port, and waiting for all of them."""
import socket
import subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_all(processes: list[subprocess.Popen], timeout: float = 240) -> list[str]:
    """Each process's output once all have ended; kills those still running after `timeout`; asserts exit 0."""
    outputs = []
    try:
        for p in processes:
            outputs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-4000:]
    return outputs
