"""register_family: names, features, validation at registration, duplicates, the collection index."""
import numpy as np
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import registry
from flan_jax.data import templates as T

PARITY = T.TemplateSet(
    templates=[T.Template("Is {n} even?\n{options_}", "{answer}"),
               T.Template("{n}: even or odd?\n{options_}", "{answer}")],
    options_field="options",
)


def _source():
    def dataset_fn(split, shuffle_files):
        del shuffle_files
        start = 0 if split == "train" else 50
        return tf.data.Dataset.from_tensor_slices({"n": np.arange(start, start + 20)})
    return seqio.FunctionDataSource(dataset_fn, splits=["train", "validation"],
                                    num_input_examples={"train": 20, "validation": 20})


def _prepare(ex):
    return {"n": ex["n"], "options": ["yes", "no"], "answer": "yes" if ex["n"] % 2 == 0 else "no"}


def _register(name="parity", **kwargs):
    return registry.register_family(
        name, source=_source(), fields=["n", "options", "answer"], templates=PARITY,
        prepare=_prepare, collection="synthetic", cluster="arithmetic", **kwargs)


def test_register_family_registers_one_task_per_format(clean_registries):
    names = _register()
    assert names == ["parity_zs_opt", "parity_zs_noopt", "parity_fs_opt", "parity_fs_noopt"]
    task = seqio.get_mixture_or_task("parity_zs_noopt")
    ds = task.get_dataset({"inputs": 64, "targets": 8}, split="validation", shuffle=False)
    example = next(ds.as_numpy_iterator())
    assert set(example) == {"inputs", "targets", "inputs_pretokenized", "targets_pretokenized",
                            "_task_source", "_task_name", "_template_idx", "_template_type", "options"}
    assert example["options"].tolist() == [b"yes", b"no"]  # not shown, carried for rank classification
    assert example["inputs_pretokenized"].decode() in ("Is 50 even?", "50: even or odd?")
    assert example["targets_pretokenized"] == b"yes"
    vocab = seqio.ByteVocabulary()
    assert vocab.decode(example["targets"].tolist()) == "yes" and example["targets"][-1] == 1  # EOS
    assert example["_template_type"] == b"zs_noopt" and example["_task_name"] == b"parity"


def test_formats_can_be_chosen_by_suffix(clean_registries):
    assert _register(formats=["zs_opt", "fs_noopt"]) == ["parity_zs_opt", "parity_fs_noopt"]


def test_unknown_field_fails_at_registration(clean_registries):
    bad = T.TemplateSet(templates=[T.Template("Is {number} even?", "{answer}")])
    with pytest.raises(ValueError, match=r"'oops'.*templates\[0\].*\['number'\]"):
        registry.register_family("oops", source=_source(), fields=["n", "answer"], templates=bad,
                                 collection="synthetic")
    assert not [n for n in seqio.TaskRegistry.names() if n.startswith("oops")]


def test_unsupported_format_fails_at_registration(clean_registries):
    with pytest.raises(ValueError, match="'parity_cot'.*'cot'"):
        _register(formats=["cot"])


def test_duplicates_are_errors_naming_the_task(clean_registries):
    _register()
    with pytest.raises(ValueError, match="'parity_zs_opt' is already registered"):
        _register()


def test_collection_index_follows_the_seqio_registry(clean_registries):
    _register()
    _register("parity_b", formats=["zs_noopt"])
    assert registry.collection_of("parity_fs_opt") == "synthetic"
    assert registry.info("parity_fs_opt") == registry.TaskInfo(
        "parity_fs_opt", "parity", "synthetic", "arithmetic", "fs_opt", tokenize_in_python=True)
    assert registry.tasks_in("synthetic", formats=["zs_noopt"]) == ["parity_b_zs_noopt", "parity_zs_noopt"]
    assert len(registry.clusters("synthetic")["arithmetic"]) == 5
    assert registry.tasks_in("flan2021") == []
    seqio.TaskRegistry.reset()
    assert registry.collection_of("parity_fs_opt") is None and registry.tasks_in("synthetic") == []


def test_index_survives_a_registry_emptied_and_restored(clean_registries):
    """A test that empties the registry, registers the same names and restores the originals
    must leave the originals indexed (the index is keyed by task object, not by name)."""
    _register(formats=["zs_noopt"])
    saved = dict(seqio.TaskRegistry._REGISTRY)
    seqio.TaskRegistry.reset()
    registry.register_family("parity", source=_source(), fields=["n", "options", "answer"], templates=PARITY,
                             prepare=_prepare, collection="flan2021", formats=["zs_noopt"])
    assert registry.collection_of("parity_zs_noopt") == "flan2021"
    seqio.TaskRegistry.reset()
    seqio.TaskRegistry._REGISTRY.update(saved)
    assert registry.collection_of("parity_zs_noopt") == "synthetic"
    assert registry.tasks_in("synthetic") == ["parity_zs_noopt"] and registry.tasks_in("flan2021") == []


def test_metrics_and_postprocessor_compare_answers():
    assert registry.exact_match(["a", "b"], ["a", "c"]) == {"exact_match": 50.0}
    assert registry.postprocess_answer(b"2 + 2 = 4. So the answer is 4.") == "4"
    assert registry.postprocess_answer("(B) ") == "(B)"
    with pytest.raises(ValueError, match="2 targets but 1"):
        registry.exact_match(["a", "b"], ["a"])


def test_register_if_configured_follows_the_environment(monkeypatch, caplog):
    calls = []

    def register(on_missing):
        calls.append(on_missing)
        return ["t_zs_noopt"]

    monkeypatch.delenv("FLAN_JAX_TEST_DIR", raising=False)
    with caplog.at_level("INFO"):
        assert registry.register_if_configured("FLAN_JAX_TEST_DIR", "a folder", "https://example.org", register) == []
    assert calls == [] and "set FLAN_JAX_TEST_DIR to a folder (https://example.org)" in caplog.text
    monkeypatch.setenv("FLAN_JAX_TEST_DIR", "/somewhere")
    assert registry.register_if_configured("FLAN_JAX_TEST_DIR", "a folder", "https://example.org",
                                           register) == ["t_zs_noopt"]
    assert calls == ["warn"]
