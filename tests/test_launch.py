"""launch/tpu_vm.sh subcommands and launch/gpu_slurm.sbatch: the gcloud / srun commands they print or run."""
import os
import pathlib
import subprocess

import pytest

LAUNCH = pathlib.Path(__file__).resolve().parent.parent / "launch"
TPU = {"TPU_NAME": "flan-v4-32", "ZONE": "us-central2-b"}
GCLOUD = "gcloud compute tpus tpu-vm"


def _tpu_vm(*args, env=None, check=True):
    clean = {k: v for k, v in os.environ.items() if k not in ("COMMAND", "PROJECT", "REPO_URL", "SPOT", "PREEMPTIBLE", "DETACH", "TFDS_DATA_DIR")}
    done = subprocess.run(["bash", str(LAUNCH / "tpu_vm.sh"), *args], env={**clean, **TPU, **(env or {})},
                          capture_output=True, text=True, timeout=60)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def _printed(done) -> list[str]:
    return [line[2:] for line in done.stdout.splitlines() if line.startswith("+ ")]


def test_dry_run_setup_creates_copies_and_installs_on_every_worker():
    done = _tpu_vm("setup", "--dry_run", env={"ACCELERATOR_TYPE": "v4-32", "SPOT": "1", "PROJECT": "my-project", "TMPDIR": "/tmp/x"})
    where = "--zone=us-central2-b --project=my-project"
    assert _printed(done) == [
        f"{GCLOUD} describe flan-v4-32 {where} --format=value(state)",
        f"{GCLOUD} create flan-v4-32 {where} --accelerator-type=v4-32 --version=tpu-ubuntu2204-base --spot",
        f"git -C {LAUNCH}/.. archive --format=tar.gz -o /tmp/x/flan-jax-flan-v4-32.tar.gz HEAD",
        f"{GCLOUD} scp /tmp/x/flan-jax-flan-v4-32.tar.gz {where} flan-v4-32:/tmp/flan-jax.tar.gz --worker=all",
        f"{GCLOUD} ssh flan-v4-32 {where} --worker=all --command=mkdir -p ~/flan-jax && tar -xzf /tmp/flan-jax.tar.gz -C ~/flan-jax",
        f"{GCLOUD} ssh flan-v4-32 {where} --worker=all --command=cd ~/flan-jax && python3 -m pip install -q -e . 'jax[tpu]'",
    ]
    assert not pathlib.Path("/tmp/x/flan-jax-flan-v4-32.tar.gz").exists()  # a dry run writes nothing


def test_dry_run_setup_clones_a_repo_url_on_a_preemptible_slice():
    done = _tpu_vm("setup", "--dry_run", env={"ACCELERATOR_TYPE": "v5litepod-64", "PREEMPTIBLE": "1", "RUNTIME_VERSION": "v2-alpha-tpuv5-lite",
                                              "REPO_URL": "https://github.com/me/flan-jax.git", "REPO_DIR": "/opt/flan"})
    printed = _printed(done)
    assert f"{GCLOUD} create flan-v4-32 --zone=us-central2-b --accelerator-type=v5litepod-64 --version=v2-alpha-tpuv5-lite --preemptible" in printed
    assert (f"{GCLOUD} ssh flan-v4-32 --zone=us-central2-b --worker=all --command=git clone https://github.com/me/flan-jax.git /opt/flan "
            "|| git -C /opt/flan pull --ff-only") in printed
    assert not any(" scp " in line for line in printed)


def test_setup_without_an_accelerator_type_names_the_variable():
    done = _tpu_vm("setup", "--dry_run", check=False)
    assert done.returncode != 0 and "set ACCELERATOR_TYPE" in done.stderr


@pytest.mark.parametrize("exists", [True, False])
def test_setup_creates_the_slice_only_if_gcloud_does_not_find_it(tmp_path, exists):
    """A fake `gcloud` on PATH records every call; its `describe` succeeds only when the slice 'exists'."""
    fake = tmp_path / "bin" / "gcloud"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$*" >> "$GCLOUD_CALLS"\n'
                    'case "$*" in *" describe "*) [ "$FAKE_TPU_EXISTS" = 1 ] && echo READY && exit 0; echo "NOT_FOUND" >&2; exit 1;; esac\n')
    fake.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "GCLOUD_CALLS": str(calls), "FAKE_TPU_EXISTS": str(int(exists)),
           "ACCELERATOR_TYPE": "v4-8", "TMPDIR": str(tmp_path)}
    done = _tpu_vm("setup", env=env)
    verbs = [line.split()[3] for line in calls.read_text().splitlines()]
    assert verbs == ["describe"] + ([] if exists else ["create"]) + ["scp", "ssh", "ssh"]
    assert ("exists in us-central2-b: not creating it" in done.stdout) == exists
    # The checkout's committed tree was archived for the workers.
    assert (tmp_path / "flan-jax-flan-v4-32.tar.gz").stat().st_size > 10_000


def test_run_logs_and_delete():
    run = _printed(_tpu_vm("run", "--dry_run", "--gin_file=runs/finetune.gin", "--gin.MODEL_DIR='gs://b/run x'"))
    assert run == [
        f"{GCLOUD} ssh flan-v4-32 --zone=us-central2-b --worker=all --command=set -o pipefail; cd ~/flan-jax && TF_CPP_MIN_LOG_LEVEL=2 "
        "python3 -m flan_jax.cli train --distributed --no_progress --gin_file=runs/finetune.gin --gin.MODEL_DIR=\\'gs://b/run\\ x\\' "
        "2>&1 | tee ~/flan-jax.log"
    ]
    # Without a subcommand the arguments go to `run` (the script's older usage).
    assert _printed(_tpu_vm("--dry_run", "--gin_file=runs/finetune.gin", "--gin.MODEL_DIR='gs://b/run x'")) == run
    detached = _printed(_tpu_vm("run", "--dry_run", "--gin_file=a.gin", env={"DETACH": "1", "COMMAND": "eval", "TFDS_DATA_DIR": "gs://b/tfds"}))
    assert detached[0].endswith("TF_CPP_MIN_LOG_LEVEL=2 TFDS_DATA_DIR=gs://b/tfds nohup python3 -m flan_jax.cli eval --distributed --no_progress --gin_file=a.gin > ~/flan-jax.log 2>&1 &")
    assert _printed(_tpu_vm("logs", "--dry_run", env={"WORKER": "all"})) == [
        f"{GCLOUD} ssh flan-v4-32 --zone=us-central2-b --worker=all --command=tail -n 200 -f ~/flan-jax.log"
    ]
    assert _printed(_tpu_vm("delete", "--dry_run")) == [f"{GCLOUD} delete flan-v4-32 --zone=us-central2-b --quiet"]


def test_slurm_dry_run_prints_the_srun_command_and_asks_for_sigterm_before_the_time_limit():
    env = {k: v for k, v in os.environ.items() if k != "COMMAND"}
    done = subprocess.run(["bash", str(LAUNCH / "gpu_slurm.sbatch"), "--dry_run", "--gin_file=runs/finetune.gin"],
                          env={**env, "PYTHON": "/venv/bin/python"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _printed(done) == ["srun --kill-on-bad-exit=1 /venv/bin/python -m flan_jax.cli train --distributed --no_progress --gin_file=runs/finetune.gin"]
    assert "#SBATCH --signal=TERM@120" in (LAUNCH / "gpu_slurm.sbatch").read_text().splitlines()
