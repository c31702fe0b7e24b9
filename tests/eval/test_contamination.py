"""N-gram contamination: the library against hand-made overlaps, and `flan-jax contamination`."""
import json

import numpy as np
import pytest
import seqio
import tensorflow as tf

import flan_jax_tasks.synthetic  # noqa: F401  (the --module the command imports; already registered)
from flan_jax.data import registry
from flan_jax.data.templates import Template, TemplateSet
from flan_jax.eval import contamination as c
from flan_jax.eval import contamination_commands

SHARED = "the quick brown fox jumps over the lazy dog near the river bank today"  # 14 words


def test_ngrams_are_lowercased_whitespace_words():
    assert len(c.ngram_hashes(SHARED, 13)) == 2 and len(c.ngram_hashes("too few words here", 13)) == 0
    assert np.array_equal(c.ngram_hashes(SHARED.upper(), 13), c.ngram_hashes("  " + SHARED.replace(" ", " \n "), 13))
    assert not np.isin(c.ngram_hashes(SHARED, 13), c.ngram_hashes(SHARED.replace("fox", "fox,"), 13)).any()


def test_planted_overlap_is_counted_per_example_and_never_across_inputs_and_targets():
    eval_tasks = {
        "eval": [
            ("Question: " + SHARED.upper() + "?", "yes"),         # shares a 13-gram
            ("Before that, " + SHARED[4:], "no"),                 # the other 13-gram
            (" ".join(SHARED.split()[:12]), "unrelated words"),   # only 12 words in common
            (" ".join(SHARED.split()[:7]), " ".join(SHARED.split()[7:])),  # split across inputs/targets
        ],
        "clean": [("nothing to see here at all, friends, move along please now, thank you kindly", "ok")],
    }
    report = c.contamination([("train", [("Context: " + SHARED, "answer")]), ("other", [("hello", "world")])],
                             eval_tasks)
    counts = {(p.train_task, p.eval_task): (p.contaminated_examples, p.eval_examples) for p in report.pairs}
    assert counts == {("train", "eval"): (2, 4), ("train", "clean"): (0, 1),
                      ("other", "eval"): (0, 4), ("other", "clean"): (0, 1)}
    assert report.any_train_task == {"eval": 2, "clean": 0}
    assert not any(p.prompt_contaminated for p in report.pairs)


def test_a_prompt_shared_by_most_examples_is_reported_once_not_per_example():
    exemplar = "Example: " + SHARED + " is a sentence about a fox. Now: "
    question = "question number {} asks about something else entirely and has many more words in it"
    eval_tasks = {"fewshot": [(exemplar + question.format(i), "a") for i in range(6)]}
    report = c.contamination([("train", [(SHARED, "")])], eval_tasks)
    (pair,) = report.pairs
    assert (pair.contaminated_examples, pair.prompt_contaminated) == (0, True)
    # A training task holding one question's own text contaminates that example only.
    (pair,) = c.contamination([("train", [(question.format(3), "")])], eval_tasks).pairs
    assert (pair.contaminated_examples, pair.prompt_contaminated) == (1, False)


def _register(name: str, questions: list[str]):
    def dataset_fn(split, shuffle_files, seed=None):
        return tf.data.Dataset.from_tensor_slices({"question": questions, "answer": ["x"] * len(questions)})

    return registry.register_family(
        name, source=seqio.FunctionDataSource(dataset_fn, splits=["train", "validation"]),
        fields=["question", "answer"], templates=TemplateSet([Template("Q: {question}", "{answer}")]),
        collection="synthetic", formats=["zs_noopt"])


@pytest.fixture
def planted(clean_registries):
    _register("plant_train", [f"training text {i} " + SHARED if i == 2 else f"training text {i}" for i in range(5)])
    _register("plant_eval", ["asks whether " + SHARED, "something else", SHARED.upper() + " again", "more", "and more"])
    _register("plant_clean", ["nothing in common here", "nor here"])
    seqio.MixtureRegistry.add("plant_eval_mixture", [("plant_eval_zs_noopt", 1.0), ("plant_clean_zs_noopt", 1.0)])


def test_command_json_lists_every_pair(planted, capsys):
    argv = ["--train", "plant_train_*", "--eval", "plant_eval_mixture", "--module", "flan_jax_tasks.synthetic"]
    assert contamination_commands.main([*argv, "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    assert {(p["train_task"], p["eval_task"], p["eval_examples"], p["contaminated_examples"]) for p in pairs} == {
        ("plant_train_zs_noopt", "plant_eval_zs_noopt", 5, 2), ("plant_train_zs_noopt", "plant_clean_zs_noopt", 2, 0)}
    assert all(p["prompt_contaminated"] is False for p in pairs)

    assert contamination_commands.main(argv) == 0
    out = capsys.readouterr().out
    assert "1 pairs with overlap" in out and "2      5       -  plant_train_zs_noopt -> plant_eval_zs_noopt" in out
    assert "contaminated by any training task: 2 of 7" in out and "time:" in out


def test_command_disjoint_tasks_report_none(planted, capsys):
    argv = ["--train", "plant_clean_zs_noopt", "--eval", "plant_eval_zs_noopt", "--module", "flan_jax_tasks.synthetic"]
    assert contamination_commands.main(argv) == 0
    assert "0 pairs with overlap" in capsys.readouterr().out


def test_command_errors_name_the_name(planted, capsys):
    assert contamination_commands.main(["--train", "plant_nothing_*", "--eval", "plant_eval_zs_noopt",
                                        "--module", "flan_jax_tasks.synthetic"]) == 1
    assert "No registered task matches 'plant_nothing_*'" in capsys.readouterr().err
    assert contamination_commands.main(["--train", "plant_train_zs_noop", "--eval", "plant_eval_zs_noopt",
                                        "--module", "flan_jax_tasks.synthetic"]) == 1
    assert "plant_train_zs_noopt" in capsys.readouterr().err  # suggested
