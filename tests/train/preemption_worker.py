"""One of two processes of the preemption test: `python preemption_worker.py PROCESS_ID PORT MODEL_DIR OUT_JSON`.

Trains a one-layer tiny T5 data-parallel over one CPU device per process (gloo collectives)
towards a step it never reaches; the test sends SIGTERM to one process. Each writes
{"preempted", "step"} to OUT_JSON.
"""
import json
import os
import sys

process_id, port = int(sys.argv[1]), int(sys.argv[2])
model_dir, out_json = sys.argv[3:5]
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import tiny_setup  # noqa: E402
from flan_jax.train import checkpoints, optimizers, partitioning, trainer  # noqa: E402

tiny_setup.register()
result = trainer.train(
    model=tiny_setup.tiny_model(num_encoder_layers=1, num_decoder_layers=1),
    partitioner=partitioning.Partitioner(num_partitions=1),
    train_dataset=tiny_setup.dataset_config(batch_size=8),
    learning_rate_schedule=optimizers.constant_schedule(1e-2),
    train_steps=100_000,
    model_dir=model_dir,
    checkpoint_config=checkpoints.CheckpointConfig(period=2),
    truncation_check_examples=0,
    show_progress=False,
)
with open(out_json, "w") as f:
    json.dump({"preempted": result.preempted, "step": int(result.state.step)}, f)
