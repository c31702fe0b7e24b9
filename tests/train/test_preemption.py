"""SIGTERM (a TPU VM's or SLURM's preemption notice): save at an agreed step, exit 0, resume to the same result."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import gin
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import jax_processes
import tiny_setup

# Runs against the model engineer's flan_jax.models (skipped only while it is absent).
pytest.importorskip("flan_jax.models.model")
from flan_jax.train import main, preemption  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
TRAIN_STEPS = 40
PERIOD = 5


def _args(model_dir) -> list[str]:
    return [
        "--gin_file=runs/debug_cpu.gin", "--gin_file=models/t5_1_1/tiny.gin",
        f"--gin.MODEL_DIR='{model_dir}'", f"--gin.MIXTURE_OR_TASK_NAME='{tiny_setup.TASK_NAME}'",
        f"--gin.TRAIN_STEPS={TRAIN_STEPS}", f"--gin.CHECKPOINT_PERIOD={PERIOD}", "--gin.CHECKPOINTS_TO_KEEP=None",
        '--gin.TASK_FEATURE_LENGTHS={"inputs": 32, "targets": 16}', "--gin.train.truncation_check_examples=0", "--no_progress",
    ]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def _sigterm_once_saved(process: subprocess.Popen, first_checkpoint: pathlib.Path, timeout: float = 300) -> None:
    """Sends SIGTERM as soon as `first_checkpoint` exists, i.e. once training is under way."""
    deadline = time.monotonic() + timeout
    while not first_checkpoint.is_dir():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"training ended or stalled before writing {first_checkpoint}:\n{process.communicate()[0][-4000:]}")
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)


def test_watch_turns_sigterm_into_a_flag_and_puts_the_old_handler_back():
    previous = signal.getsignal(signal.SIGTERM)
    watch = preemption.PreemptionWatch()
    try:
        assert signal.getsignal(signal.SIGTERM) == watch._on_sigterm  # else the signal below would end pytest
        assert not watch.reached(1)
        signal.raise_signal(signal.SIGTERM)
        assert watch.reached(2)
    finally:
        watch.close()
    assert signal.getsignal(signal.SIGTERM) == previous


def _params(step_dir: pathlib.Path):
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(step_dir / "params")


def test_sigterm_saves_exits_zero_and_the_rerun_ends_like_an_uninterrupted_run(tmp_path, clean_registries, fresh_gin, capsys):
    model_dir = tmp_path / "preempted"
    command = [sys.executable, "-m", "flan_jax.train", *_args(model_dir), "--gin.MIXTURE_OR_TASK_MODULE='tiny_tasks'"]
    process = subprocess.Popen(command, cwd=tmp_path, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _sigterm_once_saved(process, model_dir / "checkpoints" / str(PERIOD))
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-4000:]
    message = [line for line in output.splitlines() if line.startswith("Preempted (SIGTERM)")]
    assert len(message) == 1, output[-4000:]
    stopped = int(message[0].split("checkpoint of step ")[1].split()[0])
    assert PERIOD < stopped < TRAIN_STEPS
    assert f"in {model_dir / 'checkpoints' / str(stopped)};" in message[0]
    assert (model_dir / "checkpoints" / str(stopped) / "params").is_dir()
    assert "loss per target token" not in output  # a preempted run does not report itself finished

    # The rerun (here in-process: the same command, its step compiled already) resumes at that step and finishes.
    tiny_setup.register()
    assert main.main(_args(model_dir) + ["--gin.MIXTURE_OR_TASK_MODULE=None"]) == 0
    assert f"at step {TRAIN_STEPS}" in capsys.readouterr().out
    gin.clear_config()
    # The uninterrupted reference saves only its last step (the period does not change the training).
    assert main.main(_args(tmp_path / "straight") + ["--gin.MIXTURE_OR_TASK_MODULE=None", "--gin.CHECKPOINT_PERIOD=1000"]) == 0
    steps = sorted(int(p.name) for p in (model_dir / "checkpoints").iterdir() if p.name.isdigit())
    assert stopped in steps and steps[-1] == TRAIN_STEPS
    jax.tree.map(
        np.testing.assert_array_equal,
        _params(model_dir / "checkpoints" / str(TRAIN_STEPS)), _params(tmp_path / "straight" / "checkpoints" / str(TRAIN_STEPS)),
    )


@pytest.mark.multihost
def test_sigterm_to_one_of_two_processes_stops_both_at_the_same_step(tmp_path):
    """JAX's preemption service carries one host's notice to the other; both save one checkpoint together."""
    port, model_dir = jax_processes.free_port(), tmp_path / "run"
    env = _env()
    env.pop("XLA_FLAGS", None)
    processes = [
        subprocess.Popen([sys.executable, str(HERE / "preemption_worker.py"), str(i), str(port), str(model_dir), str(tmp_path / f"{i}.json")],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]
    try:
        _sigterm_once_saved(processes[1], model_dir / "checkpoints" / "2")
    finally:
        jax_processes.wait_all(processes, timeout=300)
    results = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2)]
    assert results[0] == results[1], results
    assert results[0]["preempted"] and results[0]["step"] > 2
    assert (model_dir / "checkpoints" / str(results[0]["step"]) / "params").is_dir()
