"""A tiny randomly initialised T5 through `flan-jax eval`: its scores equal `flan-jax score` on the predictions it wrote.

One checkpoint per module; the CLI runs in a subprocess (a fresh task registry that reads the
data directories given by gin, as a user's run does).
"""
import json
import os
import subprocess
import sys

import jax
import pytest
from flax import linen as nn

model_lib = pytest.importorskip("flan_jax.models.model")

from flan_jax.data import features, vocabularies  # noqa: E402
from flan_jax.eval import evaluator, held_out_tasks, jobs, score  # noqa: E402
from flan_jax.models import t5  # noqa: E402
from flan_jax.train import checkpoints  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LENGTHS = {"inputs": 128, "targets": 16}
CONFIG = dict(vocab_size=384, emb_dim=32, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, head_dim=16, mlp_dim=64)


def _tiny_model():
    vocabulary = vocabularies.byte_vocabulary()
    return model_lib.EncoderDecoderModel(t5.Transformer(t5.T5Config(**CONFIG)), vocabulary, vocabulary)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = _tiny_model()
    shapes = features.model_input_shapes(model.FEATURE_CONVERTER_CLS, LENGTHS, pack=False)
    params = nn.meta.unbox(model.get_initial_variables(jax.random.PRNGKey(0), shapes)["params"])
    path = tmp_path_factory.mktemp("tiny") / "checkpoints" / "7"
    checkpoints.save_params(path, params)
    return path


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, shared_data):
    """A few examples of MGSM (2 languages) and BBH (2 tasks), in the original layouts."""
    root = tmp_path_factory.mktemp("data")
    (root / "mgsm").mkdir()
    for lang in ("de", "sw"):
        rows = (shared_data / "mgsm" / f"mgsm_{lang}.tsv").read_text(encoding="utf-8").splitlines()[:3]
        (root / "mgsm" / f"mgsm_{lang}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "bbh" / "bbh").mkdir(parents=True)
    (root / "bbh" / "cot-prompts").mkdir()
    for task in ("boolean_expressions", "sports_understanding"):
        data = json.loads((shared_data / "bbh" / "bbh" / f"{task}.json").read_text())
        data["examples"] = data["examples"][:5]
        (root / "bbh" / "bbh" / f"{task}.json").write_text(json.dumps(data))
        prompt = (shared_data / "bbh" / "cot-prompts" / f"{task}.txt").read_text()
        (root / "bbh" / "cot-prompts" / f"{task}.txt").write_text(prompt)
    return {"mgsm": root / "mgsm", "bbh": root / "bbh", "gsm8k_train_file": shared_data / "gsm8k" / "train.jsonl"}


def _model_gin(path) -> str:
    """A model gin file for CONFIG (the t5x layout of gin/models/t5_1_1/*.gin)."""
    sizes = "\n".join(f"  {k} = {v}" for k, v in CONFIG.items())
    path.write_text(
        "MODEL = @models.EncoderDecoderModel()\n"
        "models.EncoderDecoderModel:\n  module = @network.Transformer()\n"
        "  input_vocabulary = @vocabularies.byte_vocabulary()\n  output_vocabulary = @vocabularies.byte_vocabulary()\n"
        f"network.Transformer.config = @network.T5Config()\nnetwork.T5Config:\n{sizes}\n"
    )
    return str(path)


def test_eval_cli_matches_score(checkpoint, small_data, tmp_path):
    output = tmp_path / "eval"
    dirs = {k: str(v) for k, v in small_data.items()}
    command = [
        sys.executable, "-m", "flan_jax.eval.main", "--gin_file=gin/runs/eval.gin",
        f"--gin_file={_model_gin(tmp_path / 'tiny_model.gin')}",
        f"--gin.CHECKPOINT_PATH='{checkpoint.parent}'", "--gin.EVAL_SUITE='mgsm,bbh,bbh_cot'",
        f"--gin.EVAL_OUTPUT_DIR='{output}'", f"--gin.TASK_FEATURE_LENGTHS={LENGTHS}",
        f"--gin.EVAL_DATA_DIRS={dirs}", "--gin.EVAL_BATCH_SIZE=4", "--no_progress",
        f"--dump-prompts={tmp_path / 'prompts'}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAN_JAX_")}
    # Tests run offline: Hugging Face lookups made while other collections register fail at once.
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| **average** |" in done.stdout and "(step 7)" in done.stdout
    # Per evaluated step (another step's results go beside them), saying what was measured.
    results = json.loads((output / "7" / "results.json").read_text())
    assert set(results["benchmarks"]) == {"mgsm", "bbh", "bbh_cot"}
    run = results["run"]
    assert run["step"] == 7 and run["checkpoint"] == str(checkpoint / "params") and run["suite"] == "mgsm,bbh,bbh_cot"
    assert run["decode"]["method"] == "greedy" and run["task_feature_lengths"] == LENGTHS and run["time"]
    assert "T5Config.emb_dim = 32" in run["gin_config"] and "evaluate.suite = %EVAL_SUITE" in run["gin_config"]
    assert (output / "7" / "results.md").read_text().startswith("step: 7; checkpoint: ")
    assert "INFO" in (output / "log.txt").read_text()  # library logs beside the results, not on the terminal
    for benchmark, directory in (("mgsm", small_data["mgsm"]), ("bbh", small_data["bbh"]), ("bbh_cot", small_data["bbh"])):
        records = score.read_predictions(output / "7" / "predictions" / f"{benchmark}.jsonl")
        scored = score.score_predictions(benchmark, records, directory)
        assert scored.missing == {}
        assert scored.subtasks == pytest.approx(results["benchmarks"][benchmark]["subtasks"])
        assert scored.average == pytest.approx(results["benchmarks"][benchmark]["average"])
        prompts = [json.loads(line) for line in (tmp_path / "prompts" / f"{benchmark}.jsonl").read_text().splitlines()]
        assert [(p["subtask"], p["index"]) for p in prompts] == [(r["subtask"], r["index"]) for r in records]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(output))


def test_rank_classification_and_infer_with_the_tiny_model(clean_registries, checkpoint, small_data):
    model = _tiny_model()
    held_out_tasks.register_benchmark("bbh", small_data["bbh"])
    params, step = jobs.restore(model, str(checkpoint), LENGTHS)
    assert step == 7
    results = evaluator.evaluate(model, params, "bbh", task_feature_lengths=LENGTHS, batch_size=4, rank_classification=True)
    for name in ("bbh_boolean_expressions", "bbh_sports_understanding"):
        result = results.tasks[name]
        assert result.rank_classification and result.num_examples == 5
        options = {"True", "False"} if "boolean" in name else {"yes", "no"}
        assert {r["prediction"] for r in result.predictions} <= options  # always one of the options
    outputs = jobs.infer(model=model, checkpoint_path=str(checkpoint), task_feature_lengths=LENGTHS,
                          prompts=["What is 2 + 2?", "Name a colour."], show_progress=False)
    assert [o["inputs"] for o in outputs] == ["What is 2 + 2?", "Name a colour."]
    assert all(isinstance(o["prediction"], str) for o in outputs)
    # The same inputs give the same (greedy) outputs through the evaluator's own path.
    again = evaluator.predict_texts(model, params, ["What is 2 + 2?"], task_feature_lengths=LENGTHS)
    assert again == [outputs[0]["prediction"]]


def test_results_go_per_step_and_never_inside_a_checkpoint(tmp_path):
    """Default MODEL_DIR/eval/<step>/: checkpoint rotation deletes step directories, and results with them."""
    for step in (10, 20):
        checkpoints.save_params(tmp_path / "run" / "checkpoints" / str(step), {"w": jax.numpy.zeros(2)})
    checkpoints.save_params(tmp_path / "converted", {"w": jax.numpy.zeros(2)})
    run = tmp_path / "run"
    for given in (run, run / "checkpoints", run / "checkpoints" / "20", run / "checkpoints" / "10"):
        assert jobs.model_dir_of(given) == run
        assert jobs.results_root(given, None) == run / "eval"
    assert jobs.results_root(tmp_path / "converted", None) == tmp_path / "converted" / "eval"
    assert jobs.results_root(run, str(tmp_path / "mine")) == tmp_path / "mine"
    with pytest.raises(ValueError, match=r"EVAL_OUTPUT_DIR .*checkpoints/10/eval.* is inside .*checkpoints.*: training "
                                         r"deletes old step directories"):
        jobs.results_root(run / "checkpoints" / "10", str(run / "checkpoints" / "10" / "eval"))


def test_evaluate_refuses_lengths_before_restoring(tmp_path):
    with pytest.raises(ValueError, match=r"TASK_FEATURE_LENGTHS = \{'inputs': 64\}: 'targets' is missing"):
        jobs.evaluate(model=_tiny_model(), checkpoint_path=str(tmp_path / "absent"), suite="mgsm", output_dir=None,
                      task_feature_lengths={"inputs": 64})
    with pytest.raises(ValueError, match="'targets' is 0"):
        jobs.infer(model=_tiny_model(), checkpoint_path=str(tmp_path / "absent"), task_feature_lengths={"inputs": 8, "targets": 0})
