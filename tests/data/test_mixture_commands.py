"""`flan-jax mixture show|sample` over a small registered hierarchy."""
import json
import sys
import types

import pytest
import seqio
import tensorflow as tf

from flan_jax.data import mixing, mixture_commands, registry
from flan_jax.data.vocabularies import byte_vocabulary

FEATURES = {
    "inputs": seqio.Feature(byte_vocabulary(), add_eos=True),
    "targets": seqio.Feature(byte_vocabulary(), add_eos=True),
}


def add_task(name: str, n: int, collection: str) -> None:
    def dataset_fn(split, shuffle_files, seed=None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices({"inputs": tf.constant(["q"] * n), "targets": tf.constant(["a"] * n)})

    task = seqio.TaskRegistry.add(
        name,
        seqio.FunctionDataSource(dataset_fn, splits=["train"], num_input_examples={"train": n}),
        output_features=FEATURES,
        preprocessors=[seqio.preprocessors.tokenize],
    )
    registry.record(task, registry.TaskInfo(name, name, collection))


@pytest.fixture
def hierarchy(clean_registries, monkeypatch):
    """Registers a two-level mixture from a throwaway module, as --module would import it."""

    def register():
        for name, n, collection in [("a1", 100, "alpha"), ("a2", 10, "alpha"), ("b1", 500, "beta")]:
            add_task(name, n, collection)
        mixing.add_mixture("alpha_mix", [(t, mixing.CappedExamplesRate(cap=50)) for t in ("a1", "a2")])
        mixing.add_mixture("beta_mix", [("b1", mixing.CappedExamplesRate(cap=200))])
        mixing.add_mixture("top", [("alpha_mix", 3.0), ("beta_mix", 1.0)])

    module = types.ModuleType("fake_mixture_module")
    register()
    monkeypatch.setitem(sys.modules, "fake_mixture_module", module)
    return "top"


def test_show_json_lists_leaves_with_rates_summing_to_one(hierarchy, capsys):
    assert mixture_commands.main(["show", hierarchy, "--json", "--module", "fake_mixture_module"]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"a1", "a2", "b1"}
    assert sum(r["rate"] for r in rows.values()) == pytest.approx(1.0)
    assert rows["a1"] == {"task": "a1", "collection": "alpha", "rate": pytest.approx(0.75 * 50 / 60),
                          "examples": 100, "cap": 50}
    assert rows["b1"]["rate"] == pytest.approx(0.25) and rows["b1"]["cap"] == 200


def test_show_text_groups_by_collection(hierarchy, capsys):
    assert mixture_commands.main(["show", hierarchy, "--module", "fake_mixture_module"]) == 0
    out = capsys.readouterr().out
    assert "top: 3 tasks, rates sum to 1.000000" in out
    assert "alpha: 2 tasks, rate 0.7500" in out and "beta: 1 tasks, rate 0.2500" in out


def test_sample_frequencies_match_rates(hierarchy, capsys):
    assert mixture_commands.main(["sample", hierarchy, "-n", "20000", "--module", "fake_mixture_module"]) == 0
    out = capsys.readouterr().out
    assert "max |empirical - rate|" in out
    report = mixture_commands.sample_frequencies(hierarchy, 20000)
    assert report.max_abs_deviation < 0.01
    assert report.p_value > 1e-4
    assert report.counts.sum() == 20000


def test_unknown_mixture_is_reported(hierarchy, capsys):
    assert mixture_commands.main(["show", "tpo", "--module", "fake_mixture_module"]) == 1
    assert "'tpo'" in capsys.readouterr().err
