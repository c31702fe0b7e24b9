"""`flan-jax eval` pieces that need no model: suites, data directories, --dump-prompts; infer's I/O."""
import io
import json
import os

import pytest
import seqio

from flan_jax.eval import benchmarks, held_out_tasks, infer, jobs, main


def test_suite_names():
    assert jobs.suite_names("flan_held_out") == ["flan_held_out"]
    assert jobs.suite_names("mmlu, bbh_cot") == ["mmlu", "bbh_cot"]
    assert jobs.suite_names(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="EVAL_SUITE is empty"):
        jobs.suite_names(" , ")


def test_data_dirs_are_registration_arguments(clean_registries, data_dirs, monkeypatch):
    """EVAL_DATA_DIRS registers the benchmarks from those directories, never through os.environ."""
    from flan_jax_tasks import held_out

    monkeypatch.setenv("FLAN_JAX_BBH_DIR", "/before")  # restored (to unset) after the test
    names = held_out.register_data_dirs({"bbh": data_dirs["bbh"], "tydiqa": None})
    assert os.environ["FLAN_JAX_BBH_DIR"] == "/before"
    assert "bbh_navigate" in names and "bbh_cot" in names and names[-1] == "flan_held_out"
    assert held_out_tasks.benchmark_of("bbh_navigate").data_dir == str(data_dirs["bbh"])
    assert not any(name.startswith("tydiqa") for name in seqio.TaskRegistry.names())
    again = held_out.register_data_dirs({"bbh": data_dirs["bbh"]})  # replaces, never registers twice
    assert len(seqio.get_mixture_or_task("flan_held_out").tasks) == len(again) - 3  # bbh, bbh_cot, the suite
    with pytest.raises(ValueError, match="EVAL_DATA_DIRS key 'bigbench'"):
        held_out.register_data_dirs({"bigbench": "/x"})


def test_dump_prompts_are_the_exact_prompts(clean_registries, data_dirs, tmp_path):
    held_out_tasks.register_benchmark("bbh_cot", data_dirs["bbh"])
    held_out_tasks.register_benchmark("tydiqa", data_dirs["tydiqa"])
    written = jobs.dump_prompts("bbh_cot_navigate,tydiqa_swahili", tmp_path)
    assert written == {"bbh_cot.jsonl": 250, "tydiqa.jsonl": 499}
    records = [json.loads(line) for line in (tmp_path / "bbh_cot.jsonl").read_text().splitlines()]
    expected = benchmarks.bbh_examples("navigate", data_dirs["bbh"], cot=True)
    assert [(r["subtask"], r["index"], r["inputs"], r["targets"]) for r in records] == [
        (e.subtask, e.index, e.inputs, e.targets) for e in expected
    ]


def test_infer_reads_inputs_and_answers_interactively(tmp_path):
    good = tmp_path / "in.jsonl"
    good.write_text('{"inputs": "hello", "id": 7}\n\n{"inputs": "bye"}\n')
    assert jobs.read_inputs(str(good)) == [{"inputs": "hello", "id": 7}, {"inputs": "bye"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"inputs": "ok"}\n{"text": "no inputs"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        jobs.read_inputs(str(bad))
    stdout = io.StringIO()
    count = jobs.interactive(lambda texts: [t.upper() for t in texts], io.StringIO("abc\nxyz\n\nignored\n"), stdout)
    assert count == 2 and stdout.getvalue() == "> ABC\n> XYZ\n> "


@pytest.mark.parametrize("command", ["train", "eval", "infer"])
def test_every_gin_command_takes_t5x_flags(command):
    """train, eval and infer share one parser (flan_jax.gin_flags): the same flags mean the same."""
    from flan_jax import gin_flags
    from flan_jax.train import main as train_main

    parse = {"train": train_main.parse_flags, "eval": main.parse_flags, "infer": infer.parse_flags}[command]
    flags = parse(["--gin_file=runs/eval.gin", "--gin.EVAL_SUITE='mmlu'", "--gin_bindings=EVAL_BATCH_SIZE = 8",
                   "--gin_search_paths=/a", "--seqio_additional_cache_dirs=/c1,/c2", "--seqio_additional_cache_dirs=/c3",
                   "--no_progress"])
    assert flags.gin_file == ["runs/eval.gin"]
    assert flags.gin_bindings == ["EVAL_BATCH_SIZE = 8", "EVAL_SUITE = 'mmlu'"]
    assert flags.gin_search_paths == ["/a", ".", str(gin_flags.REPO_GIN_DIR), str(gin_flags.REPO_GIN_DIR.parent)]
    assert flags.seqio_additional_cache_dirs == ["/c1", "/c2", "/c3"]
    assert flags.no_progress and flags.coordinator_address is None


def test_eval_names_checkpoint_path_when_the_checkpoint_is_missing(tmp_path, fresh_gin, capsys, monkeypatch):
    for variable in ("FLAN_JAX_MMLU_DIR", "FLAN_JAX_BBH_DIR", "FLAN_JAX_TYDIQA_DIR", "FLAN_JAX_MGSM_DIR"):
        monkeypatch.delenv(variable, raising=False)
    missing = tmp_path / "no_run"
    code = main.main(["--gin_file=runs/eval.gin", "--gin_file=models/t5_1_1/tiny.gin", f"--gin.CHECKPOINT_PATH='{missing}'",
                      "--gin.MIXTURE_OR_TASK_MODULE=None", "--no_progress"])
    error = capsys.readouterr().err
    assert code == 1
    assert f"flan-jax eval: error: CHECKPOINT_PATH '{missing}' does not exist" in error
    assert "INITIAL_CHECKPOINT_PATH" not in error
