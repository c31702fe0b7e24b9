"""`flan-jax score`: gold answers score 100, nothing scores 0, bad files fail naming the fault."""
import json

import pytest

from flan_jax.eval import benchmarks, metrics, score


def _write(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _gold_records(benchmark, directory):
    return [
        {"subtask": s, "index": i, "prediction": answers[0]}
        for s in benchmarks.subtasks(benchmark, directory)
        for i, answers in enumerate(benchmarks.gold_answers(benchmark, s, directory))
    ]


@pytest.mark.parametrize("benchmark", metrics.BENCHMARKS)
def test_gold_answers_score_100_and_empty_scores_0(benchmark, data_dirs, tmp_path, capsys):
    directory = str(data_dirs[benchmark])
    gold = _write(tmp_path / "gold.jsonl", _gold_records(benchmark, directory))
    output = tmp_path / "scores.json"
    argv = ["--benchmark", benchmark, "--data-dir", directory, "--output", str(output)]
    assert score.main(argv + ["--predictions", str(gold)]) == 0
    written = json.loads(output.read_text())
    assert written["average"] == 100.0
    assert set(written["subtasks"].values()) == {100.0} and written["missing"] == {}
    assert f"| **average** | 100.00 |" in capsys.readouterr().out

    empty = _write(tmp_path / "empty.jsonl", [])
    assert score.main(argv + ["--predictions", str(empty)]) == 0
    written = json.loads(output.read_text())
    assert written["average"] == 0.0 and set(written["subtasks"].values()) == {0.0}
    assert sum(written["missing"].values()) == sum(written["num_examples"].values())
    assert "counted as wrong" in capsys.readouterr().out


def test_cot_outputs_are_extracted(data_dirs):
    records = [
        {"subtask": "abstract_algebra", "index": 0, "prediction": "Let's think step by step. ... The answer is (B)."},
        {"subtask": "abstract_algebra", "index": 1, "prediction": "The answer is (A)."},  # gold C
    ]
    summary = score.score_predictions("mmlu_cot", records, data_dirs["mmlu"])
    assert summary.subtasks["abstract_algebra"] == pytest.approx(100 / 100)
    assert summary.missing["abstract_algebra"] == 98
    assert set(summary.categories) == {"STEM", "humanities", "social sciences", "other"}
    assert summary.random_score == 25.0


def test_tydiqa_average_leaves_english_out(data_dirs):
    records = [r for r in _gold_records("tydiqa", data_dirs["tydiqa"]) if r["subtask"] != "english"]
    summary = score.score_predictions("tydiqa", records, data_dirs["tydiqa"])
    assert summary.subtasks["english"] == 0.0 and summary.average == 100.0


def test_errors_name_the_fault(data_dirs, tmp_path, capsys):
    directory = data_dirs["mgsm"]
    with pytest.raises(score.PredictionsError, match=r"unknown subtasks \['xx'\]"):
        score.score_predictions("mgsm", [{"subtask": "xx", "index": 0, "prediction": "1"}], directory)
    duplicate = [{"subtask": "de", "index": 3, "prediction": "1"}] * 2
    with pytest.raises(score.PredictionsError, match=r"duplicate predictions: de\[3\]"):
        score.score_predictions("mgsm", duplicate, directory)
    with pytest.raises(score.PredictionsError, match=r"de\[250\] \(it has 250 examples\)"):
        score.score_predictions("mgsm", [{"subtask": "de", "index": 250, "prediction": "1"}], directory)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"subtask": "de", "index": 0, "prediction": "1"}\n{"subtask": "de"}\n')
    assert score.main(["--benchmark", "mgsm", "--data-dir", str(directory), "--predictions", str(bad)]) == 1
    assert "bad.jsonl:2" in capsys.readouterr().err
