"""One process of the multi-host test: `python multihost_worker.py PROCESS_ID NUM_PROCESSES PORT LOCAL_DEVICES OUT_JSON MODEL_DIR EVAL_CHECKPOINT`.

Trains the tiny T5 for a few steps on the tiny task with seqio's unshuffled, unpacked stream,
so N processes together read a permutation of the batch one process reads alone; process 0
writes the per-step losses and parameter norms to OUT_JSON. Then `flan-jax eval`'s job (`jobs.evaluate`)
decodes the validation examples of EVAL_CHECKPOINT, each process its share; every process
writes the gathered predictions to OUT_JSON.eval.PROCESS_ID.json (the chief also the results).
"""
import json
import os
import sys

process_id, num_processes, port, local_devices = (int(x) for x in sys.argv[1:5])
out_json, model_dir, eval_checkpoint = sys.argv[5:8]
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={local_devices}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")
if num_processes > 1:
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=num_processes, process_id=process_id,
        local_device_ids=list(range(local_devices)),
    )

import tiny_setup  # noqa: E402
from flan_jax.eval import jobs  # noqa: E402
from flan_jax.train import checkpoints, optimizers, partitioning, trainer  # noqa: E402

tiny_setup.register()
result = trainer.train(
    model=tiny_setup.tiny_model(dropout_rate=0.0, num_encoder_layers=1, num_decoder_layers=1),
    partitioner=partitioning.Partitioner(num_partitions=2),
    train_dataset=tiny_setup.dataset_config(batch_size=8, pack=False, sampler="seqio"),
    learning_rate_schedule=optimizers.constant_schedule(1e-2),
    train_steps=3,
    model_dir=model_dir,
    checkpoint_config=checkpoints.CheckpointConfig(period=3, async_save=False),
    log_period=1,
    truncation_check_examples=0,
    show_progress=False,
)
if jax.process_index() == 0:
    with open(out_json, "w") as f:
        json.dump(
            {
                "process_count": jax.process_count(),
                "devices": jax.device_count(),
                "losses": [m["loss"] for _, m in result.history],
                "param_norms": [m["param_norm"] for _, m in result.history],
                "tokens": [m["target_tokens_per_second"] > 0 for _, m in result.history],
            },
            f,
        )

results = jobs.evaluate(
    model=tiny_setup.tiny_model(dropout_rate=0.0, num_encoder_layers=1, num_decoder_layers=1),
    checkpoint_path=eval_checkpoint,
    suite=tiny_setup.TASK_NAME,
    output_dir=os.path.join(model_dir, "eval"),
    task_feature_lengths=tiny_setup.LENGTHS,
    batch_size=8,
    max_examples=21,  # 11 + 10 rows over two processes: uneven shares and a padded last step
    partitioner=partitioning.Partitioner(num_partitions=2),
    show_progress=False,
)
with open(f"{out_json}.eval.{jax.process_index()}.json", "w") as f:
    json.dump({"predictions": results.tasks[tiny_setup.TASK_NAME].predictions}, f)
