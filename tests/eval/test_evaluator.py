"""The evaluator on registered held-out tasks with a stand-in model: its scores equal `flan-jax score`'s."""
import json

import pytest

from flan_jax.eval import batching, benchmarks, evaluator, held_out_tasks, report, score
from fake_eval_model import PARAMS, EchoModel

LENGTHS = {"inputs": 4096, "targets": 48}  # the echoed tail holds the question's end


@pytest.fixture
def mgsm_dir(tmp_path):
    """Two languages whose questions end in a number: the echo model's last number is that one."""
    directory = tmp_path / "mgsm"
    directory.mkdir()
    (directory / "mgsm_aa.tsv").write_text("I have 12 apples\t12\nI have 5 pears\t6\nNine is 9\t9\n")
    (directory / "mgsm_bb.tsv").write_text("Take 1,200 steps\t1200\nNo number here\t3\n")
    return directory


def test_eval_matches_score_on_its_predictions(clean_registries, mgsm_dir, data_dirs, tmp_path):
    held_out_tasks.register_benchmark("mgsm", mgsm_dir, gsm8k_train_file=data_dirs["gsm8k_train_file"])
    model = EchoModel()
    results = evaluator.evaluate(model, PARAMS, ["mgsm"], task_feature_lengths=LENGTHS, batch_size=2)
    assert results.tasks["mgsm_aa"].metrics == {"exact_match": pytest.approx(200 / 3)}
    assert results.tasks["mgsm_bb"].metrics == {"exact_match": 50.0}
    summary = results.benchmarks["mgsm"]
    assert summary.average == pytest.approx((200 / 3 + 50) / 2) and summary.random_score == 0.0
    assert results.normalized_average is None  # only one of the six benchmarks ran

    written = report.write_results(results, tmp_path / "out")
    predictions = written["predictions"] / "mgsm.jsonl"
    records = score.read_predictions(predictions)
    assert [(r["subtask"], r["index"]) for r in records] == [("aa", 0), ("aa", 1), ("aa", 2), ("bb", 0), ("bb", 1)]
    scored = score.score_predictions("mgsm", records, mgsm_dir)
    assert scored.subtasks == summary.subtasks and scored.average == summary.average
    assert json.loads(written["json"].read_text())["benchmarks"]["mgsm"]["average"] == summary.average
    markdown = written["markdown"].read_text()
    assert "| aa | 66.67 | 3 | 0 |" in markdown and "| **average** | 58.33 |" in markdown


def test_rank_classification_on_mmlu(clean_registries, data_dirs, tmp_path):
    """Scoring by sum of bytes always picks "D": accuracy is the share of gold D answers."""
    held_out_tasks.register_benchmark("mmlu", data_dirs["mmlu"])
    results = evaluator.evaluate(EchoModel(), PARAMS, ["mmlu_anatomy", "mmlu_virology"], task_feature_lengths=LENGTHS,
                                 batch_size=8, rank_classification=True)
    for subject in ("anatomy", "virology"):
        result = results.tasks[f"mmlu_{subject}"]
        golds = benchmarks.gold_answers("mmlu", subject, data_dirs["mmlu"])
        assert result.rank_classification and result.num_examples == len(golds)
        assert result.metrics["accuracy"] == pytest.approx(100 * sum(g == ("D",) for g in golds) / len(golds))
        assert {r["prediction"] for r in result.predictions} == {"D"}
    summary = results.benchmarks["mmlu"]
    assert set(summary.categories) == {"other"}  # anatomy and virology are both "other"
    assert results.tasks["mmlu_anatomy"].num_truncated == 0


def test_left_truncation_and_compiling_once(clean_registries, data_dirs):
    held_out_tasks.register_benchmark("bbh", data_dirs["bbh"])
    model = EchoModel()
    lengths = {"inputs": 64, "targets": 8}
    results = evaluator.evaluate(model, PARAMS, ["bbh_boolean_expressions", "bbh_navigate"], task_feature_lengths=lengths,
                                 batch_size=16, max_examples=20)
    first = results.tasks["bbh_boolean_expressions"]
    assert first.num_examples == 20 and first.num_truncated == 20
    # The kept end of the prompt is "...\nA:" + EOS, so the echoed tail is the prompt's last bytes.
    assert all(r["prediction"].endswith("\nA:") for r in first.predictions)
    assert model.predict_calls == 1  # one shape, one compilation across both tasks


def test_unknown_names_suggest_close_ones(clean_registries, mgsm_dir, data_dirs):
    held_out_tasks.register_benchmark("mgsm", mgsm_dir, gsm8k_train_file=data_dirs["gsm8k_train_file"])
    with pytest.raises(ValueError, match=r"Did you mean: .*mgsm_aa"):
        evaluator.evaluate(EchoModel(), PARAMS, ["mgsm_ab"], task_feature_lengths=LENGTHS)
    with pytest.raises(ValueError, match="has no split 'train'"):
        evaluator.evaluate(EchoModel(), PARAMS, "mgsm", task_feature_lengths=LENGTHS, split="train")


def test_other_tasks_table_groups_by_cluster(clean_registries):
    """Tasks outside the benchmarks (here: a registered family) get a per-task and per-cluster table."""
    import seqio
    import tensorflow as tf

    from flan_jax.data import registry, templates

    def numbers(split, shuffle_files):
        del split, shuffle_files
        return tf.data.Dataset.from_tensor_slices({"n": ["7", "8", "9", "10"]})

    registry.register_family(
        "echo_number", source=seqio.FunctionDataSource(numbers, splits=["train", "validation"]), fields=["n"],
        templates=templates.TemplateSet(templates=[templates.Template("Say {n}", "{n}")]),
        collection="synthetic", cluster="echo", formats=["zs_noopt"],
    )
    results = evaluator.evaluate(EchoModel(), PARAMS, ["echo_number_zs_noopt"], task_feature_lengths={"inputs": 32, "targets": 1},
                                 batch_size=4)
    result = results.tasks["echo_number_zs_noopt"]
    # The echo of the last input byte is the number, except for "Say 10" ("0").
    assert result.metrics == {"exact_match": 75.0} and result.split == "validation"
    markdown = report.format_markdown(results)
    assert "| echo_number_zs_noopt | validation | exact_match | 75.00 | 4 |" in markdown
    assert "| echo | 1 | 75.00 |" in markdown and results.scalars()["eval/other_tasks_average"] == 75.0


def test_rank_classification_of_a_templated_family_without_options_shown(clean_registries):
    """A family with an options_field carries its options in zs_noopt too, so its tasks can be ranked:
    scoring by sum of bytes always picks "yes" (the longer option), right on the even numbers."""
    import seqio
    import tensorflow as tf

    from flan_jax.data import registry, templates

    def numbers(split, shuffle_files):
        del split, shuffle_files
        return tf.data.Dataset.from_tensor_slices({"n": [7, 8, 9, 10]})

    registry.register_family(
        "even", source=seqio.FunctionDataSource(numbers, splits=["train", "validation"]), fields=["n", "options", "answer"],
        prepare=lambda ex: {**ex, "options": ["no", "yes"], "answer": "no" if ex["n"] % 2 else "yes"},
        templates=templates.TemplateSet(templates=[templates.Template("Is {n} even?\n{options_}", "{answer}")],
                                        options_field="options"),
        collection="synthetic", formats=["zs_noopt"],
    )
    results = evaluator.evaluate(EchoModel(), PARAMS, ["even_zs_noopt"], task_feature_lengths={"inputs": 32, "targets": 4},
                                 batch_size=4, rank_classification=True)
    result = results.tasks["even_zs_noopt"]
    assert result.rank_classification and result.metrics == {"exact_match": 50.0}
    assert [r["prediction"] for r in result.predictions] == ["yes"] * 4


def test_process_shards_cover_every_row_once():
    """Process p of n feeds rows p, p + n, ...; all run the same number of steps (each is a collective)."""
    for num_rows, count, local in [(21, 2, 4), (8, 2, 4), (5, 4, 1), (0, 2, 2), (17, 1, 8)]:
        shards = [batching.ProcessShard(index, count, local, placer=None) for index in range(count)]
        steps = {s.num_steps(num_rows) for s in shards}
        assert len(steps) == 1
        num_steps = steps.pop()
        fed = [[s.rows_of_step(num_rows, i) for i in range(num_steps)] for s in shards]
        assert all(len(rows) <= local for per_process in fed for rows in per_process)
        assert sorted(r for per_process in fed for rows in per_process for r in rows) == list(range(num_rows))
        assert all(r % count == index for index, per_process in enumerate(fed) for rows in per_process for r in rows)
    assert batching.ProcessShard(0, 2, 4, None).num_steps(21) == 3  # 11 rows for process 0: 4 + 4 + 3
