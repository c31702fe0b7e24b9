"""Rate rules, example counts from data, hierarchical leaf rates and the errors of bad mixtures."""
import logging

import pytest
import seqio
import tensorflow as tf

from flan_jax.data import mixing
from flan_jax.data.vocabularies import byte_vocabulary

FEATURES = {
    "inputs": seqio.Feature(byte_vocabulary(), add_eos=True),
    "targets": seqio.Feature(byte_vocabulary(), add_eos=True),
}


def add_task(name: str, n: int, declare: bool = False) -> seqio.Task:
    """A task of `n` tiny examples; `declare` states the count up front instead of counting."""

    def dataset_fn(split, shuffle_files, seed=None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices(
            {
                "inputs": tf.constant([f"{name} q{i}" for i in range(n)], tf.string),
                "targets": tf.constant([f"a{i}" for i in range(n)], tf.string),
            }
        )

    source = seqio.FunctionDataSource(
        dataset_fn, splits=["train"], num_input_examples={"train": n} if declare else None
    )
    return seqio.TaskRegistry.add(
        name, source, output_features=FEATURES, preprocessors=[seqio.preprocessors.tokenize]
    )


def test_examples_proportional_caps_each_task():
    rates = mixing.examples_proportional_rates({"a": 10, "b": 100, "c": 1000}, cap=100)
    assert rates == pytest.approx({"a": 10 / 210, "b": 100 / 210, "c": 100 / 210})


def test_temperature_after_cap_flattens_rates():
    counts = {"a": 1, "b": 16, "c": 10_000}
    hot = mixing.temperature_rates(counts, temperature=2.0, cap=16)
    assert hot == pytest.approx({"a": 1 / 9, "b": 4 / 9, "c": 4 / 9})
    assert mixing.temperature_rates(counts, 1.0) == pytest.approx(mixing.examples_proportional_rates(counts))


def test_uniform_and_fixed_rates_sum_to_one():
    assert mixing.uniform_rates(["a", "b", "c", "d"]) == {k: 0.25 for k in "abcd"}
    assert mixing.fixed_rates({"x": 3.0, "y": 1.0}) == pytest.approx({"x": 0.75, "y": 0.25})


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_rate_names_mixture_and_task(bad):
    with pytest.raises(mixing.MixtureError, match=r"'mix'.*'y'"):
        mixing.fixed_rates({"x": 1.0, "y": bad}, mixture="mix")


def test_empty_count_names_mixture_and_task():
    with pytest.raises(mixing.MixtureError, match=r"'mix'.*'b' has 0 examples"):
        mixing.examples_proportional_rates({"a": 3, "b": 0}, cap=10, mixture="mix")


def test_num_examples_counts_the_data_or_reads_declared(clean_registries):
    counted = add_task("counted", 7)
    declared = add_task("declared", 5, declare=True)
    assert mixing.num_examples(counted) == 7
    assert mixing.num_examples(declared) == 5
    assert mixing.CappedExamplesRate(cap=6)(counted) == 6.0
    assert mixing.CappedExamplesRate(cap=100, temperature=2.0)(counted) == pytest.approx(7**0.5)


def test_leaf_rates_multiply_down_the_hierarchy(clean_registries):
    for name, n in [("a1", 10), ("a2", 30), ("b1", 5), ("b2", 50)]:
        add_task(name, n, declare=True)
    mixing.add_mixture("a", [("a1", mixing.CappedExamplesRate()), ("a2", mixing.CappedExamplesRate())])
    mixing.add_mixture("b", [("b1", mixing.CappedExamplesRate(cap=5)), ("b2", mixing.CappedExamplesRate(cap=5))])
    mixing.add_mixture("top", [("a", 0.8), ("b", 0.2)])
    rates = mixing.leaf_rates("top")
    assert rates == pytest.approx({"a1": 0.8 * 0.25, "a2": 0.8 * 0.75, "b1": 0.1, "b2": 0.1})
    assert sum(rates.values()) == pytest.approx(1.0)
    # seqio's own (quadratic) computation agrees on the normalised rates
    top = seqio.get_mixture_or_task("top")
    for task in top.tasks:
        assert top.get_rate(task) / top.total_rate == pytest.approx(rates[task.name])


def test_unknown_component_is_named_with_suggestion(clean_registries):
    add_task("real_task", 3)
    with pytest.raises(mixing.MixtureError, match=r"'mix'.*'real_tsak'.*Did you mean: real_task"):
        mixing.add_mixture("mix", [("real_tsak", 1.0)])


def test_zero_rate_and_self_reference_rejected(clean_registries):
    add_task("t", 3)
    with pytest.raises(mixing.MixtureError, match=r"'mix'.*'t' has rate 0"):
        mixing.add_mixture("mix", [("t", 0)])
    with pytest.raises(mixing.MixtureError, match="cycle"):
        mixing.add_mixture("mix", [("t", 1.0), ("mix", 1.0)])


def test_cycle_between_mixtures_is_reported(clean_registries):
    add_task("t", 3)
    mixing.add_mixture("m1", [("t", 1.0)])
    mixing.add_mixture("m2", [("m1", 1.0)])
    # re-register m1 so it points back at m2: a cycle the registries now hold
    seqio.MixtureRegistry.remove("m1")
    seqio.MixtureRegistry.add("m1", [("t", 1.0)])
    seqio.MixtureRegistry.get("m1")._task_to_rate["m2"] = 1.0
    seqio.MixtureRegistry.get("m1")._sub_mixtures.append(seqio.MixtureRegistry.get("m2"))
    with pytest.raises(mixing.MixtureError, match=r"cycle: m\d -> m\d -> m\d"):
        mixing.leaf_rates("m2")


def test_empty_task_in_mixture_names_both(clean_registries):
    add_task("full", 4)
    add_task("empty", 0)
    mixing.add_mixture("mix", [("full", mixing.CappedExamplesRate()), ("empty", mixing.CappedExamplesRate())])
    with pytest.raises(mixing.MixtureError, match=r"'mix'.*'empty'.*empty"):
        mixing.leaf_rates("mix")


def test_drop_missing_notes_quietly_warns_once_when_used_or_fails(caplog):
    """Registration (at every command's import) is quiet; a command using the mixture warns, once."""
    weights = {"flan2021": 0.4, "t0": 0.32, "dialog": 0.03}
    available = lambda name: name != "dialog"  # noqa: E731
    with caplog.at_level(logging.WARNING):
        kept = mixing.drop_missing("drop_test_mixture", weights, available)
    assert kept == {"flan2021": 0.4, "t0": 0.32}
    assert not [r for r in caplog.records if "leaving out" in r.getMessage()]
    with caplog.at_level(logging.WARNING):
        warned = mixing.warn_left_out("drop_test_mixture")
        assert mixing.warn_left_out("drop_test_mixture") == []
    assert len(warned) == 1 and "'drop_test_mixture': leaving out dialog" in warned[0]
    assert [r.getMessage() for r in caplog.records if "leaving out" in r.getMessage()] == warned
    with pytest.raises(mixing.MixtureError, match=r"'flan2022'.*dialog"):
        mixing.drop_missing("flan2022", weights, available, on_missing="error")


def test_format_shares_follow_flan2022():
    four = mixing.format_shares(["zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "inv"])
    assert four == pytest.approx({"zs_opt": 0.25, "zs_noopt": 0.25, "fs_opt": 0.25, "fs_noopt": 0.25, "inv": 0.3})
    assert mixing.format_shares(["cot", "fs_cot"]) == pytest.approx({"cot": 0.5, "fs_cot": 0.5})
    assert mixing.format_shares(["zs_noopt", "fs_noopt"]) == pytest.approx({"zs_noopt": 0.5, "fs_noopt": 0.5})
    # a missing group hands its share over, so the dataset keeps its full weight
    assert mixing.format_shares(["zs_opt", "zs_noopt"]) == pytest.approx({"zs_opt": 0.5, "zs_noopt": 0.5})
    assert mixing.format_shares([None]) == {None: 1.0}
    skewed = mixing.format_shares(["zs_opt", "fs_opt", "fs_noopt"], mixing.FormatShares(few_shot=0.2, options=0.75))
    assert skewed == pytest.approx({"zs_opt": 0.8, "fs_opt": 0.15, "fs_noopt": 0.05})


def test_collection_components_cap_datasets_then_split_formats(clean_registries):
    add_task("big_zs_opt", 100, declare=True)
    add_task("big_fs_opt", 100, declare=True)
    add_task("big_inv", 100, declare=True)
    add_task("small_zs_opt", 10, declare=True)
    tasks = [
        mixing.LeafTask("big_zs_opt", "big", "zs_opt"),
        mixing.LeafTask("big_fs_opt", "big", "fs_opt"),
        mixing.LeafTask("big_inv", "big", "inv"),
        mixing.LeafTask("small_zs_opt", "small", "zs_opt"),
    ]
    mixing.add_mixture("coll", mixing.collection_components(tasks, cap=40))
    rates = mixing.leaf_rates("coll")
    raw = {"big_zs_opt": 20, "big_fs_opt": 20, "big_inv": 12, "small_zs_opt": 10}
    assert rates == pytest.approx({k: v / 62 for k, v in raw.items()})
