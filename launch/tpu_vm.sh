#!/usr/bin/env bash
# A Cloud TPU VM slice for flan-jax: create it and install the checkout on every worker, run
# `python -m flan_jax.cli COMMAND` on all workers (JAX finds the other hosts by itself), read the
# logs, delete it.
#
#   export TPU_NAME=my-v4-32 ZONE=us-central2-b ACCELERATOR_TYPE=v4-32 SPOT=1
#   bash launch/tpu_vm.sh setup      # creates the slice unless it exists; copies + pip-installs the checkout
#   bash launch/tpu_vm.sh run --gin_file=gin/runs/finetune.gin --gin_file=gin/models/t5_1_1/base.gin \
#     --gin.MODEL_DIR="'gs://my-bucket/flan_t5_base'" --gin.MIXTURE_OR_TASK_NAME="'flan2022'"
#   bash launch/tpu_vm.sh logs       # the run's log on worker 0 (WORKER=all: every worker)
#   bash launch/tpu_vm.sh delete
#
# Without a subcommand, `run` (the arguments go to flan-jax). --dry_run prints every gcloud
# command instead of running it (`setup` then assumes the slice does not exist yet).
#
# Required: TPU_NAME, ZONE. Optional: PROJECT; COMMAND (train, the default, or eval / infer);
# REPO_DIR (the checkout on the workers, default ~/flan-jax); PYTHON (default python3);
# LOG_FILE (on each worker, default ~/flan-jax.log); DETACH=1 (`run` keeps going on the workers
# after this terminal closes: nohup, output only in LOG_FILE).
# For `setup`: ACCELERATOR_TYPE (e.g. v4-32, v5litepod-64), RUNTIME_VERSION (default
# tpu-ubuntu2204-base), SPOT=1 or PREEMPTIBLE=1, REPO_URL (clone it on every worker; default: copy
# this checkout's committed HEAD with `git archive`).
#
# MODEL_DIR must be a path every worker can write: a gs:// bucket in the slice's region. The TFDS
# datasets the mixture reads must be prepared in a bucket too (`tfds build NAME
# --data_dir=gs://my-bucket/tfds`); set TFDS_DATA_DIR=gs://my-bucket/tfds here and `run` passes it
# to every worker. A spot slice about to be preempted gets SIGTERM: training saves a checkpoint
# and exits 0; `setup` then `run` again (same MODEL_DIR) resumes from it.
set -euo pipefail

dry_run=0
subcommand=run
args=()
for arg in "$@"; do
  if [[ "$arg" == "--dry_run" ]]; then dry_run=1; else args+=("$arg"); fi
done
if (( ${#args[@]} )) && [[ "${args[0]}" =~ ^(setup|run|logs|delete)$ ]]; then
  subcommand="${args[0]}"
  args=("${args[@]:1}")
fi
: "${TPU_NAME:?set TPU_NAME to the TPU VM name}"
: "${ZONE:?set ZONE to the TPU VM zone}"
REPO_DIR="${REPO_DIR:-~/flan-jax}"
PYTHON="${PYTHON:-python3}"
COMMAND="${COMMAND:-train}"
LOG_FILE="${LOG_FILE:-~/flan-jax.log}"

# `gcloud compute tpus tpu-vm VERB FIRST ...` with the zone and project after FIRST (the slice's name
# for most verbs); printed, and run unless --dry_run.
tpu() {
  local verb="$1" first="$2"
  shift 2
  local cmd=(gcloud compute tpus tpu-vm "$verb" "$first" --zone="$ZONE")
  if [[ -n "${PROJECT:-}" ]]; then cmd+=(--project="$PROJECT"); fi
  cmd+=("$@")
  echo "+ ${cmd[*]}"
  if [[ "$dry_run" == 0 ]]; then "${cmd[@]}"; fi
}

on_all_workers() { tpu ssh "$TPU_NAME" --worker=all --command="$1"; }

# Whether the slice exists (gcloud prints its state); a dry run prints the check and assumes it does not.
exists() { tpu describe "$TPU_NAME" --format="value(state)" 2>/dev/null && [[ "$dry_run" == 0 ]]; }

setup() {
  if exists; then
    echo "TPU VM $TPU_NAME exists in $ZONE: not creating it."
  else
    : "${ACCELERATOR_TYPE:?set ACCELERATOR_TYPE (e.g. v4-32) to create the TPU VM}"
    local create=(--accelerator-type="$ACCELERATOR_TYPE" --version="${RUNTIME_VERSION:-tpu-ubuntu2204-base}")
    if [[ "${SPOT:-0}" == 1 ]]; then create+=(--spot); elif [[ "${PREEMPTIBLE:-0}" == 1 ]]; then create+=(--preemptible); fi
    tpu create "$TPU_NAME" "${create[@]}"
  fi
  if [[ -n "${REPO_URL:-}" ]]; then
    on_all_workers "git clone ${REPO_URL} ${REPO_DIR} || git -C ${REPO_DIR} pull --ff-only"
  else
    local archive="${TMPDIR:-/tmp}/flan-jax-${TPU_NAME}.tar.gz"
    echo "+ git -C $(dirname "$0")/.. archive --format=tar.gz -o $archive HEAD"
    if [[ "$dry_run" == 0 ]]; then git -C "$(dirname "$0")/.." archive --format=tar.gz -o "$archive" HEAD; fi
    tpu scp "$archive" "$TPU_NAME:/tmp/flan-jax.tar.gz" --worker=all
    on_all_workers "mkdir -p ${REPO_DIR} && tar -xzf /tmp/flan-jax.tar.gz -C ${REPO_DIR}"
  fi
  on_all_workers "cd ${REPO_DIR} && ${PYTHON} -m pip install -q -e . 'jax[tpu]'"
}

run() {
  local quoted
  quoted=$(printf '%q ' "${args[@]}")
  local flan_jax="${PYTHON} -m flan_jax.cli ${COMMAND} --distributed --no_progress ${quoted}"
  local env="TF_CPP_MIN_LOG_LEVEL=2"
  if [[ -n "${TFDS_DATA_DIR:-}" ]]; then env+=" TFDS_DATA_DIR=${TFDS_DATA_DIR}"; fi
  if [[ "${DETACH:-0}" == 1 ]]; then
    on_all_workers "cd ${REPO_DIR} && ${env} nohup ${flan_jax}> ${LOG_FILE} 2>&1 &"
  else
    on_all_workers "set -o pipefail; cd ${REPO_DIR} && ${env} ${flan_jax}2>&1 | tee ${LOG_FILE}"
  fi
}

case "$subcommand" in
  setup) setup ;;
  run) run ;;
  logs) tpu ssh "$TPU_NAME" --worker="${WORKER:-0}" --command="tail -n ${LOG_LINES:-200} -f ${LOG_FILE}" ;;
  delete) tpu delete "$TPU_NAME" --quiet ;;
esac
