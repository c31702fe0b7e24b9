"""t5x's flags and gin parsing (`flan_jax.gin_flags`): aliases, one-line errors, unused macros, quiet logs."""
import logging
import os
import subprocess
import sys

import pytest
import seqio

from flan_jax import console, gin_flags

REPO = gin_flags.REPO_GIN_DIR.parent


def _flags(*argv):
    return gin_flags.parse(gin_flags.make_parser("flan-jax test", "test"), list(argv))


def test_t5x_flag_names_are_aliases():
    t5x = _flags("--gin_file=x.gin", "--multiprocess_gpu", "--coordinator_address=h:1", "--process_count=4",
                 "--process_index=2", "--tfds_data_dir=/data/tfds")
    ours = _flags("--gin_file=x.gin", "--distributed", "--coordinator_address=h:1", "--num_processes=4", "--process_id=2")
    assert (t5x.distributed, t5x.num_processes, t5x.process_id) == (ours.distributed, ours.num_processes, ours.process_id) == (True, 4, 2)
    assert t5x.tfds_data_dir == "/data/tfds" and ours.tfds_data_dir is None


def test_tfds_data_dir_is_where_every_task_looks(tmp_path, fresh_gin, monkeypatch):
    from flan_jax.data import sources

    monkeypatch.setattr(seqio.utils, "_TFDS_DATA_DIR_OVERRIDE", None)
    flags = _flags("--gin_file=runs/finetune.gin", "--gin.MODEL_DIR='x'", "--gin.MIXTURE_OR_TASK_NAME='x'",
                   f"--tfds_data_dir={tmp_path}")
    gin_flags.setup(flags)
    reason = sources.unavailable_reason(seqio.TfdsDataSource("glue/rte:2.0.0"))
    assert f"is not prepared in {tmp_path} " in reason


def test_gin_files_resolve_from_any_directory(tmp_path, monkeypatch):
    """README's `--gin_file=gin/runs/finetune.gin` works outside the repository root."""
    monkeypatch.chdir(tmp_path)
    paths = _flags("--gin_file=x").gin_search_paths
    assert gin_flags.find_gin_file("gin/runs/finetune.gin", paths) == str(REPO / "gin" / "runs" / "finetune.gin")
    assert gin_flags.find_gin_file("runs/finetune.gin", paths) == str(REPO / "gin" / "runs" / "finetune.gin")


def test_missing_gin_file_names_the_paths_tried(fresh_gin):
    with pytest.raises(gin_flags.GinConfigError, match=r"--gin_file=runs/finetun.gin: no such file; tried "
                                                       r"\./runs/finetun.gin, .*gin/runs/finetun.gin"):
        gin_flags.parse_gin(["runs/finetun.gin"], [], [".", str(gin_flags.REPO_GIN_DIR)])


@pytest.mark.parametrize("flag, expected", [
    ("--gin.MODEL_DIR=/tmp/x", "gin cannot read --gin.MODEL_DIR=/tmp/x: Unable to parse value.; strings need quotes: "
                               "--gin.MODEL_DIR=\"'/tmp/x'\"."),
    ("--gin.MODEL_DIR=runs/x", "gin cannot read --gin.MODEL_DIR=runs/x: Failed to parse token 'runs'; strings need "
                               "quotes: --gin.MODEL_DIR=\"'runs/x'\"."),
    ('--gin.TASK_FEATURE_LENGTHS={"inputs": 8', "gin cannot read --gin.TASK_FEATURE_LENGTHS={\"inputs\": 8: "
                                               "EOF in multi-line statement; a bracket or quote is not closed."),
])
def test_syntax_error_in_a_flag_is_one_line_with_the_fix(flag, expected, fresh_gin):
    flags = _flags("--gin_file=runs/finetune.gin", flag)
    with pytest.raises(gin_flags.GinConfigError) as error:
        gin_flags.parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths, flags.gin_binding_flags)
    assert str(error.value) == expected


def test_syntax_error_in_a_file_names_the_file_line_and_fix(tmp_path, fresh_gin):
    bad = tmp_path / "bad.gin"
    bad.write_text("include 'runs/finetune.gin'\n\n# the output\nMODEL_DIR = /tmp/x\nBATCH_SIZE = 8\n")
    with pytest.raises(gin_flags.GinConfigError) as error:
        gin_flags.parse_gin([str(bad)], [], [str(gin_flags.REPO_GIN_DIR)])
    assert str(error.value) == (f"gin cannot read {bad}, line 4 (MODEL_DIR = /tmp/x): Unable to parse value.; "
                                "strings need quotes: MODEL_DIR = '/tmp/x'.")


def test_macros_set_by_flags_that_nothing_reads_are_named(fresh_gin, caplog):
    flags = _flags("--gin_file=runs/finetune.gin", "--gin_file=models/t5_1_1/tiny.gin", "--gin.TRAIN_STEP=5",
                   "--gin.TRAIN_STEPS=7", "--gin.EVAL_SUITE='mmlu'", "--gin_bindings=BATCH_SIZE = 4")
    gin_flags.parse_gin(flags.gin_file, flags.gin_bindings, flags.gin_search_paths, flags.gin_binding_flags)
    with caplog.at_level(logging.WARNING):
        unused = gin_flags.warn_unused_macros(flags.gin_bindings, flags.gin_binding_flags)
    # TRAIN_STEPS and BATCH_SIZE are read by finetune.gin, EVAL_SUITE by the command line.
    assert unused == ["--gin.TRAIN_STEP=5"]
    assert "--gin.TRAIN_STEP=5 sets the gin macro TRAIN_STEP, but no gin binding reads it" in caplog.text
    assert "did you mean TRAIN_STEPS" in caplog.text


def test_every_macro_the_command_line_reads_is_declared():
    """`COMMAND_MACROS` (what makes a flag-set macro "used") lists every `macro("X")` of the commands."""
    import re

    read = set()
    for path in (REPO / "flan_jax").rglob("*.py"):
        read |= set(re.findall(r"""macro\(["']([A-Z_]+)["']""", path.read_text()))
    read.add(gin_flags.CACHE_DIRS_MACRO)
    assert read <= gin_flags.COMMAND_MACROS, sorted(read - gin_flags.COMMAND_MACROS)


def test_terminal_shows_our_warnings_and_others_errors_the_log_holds_everything(tmp_path, capsys):
    console.setup()
    try:
        log = console.log_to(tmp_path / "run")
        logging.warning("ours: a warning")  # logged from this file: not ours, so log only
        logging.getLogger("absl").info("orbax: saved")
        logging.getLogger("absl").error("orbax: failed")
        from flan_jax.data import mixing

        mixing._note_left_out("tiny_mixture", "Mixture 'tiny_mixture': leaving out x")
        assert mixing.warn_left_out("tiny_mixture") == ["Mixture 'tiny_mixture': leaving out x"]
        assert mixing.warn_left_out("tiny_mixture") == []  # once per process
        assert not log.exists()  # nothing is created for a run that never made its directory
        (tmp_path / "run").mkdir()
        logging.info("after the run made its directory")
    finally:
        console.finish()
        mixing._LEFT_OUT.pop("tiny_mixture", None)
    terminal = capsys.readouterr().err
    assert terminal.splitlines() == ["ERROR: orbax: failed", "WARNING: Mixture 'tiny_mixture': leaving out x"]
    text = log.read_text()
    for line in ("ours: a warning", "INFO absl: orbax: saved", "ERROR absl: orbax: failed", "leaving out x",
                 "after the run made its directory"):
        assert line in text


def test_native_stderr_goes_to_the_log_python_stderr_to_the_terminal(tmp_path):
    """C++ libraries write to file descriptor 2 directly: captured into the log, Python's own text passes."""
    code = (
        "import logging, os, sys\n"
        "from flan_jax import console\n"
        "console.setup(); console.log_to(sys.argv[1])\n"
        "with console.native_stderr_to_log():\n"
        "    os.write(2, b'I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "    print('python text', file=sys.stderr)\n"
        "console.finish()\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "python text\n"
    assert "INFO native: I0000 00:00:1.0 1 port.cc:153] oneDNN" in (tmp_path / "log.txt").read_text()
