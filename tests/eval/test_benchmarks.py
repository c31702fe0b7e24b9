"""The held-out benchmarks' readers and prompts, on the real files."""
import pytest

from flan_jax.eval import benchmarks


def test_mmlu_direct_prompt_has_five_dev_exemplars(data_dirs):
    directory = data_dirs["mmlu"]
    subjects = benchmarks.mmlu_subjects(directory)
    assert len(subjects) == 57 and set(subjects) == set(benchmarks.MMLU_CATEGORIES)
    dev = (directory / "data" / "dev" / "anatomy_dev.csv").read_text()
    examples = benchmarks.mmlu_examples("anatomy", directory)
    assert len(examples) == 135
    first = examples[0]
    assert first.inputs.startswith("The following are multiple choice questions (with answers) about anatomy.\n\n")
    assert first.inputs.count("\nAnswer: ") == 5 and first.inputs.endswith("\nAnswer:")
    for exemplar in benchmarks._mmlu_split(directory, "dev", "anatomy"):
        assert exemplar.question in first.inputs and exemplar.question in dev
    test_question = benchmarks._mmlu_split(directory, "test", "anatomy")[0]
    assert f"{test_question.question}\nA. {test_question.choices[0]}" in first.inputs
    assert first.targets == test_question.answer and first.options == ("A", "B", "C", "D")


def test_mmlu_cot_prompt_uses_the_published_prompt(data_dirs):
    prompts = benchmarks.mmlu_cot_prompts(data_dirs["mmlu_cot_file"])
    assert len(prompts) == 57
    example = benchmarks.mmlu_examples("astronomy", data_dirs["mmlu"], cot=True, cot_file=data_dirs["mmlu_cot_file"])[7]
    assert example.inputs.startswith(prompts["astronomy"].rstrip())
    assert example.inputs.count("\nA: Let's think step by step.") == 6  # five exemplars + the question
    assert example.inputs.endswith("A: Let's think step by step.") and example.options == ()
    assert example.targets == f"The answer is ({example.answers[0]})."


def test_bbh_prompts_are_three_shot(data_dirs):
    tasks = benchmarks.bbh_tasks(data_dirs["bbh"])
    assert len(tasks) == 27
    cot = benchmarks.bbh_examples("date_understanding", data_dirs["bbh"], cot=True)
    direct = benchmarks.bbh_examples("date_understanding", data_dirs["bbh"])
    assert len(cot) == len(direct) == 250
    assert "canary" not in cot[0].inputs and cot[0].inputs.startswith("Infer the date from context.")
    assert cot[0].inputs.count("\nQ: ") == 4 and cot[0].inputs.count("So the answer is") == 3
    assert cot[0].inputs.endswith("A: Let's think step by step.")
    # Direct: the same three exemplars, answers only.
    assert direct[0].inputs.count("\nQ: ") == 4 and "So the answer is" not in direct[0].inputs
    assert "\nA: (D)\n\nQ: Tomorrow is 11/12/2019." in direct[0].inputs and direct[0].inputs.endswith("\nA:")
    assert direct[0].targets == "(B)" and direct[0].options == ("(A)", "(B)", "(C)", "(D)", "(E)", "(F)")
    for task in tasks:  # every prompt loses exactly its three rationales
        prompt = benchmarks.bbh_cot_prompt(task, data_dirs["bbh"])
        assert benchmarks.bbh_direct_prompt(prompt).count("\nA: ") == 3, task


def test_bbh_chance(data_dirs):
    assert benchmarks.bbh_random_score("boolean_expressions", data_dirs["bbh"]) == 50.0
    assert benchmarks.bbh_random_score("word_sorting", data_dirs["bbh"]) == 0.0
    assert benchmarks.bbh_random_score("logical_deduction_five_objects", data_dirs["bbh"]) == pytest.approx(20.0)
    assert 20 < benchmarks.random_score("bbh", data_dirs["bbh"]) < 35


def test_tydiqa_one_shot(data_dirs):
    languages = benchmarks.subtasks("tydiqa", data_dirs["tydiqa"])
    assert len(languages) == 9 and "english" in languages
    total = sum(len(benchmarks.tydiqa_questions(lang, data_dirs["tydiqa"])) for lang in languages)
    assert total == 5077
    examples = benchmarks.tydiqa_examples("finnish", data_dirs["tydiqa"])
    questions = benchmarks.tydiqa_questions("finnish", data_dirs["tydiqa"])
    assert examples[3].inputs.startswith(questions[0].context)  # exemplar: the first question
    assert f"A: {questions[0].answers[0]}\n\n" in examples[3].inputs
    assert examples[3].inputs.endswith(f"Q: {questions[3].question}\n\nA:")
    assert examples[0].inputs.startswith(questions[1].context)  # never its own exemplar
    assert examples[3].answers == questions[3].answers


def test_mgsm_eight_shot_cot(data_dirs):
    assert benchmarks.subtasks("mgsm", data_dirs["mgsm"]) == ["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]
    examples = benchmarks.mgsm_examples("de", data_dirs["mgsm"], gsm8k_train_file=data_dirs["gsm8k_train_file"])
    assert len(examples) == 250
    prompt = examples[0].inputs
    assert prompt.count("Q: ") == 9 and prompt.count("So the answer is") == 8
    assert prompt.startswith("Q: Natalia sold clips to 48 of her friends") and "<<" not in prompt
    assert "So the answer is 72.\n\nQ: Weng earns $12" in prompt
    assert examples[0].answers == ("18",) and examples[0].targets == "So the answer is 18."


def test_missing_directory_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("FLAN_JAX_BBH_DIR", raising=False)
    with pytest.raises(benchmarks.DataError, match="FLAN_JAX_BBH_DIR"):
        benchmarks.bbh_tasks()
    monkeypatch.setenv("FLAN_JAX_MMLU_DIR", str(tmp_path))
    with pytest.raises(benchmarks.DataError, match="MMLU test split"):
        benchmarks.mmlu_subjects()


def test_malformed_mmlu_row_names_file_and_line(tmp_path):
    (tmp_path / "data" / "test").mkdir(parents=True)
    (tmp_path / "data" / "test" / "x_test.csv").write_text("q,a,b,c,d,A\nq2,a,b,c,E\n")
    with pytest.raises(benchmarks.DataError, match=r"x_test.csv:2"):
        benchmarks.gold_answers("mmlu", "x", tmp_path)


def test_bbh_random_score_over_chosen_tasks(data_dirs):
    both = benchmarks.random_score("bbh", data_dirs["bbh"], ["boolean_expressions", "word_sorting"])
    assert both == 25.0  # (50 + 0) / 2: a partial suite is normalised against its own tasks
