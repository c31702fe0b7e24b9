"""Two JAX processes on 127.0.0.1 (gloo CPU collectives) train like one process with all devices."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import jax_processes

# Runs against the model engineer's flan_jax.models (skipped only while it is absent).
pytest.importorskip("flan_jax.models.model")

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "multihost_worker.py"


def _launch(process_id, num_processes, port, local_devices, out, model_dir, eval_checkpoint):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    env.pop("XLA_FLAGS", None)
    args = [sys.executable, str(WORKER), str(process_id), str(num_processes), str(port), str(local_devices), str(out), str(model_dir), str(eval_checkpoint)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.multihost
def test_two_processes_match_one_process(tmp_path):
    port = jax_processes.free_port()
    # Both runs evaluate the checkpoint the two processes wrote: one process alone, then each its share.
    checkpoint = tmp_path / "two" / "checkpoints" / "3"
    two = [_launch(i, 2, port, 2, tmp_path / "two.json", tmp_path / "two", checkpoint) for i in range(2)]
    jax_processes.wait_all(two)
    jax_processes.wait_all([_launch(0, 1, 0, 4, tmp_path / "one.json", tmp_path / "one", checkpoint)])
    two_result = json.loads((tmp_path / "two.json").read_text())
    one_result = json.loads((tmp_path / "one.json").read_text())
    assert (two_result["process_count"], two_result["devices"]) == (2, 4)
    assert (one_result["process_count"], one_result["devices"]) == (1, 4)
    assert len(two_result["losses"]) == 3 and all(two_result["tokens"])
    np.testing.assert_allclose(two_result["losses"], one_result["losses"], rtol=1e-5)
    np.testing.assert_allclose(two_result["param_norms"], one_result["param_norms"], rtol=1e-5)
    # Both processes wrote one orbax checkpoint together.
    assert (tmp_path / "two" / "checkpoints" / "3" / "params").is_dir()

    # Evaluation sharded over the two processes gathers exactly the single-process predictions, on both.
    one_eval = json.loads((tmp_path / "one.json.eval.0.json").read_text())["predictions"]
    assert [p["index"] for p in one_eval] == list(range(21))
    for process in range(2):
        assert json.loads((tmp_path / f"two.json.eval.{process}.json").read_text())["predictions"] == one_eval
    assert (tmp_path / "two" / "eval" / "3" / "results.json").is_file()  # results per step, outside checkpoints
