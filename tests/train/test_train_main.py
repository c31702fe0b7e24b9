"""`python -m flan_jax.train`: flags, a CPU smoke run, and errors that name what to fix."""
import os
import pathlib
import subprocess
import sys

import gin
import pytest

import tiny_setup

# Runs against the model engineer's flan_jax.models (skipped only while it is absent).
pytest.importorskip("flan_jax.models.model")
from flan_jax.train import main  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent


def test_gin_dot_flags_become_bindings_and_search_paths_include_the_repo():
    flags = main.parse_flags(
        ["--gin_file=runs/finetune.gin", "--gin.MODEL_DIR='runs/x'", "--gin_bindings=BATCH_SIZE = 8", "--gin_search_paths=/a,/b"]
    )
    assert flags.gin_file == ["runs/finetune.gin"]
    assert flags.gin_bindings == ["BATCH_SIZE = 8", "MODEL_DIR = 'runs/x'"]
    assert flags.gin_search_paths == ["/a", "/b", ".", str(REPO / "gin"), str(REPO)]


def test_smoke_run_of_debug_cpu_gin(tmp_path):
    """The CLI trains the tiny T5 for a few steps and leaves config.gin, events and checkpoints."""
    model_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    command = [
        sys.executable, "-m", "flan_jax.train",
        "--gin_file=runs/debug_cpu.gin", "--gin_file=models/t5_1_1/tiny.gin",
        f"--gin.MODEL_DIR='{model_dir}'",
        "--gin.MIXTURE_OR_TASK_MODULE='tiny_tasks'",
        f"--gin.MIXTURE_OR_TASK_NAME='{tiny_setup.TASK_NAME}'",
        "--gin.TRAIN_STEPS=4", "--gin.CHECKPOINT_PERIOD=2", "--gin.LOG_PERIOD=2",
        '--gin.TASK_FEATURE_LENGTHS={"inputs": 32, "targets": 16}',
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "loss per target token: first" in done.stdout
    config = (model_dir / "config.gin").read_text()
    assert "TRAIN_STEPS = 4" in config and "train.train_steps = %TRAIN_STEPS" in config
    assert "network.T5Config" in config
    assert list(model_dir.glob("events.out.tfevents.*"))
    assert (model_dir / "checkpoints" / "4" / "params").is_dir()
    assert "total parameters" in (model_dir / "parameters.txt").read_text()


def test_infer_eval_gin_gives_train_the_suite(fresh_gin, clean_registries):
    """gin/runs/infer_eval.gin binds train.infer_eval to EVAL_SUITE with the eval options."""
    tiny_setup.register()
    gin.parse_config_files_and_bindings(
        ["runs/finetune.gin", "runs/infer_eval.gin", "models/t5_1_1/tiny.gin"],
        [f"EVAL_SUITE = '{tiny_setup.TASK_NAME}'", "EVAL_MAX_EXAMPLES = 16", "MODEL_DIR = 'unused'",
         "MIXTURE_OR_TASK_NAME = 'unused'"],
    )
    infer_eval = gin.query_parameter("train.infer_eval").scoped_configurable_fn()
    assert infer_eval.suite == tiny_setup.TASK_NAME and infer_eval.max_examples == 16
    assert infer_eval.task_feature_lengths == gin.query_parameter("%TASK_FEATURE_LENGTHS")


def _tiny_args(tmp_path, *extra):
    return [
        "--gin_file=runs/debug_cpu.gin", "--gin_file=models/t5_1_1/tiny.gin",
        f"--gin.MODEL_DIR='{tmp_path / 'run'}'", "--gin.MIXTURE_OR_TASK_MODULE=None",
        "--gin.TRAIN_STEPS=1", "--no_progress", *extra,
    ]


def test_unknown_task_name_suggests_close_names(tmp_path, clean_registries, fresh_gin, capsys):
    tiny_setup.register()
    assert main.main(_tiny_args(tmp_path, "--gin.MIXTURE_OR_TASK_NAME='tiny_revers'")) == 1
    error = capsys.readouterr().err
    assert "No seqio task or mixture named 'tiny_revers'" in error and "Did you mean: tiny_reverse" in error


def test_gin_typo_names_the_file_and_line(tmp_path, fresh_gin, capsys):
    typo = tmp_path / "typo.gin"
    typo.write_text("include 'runs/finetune.gin'\n\ntrain.modle_dir = 'x'\n")
    assert main.main([f"--gin_file={typo}"]) == 1
    error = capsys.readouterr().err
    assert "modle_dir" in error and str(typo) in error and "line 3" in error


def test_unwritable_model_dir_is_reported(tmp_path, clean_registries, fresh_gin, capsys):
    tiny_setup.register()
    (tmp_path / "file").write_text("")
    args = _tiny_args(tmp_path, f"--gin.MIXTURE_OR_TASK_NAME='{tiny_setup.TASK_NAME}'", f"--gin.MODEL_DIR='{tmp_path / 'file' / 'run'}'")
    assert main.main(args) == 1
    assert "is not writable" in capsys.readouterr().err


def test_task_module_that_cannot_be_imported_is_named(tmp_path, fresh_gin, capsys):
    args = _tiny_args(tmp_path, "--gin.MIXTURE_OR_TASK_MODULE='no_such_tasks_module'", "--gin.MIXTURE_OR_TASK_NAME='x'")
    assert main.main(args) == 1
    assert "MIXTURE_OR_TASK_MODULE='no_such_tasks_module' could not be imported" in capsys.readouterr().err


def test_missing_gin_file_is_an_error(fresh_gin, capsys):
    assert main.main([]) == 1
    assert "No --gin_file given" in capsys.readouterr().err


def test_train_reads_a_flan_jax_cache_through_seqio_additional_cache_dirs(tmp_path, clean_registries, fresh_gin, capsys, monkeypatch):
    """`flan-jax cache` (Beam DirectRunner) writes a task; USE_CACHED_TASKS finds it only through the flag."""
    pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install 'flan-jax[beam]')")
    import types

    import seqio

    from flan_jax.data import cache

    name = "tiny_reverse_cacheable"
    monkeypatch.setitem(sys.modules, "tiny_cache_tasks", types.ModuleType("tiny_cache_tasks"))
    saved_cache_dirs = list(seqio.get_global_cache_dirs())
    cache_dir = tmp_path / "seqio_cache"
    try:
        tiny_setup.register(name, cacheable=True)
        assert cache.main([name, "--output", str(cache_dir), "--module", "tiny_cache_tasks"]) == 0
        assert (cache_dir / seqio.get_task_dir_from_name(name) / "COMPLETED").exists()
        # A fresh run: seqio knows neither the cache directory nor a task that found it.
        seqio.set_global_cache_dirs(saved_cache_dirs)
        seqio.TaskRegistry.remove(name)
        tiny_setup.register(name, cacheable=True)
        args = _tiny_args(tmp_path, f"--gin.MIXTURE_OR_TASK_NAME='{name}'", "--gin.USE_CACHED_TASKS=True",
                          "--gin.TRAIN_STEPS=2", "--gin.CHECKPOINT_PERIOD=2", '--gin.TASK_FEATURE_LENGTHS={"inputs": 32, "targets": 16}')
        assert main.main(args) == 1
        error = capsys.readouterr().err
        assert f"USE_CACHED_TASKS = True but 1 task(s) of '{name}' have no completed cache" in error and f"({name})" in error
        assert "--seqio_additional_cache_dirs=DIR" in error
        seqio.TaskRegistry.remove(name)
        tiny_setup.register(name, cacheable=True)
        gin.clear_config()
        assert main.main(args + [f"--seqio_additional_cache_dirs={cache_dir}"]) == 0, capsys.readouterr().err[-3000:]
        assert seqio.TaskRegistry.get(name).cache_dir == str(cache_dir / seqio.get_task_dir_from_name(name))
        assert (tmp_path / "run" / "checkpoints" / "2" / "params").is_dir()
    finally:
        seqio.set_global_cache_dirs(saved_cache_dirs)


def test_cache_dirs_come_from_the_flag_and_the_gin_macro(fresh_gin):
    import seqio

    from flan_jax import gin_flags

    saved = list(seqio.get_global_cache_dirs())
    try:
        gin_flags.parse_gin(["runs/finetune.gin"], ["SEQIO_ADDITIONAL_CACHE_DIRS = ['/gin/cache', '/flag/b']"],
                            [str(gin_flags.REPO_GIN_DIR)])
        assert gin_flags.add_cache_dirs(["/flag/a", "/flag/b"]) == ["/flag/a", "/flag/b", "/gin/cache"]
        assert {"/flag/a", "/flag/b", "/gin/cache"} <= set(seqio.get_global_cache_dirs())
    finally:
        seqio.set_global_cache_dirs(saved)


@pytest.mark.parametrize("launcher", ["gpu_slurm.sbatch", "tpu_vm.sh"])
def test_multi_host_launchers_run_train_or_eval(launcher):
    """--dry_run prints the command: train by default, `COMMAND=eval` for multi-host evaluation."""
    base = dict(os.environ, TPU_NAME="my-tpu", ZONE="us-central2-b")
    base.pop("COMMAND", None)
    for command, env in (("train", base), ("eval", dict(base, COMMAND="eval"))):
        done = subprocess.run(["bash", str(REPO / "launch" / launcher), "--dry_run", "--gin_file=runs/eval.gin"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"-m flan_jax.cli {command} --distributed --no_progress --gin_file=runs/eval.gin" in done.stdout
