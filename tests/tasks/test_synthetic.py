"""The synthetic suite: size, clusters, every task renders, determinism, split disjointness."""
import json

import pytest
import seqio

from flan_jax.data import registry
from flan_jax.data.templates import extract_cot_answer
from flan_jax_tasks import synthetic


@pytest.fixture(scope="module")
def suite():
    """The whole suite registered once into emptied registries (restored afterwards)."""
    saved_tasks, saved_mixtures = dict(seqio.TaskRegistry._REGISTRY), dict(seqio.MixtureRegistry._REGISTRY)
    seqio.TaskRegistry.reset()
    seqio.MixtureRegistry.reset()
    names = synthetic.register()
    yield names
    seqio.TaskRegistry.reset()
    seqio.MixtureRegistry.reset()
    seqio.TaskRegistry._REGISTRY.update(saved_tasks)
    seqio.MixtureRegistry._REGISTRY.update(saved_mixtures)


def test_suite_size_and_clusters(suite):
    assert len(synthetic.FAMILIES) >= 40
    assert len(synthetic.CLUSTERS) >= 8
    assert sorted(sum(synthetic.CLUSTERS.values(), [])) == sorted(f.name for f in synthetic.FAMILIES)
    assert set(synthetic.DEFAULT_HELD_OUT_CLUSTERS) <= set(synthetic.CLUSTERS)
    assert all(len(f.templates.templates) >= 3 for f in synthetic.FAMILIES)
    # Every family has zero- and few-shot tasks; the index knows their collection and cluster.
    assert len(suite) == len(set(suite)) >= 2 * len(synthetic.FAMILIES)
    assert registry.tasks_in("synthetic") == sorted(suite)
    assert set(registry.clusters("synthetic")) == set(synthetic.CLUSTERS)
    formats = {registry.info(n).format for n in suite}
    assert formats == {"zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "cot", "fs_cot", "inv"}
    assert synthetic.tasks_of(synthetic.CLUSTERS["logic"], formats=["zs_noopt"]) == sorted(
        f"synthetic_{f}_zs_noopt" for f in synthetic.CLUSTERS["logic"])


def test_every_task_renders_short_examples(suite):
    for name in suite:
        source = seqio.get_mixture_or_task(name).source
        for split in ("train", "validation"):
            example = next(source.iter_examples(split))
            assert example["inputs"] and example["targets"], name
            assert name == f"synthetic_{source.family[len('synthetic_'):]}_{example['_template_type']}"
            limit = 200 if not source.fmt.few_shot else synthetic.FEW_SHOT.max_input_length
            assert len(example["inputs"].encode()) <= limit, (name, example["inputs"])


def test_task_datasets_tokenize(suite):
    task = seqio.get_mixture_or_task("synthetic_sentiment_zs_opt")
    ds = task.get_dataset({"inputs": 256, "targets": 16}, split="validation", shuffle=False)
    examples = list(ds.take(5).as_numpy_iterator())
    assert len(examples) == 5
    labels = {"positive", "negative", "(A)", "(B)", "A", "B"}
    assert all(e["targets_pretokenized"].decode() in labels for e in examples)
    assert task.num_input_examples("train") == synthetic.NUM_EXAMPLES["train"]


def test_generation_is_deterministic_and_splits_are_disjoint(suite):
    source = seqio.get_mixture_or_task("synthetic_addition_zs_noopt").source
    first = [e["inputs"] for e in source.iter_examples("validation")]
    again = [e["inputs"] for e in source.iter_examples("validation")]
    assert first == again and len(first) == synthetic.NUM_EXAMPLES["validation"]
    base = source.base
    train = {json.dumps(base.example("train", i), sort_keys=True) for i in range(2000)}
    validation = {json.dumps(base.example("validation", i), sort_keys=True) for i in range(300)}
    assert not train & validation


def test_answers_are_correct():
    fields = synthetic.FAMILIES_BY_NAME["sum_of_three"].make(__import__("random").Random(3))
    assert int(fields["answer"]) == fields["a"] + fields["b"] + fields["c"]
    assert synthetic.number_word(42) == "forty-two" and synthetic.number_word(13) == "thirteen"


def test_cot_targets_end_with_the_answer(suite):
    source = seqio.get_mixture_or_task("synthetic_word_problem_cot").source
    for example, fields in zip(source.iter_examples("train"), source.examples("train")):
        assert extract_cot_answer(example["targets"]) == fields["answer"]
        assert example["targets"].startswith(fields["rationale"])
        break


def test_register_subsets_and_unknown_family(clean_registries):
    names = synthetic.register(families=["parity", "uppercase_word"], formats=["zs_opt", "zs_noopt"])
    assert names == ["synthetic_parity_zs_opt", "synthetic_parity_zs_noopt", "synthetic_uppercase_word_zs_noopt"]
    with pytest.raises(ValueError, match=r"Unknown synthetic dataset\(s\) \['parrity'\]"):
        synthetic.register(families=["parrity"])
