#!/usr/bin/env bash
# Train (or evaluate) on a Cloud TPU VM slice: the same `python -m flan_jax.cli COMMAND` on every
# worker (`gcloud compute tpus tpu-vm ssh --worker=all`); JAX finds the other hosts by itself.
#
#   TPU_NAME=my-v4-32 ZONE=us-central2-b bash launch/tpu_vm.sh \
#     --gin_file=gin/runs/finetune.gin --gin_file=gin/models/t5_1_1/base.gin \
#     --gin.MODEL_DIR="'gs://my-bucket/flan_t5_base'" --gin.MIXTURE_OR_TASK_NAME="'flan2022'"
#
# Required: TPU_NAME, ZONE. Optional: COMMAND (train, the default, or eval / infer: each host
# decodes its share of the examples), PROJECT, REPO_DIR (the checkout on the workers,
# default ~/flan-jax), PYTHON (default python3). MODEL_DIR must be a path every worker can
# write (a gs:// bucket). --dry_run prints the command without running it.
set -euo pipefail

dry_run=0
args=()
for arg in "$@"; do
  if [[ "$arg" == "--dry_run" ]]; then dry_run=1; else args+=("$arg"); fi
done
: "${TPU_NAME:?set TPU_NAME to the TPU VM name}"
: "${ZONE:?set ZONE to the TPU VM zone}"
REPO_DIR="${REPO_DIR:-~/flan-jax}"
PYTHON="${PYTHON:-python3}"
COMMAND="${COMMAND:-train}"

quoted=$(printf '%q ' "${args[@]}")
remote="cd ${REPO_DIR} && TF_CPP_MIN_LOG_LEVEL=2 ${PYTHON} -m flan_jax.cli ${COMMAND} --distributed --no_progress ${quoted}"
cmd=(gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone="$ZONE" --worker=all)
if [[ -n "${PROJECT:-}" ]]; then cmd+=(--project="$PROJECT"); fi
cmd+=(--command="$remote")

echo "+ ${cmd[*]}"
if [[ "$dry_run" == 1 ]]; then exit 0; fi
exec "${cmd[@]}"
