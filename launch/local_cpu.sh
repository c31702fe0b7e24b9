#!/usr/bin/env bash
# Train on this machine's CPU (or its one accelerator) with `python -m flan_jax.train`.
#
#   bash launch/local_cpu.sh --gin_file=gin/runs/demo.gin
#   bash launch/local_cpu.sh --gin_file=gin/runs/debug_cpu.gin --gin_file=gin/models/t5_1_1/tiny.gin \
#     --gin.MODEL_DIR="'runs/debug'" --gin.MIXTURE_OR_TASK_NAME="'synthetic_train'"
#
# Every argument (gin files, --gin.NAME=VALUE overrides, other train flags) is passed through.
# --dry_run prints the command without running it. Environment: PYTHON (default: python),
# XLA_FLAGS (default: one host device per core, in powers of two up to 8: each XLA CPU device already
# multi-threads its matrix products, and more devices than cores only repeat the optimizer update and
# all-reduce gradients in memory, see benchmarks/RESULTS.md; set
# XLA_FLAGS=--xla_force_host_platform_device_count=8 to run the partitioning rules as on 8 accelerators).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
args=()
for arg in "$@"; do
  if [[ "$arg" == "--dry_run" ]]; then dry_run=1; else args+=("$arg"); fi
done

devices=1
while (( devices * 2 <= $(nproc) && devices < 8 )); do devices=$((devices * 2)); done
export XLA_FLAGS="${XLA_FLAGS:---xla_force_host_platform_device_count=${devices}}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
cmd=("${PYTHON:-python}" -m flan_jax.train "${args[@]}")

echo "+ XLA_FLAGS=$XLA_FLAGS ${cmd[*]}"
if [[ "$dry_run" == 1 ]]; then exit 0; fi
exec "${cmd[@]}"
