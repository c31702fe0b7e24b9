"""`flan-jax tasks list|show|stats` through main(argv), on a few synthetic families."""
import json

import pytest
import seqio

import flan_jax_tasks.synthetic  # noqa: F401  registers at import; the fixture re-registers a subset
from flan_jax.data import task_commands
from flan_jax_tasks import synthetic

MODULE = ["--module", "flan_jax_tasks.synthetic"]


@pytest.fixture
def few_tasks(clean_registries):
    return synthetic.register(families=["parity", "addition"], formats=["zs_opt", "zs_noopt", "cot"])


def test_list_all_and_by_collection(few_tasks, capsys):
    assert task_commands.main(["list", *MODULE]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == sorted(few_tasks) == ["synthetic_addition_cot", "synthetic_addition_zs_noopt",
                                           "synthetic_parity_zs_noopt", "synthetic_parity_zs_opt"]
    assert task_commands.main(["list", "--collection", "synthetic", *MODULE]) == 0
    assert capsys.readouterr().out.split() == listed
    assert task_commands.main(["list", "--collection", "held_out", *MODULE]) == 0
    assert capsys.readouterr().out == ""


def test_unknown_collection_is_rejected(few_tasks, capsys):
    assert task_commands.main(["list", "--collection", "flan", *MODULE]) == 2
    err = capsys.readouterr().err
    assert "unknown collection 'flan'" in err and "flan2021" in err and "synthetic" in err


def test_show_text(few_tasks, capsys):
    assert task_commands.main(["show", "synthetic_addition_cot", "-n", "2", *MODULE]) == 0
    out = capsys.readouterr().out
    assert out.count("=== synthetic_addition_cot [train]") == 2
    assert "--- inputs" in out and "So the answer is" in out and "_template_type=cot" in out


def test_show_json_one_object_per_line(few_tasks, capsys):
    assert task_commands.main(["show", "synthetic_parity_zs_opt", "-n", "3", "--split", "validation",
                               "--json", *MODULE]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 3
    for line in lines:
        example = json.loads(line)
        assert example["task"] == "synthetic_parity_zs_opt" and example["_template_type"] == "zs_opt"
        assert example["targets"] in ("even", "odd", "(A)", "(B)", "A", "B")
        assert "even" in example["inputs"].lower() and isinstance(example["_template_idx"], int)


def test_show_unknown_task_suggests_close_names(few_tasks, capsys):
    assert task_commands.main(["show", "synthetic_parity_zs_op", *MODULE]) == 1
    err = capsys.readouterr().err
    assert "synthetic_parity_zs_op'" in err and "Did you mean: synthetic_parity_zs_opt" in err


def test_show_unknown_split(few_tasks, capsys):
    assert task_commands.main(["show", "synthetic_parity_zs_opt", "--split", "test", *MODULE]) == 1
    assert "no split 'test'" in capsys.readouterr().err


def test_stats(few_tasks, capsys):
    seqio.TaskRegistry.add("unrecorded_task", source=seqio.FunctionDataSource(
        lambda split, shuffle_files: None, splits=["train"]), output_features={})
    assert task_commands.main(["stats", *MODULE]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 tasks, 0 mixtures")
    row = next(line for line in out.splitlines() if line.startswith("synthetic"))
    # 4 tasks, 2 families, 2 x 10,000 train examples, then cot / zs_noopt / zs_opt counts.
    assert row.split() == ["synthetic", "4", "2", "20,000", "1", "2", "1"]
    assert "(unrecorded)" in out and "synthetic/arithmetic: 1" in out and "synthetic/classification: 1" in out


def test_stats_never_loads_hub_datasets_or_absent_files(few_tasks, capsys, monkeypatch, tmp_path):
    import datasets

    from flan_jax.data import registry, sources
    from flan_jax.data import templates as T

    def no_network(*args, **kwargs):
        raise AssertionError("stats must not load a Hugging Face dataset")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    plain = T.TemplateSet([T.Template("{question}", "{answer}")])
    for name, source in (("hub", sources.HfDatasetSource("someone/absent_dataset")),
                         ("cot", sources.CotTsvSource(tmp_path / "absent_train.tsv"))):
        registry.register_family(name, source=source, fields=["question", "answer"], templates=plain,
                                 collection="t0sf", formats=["zs_noopt"])
    assert task_commands.main(["stats", *MODULE]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("t0sf"))
    assert row.split()[:4] == ["t0sf", "2", "2", "?"]


def test_missing_module_is_a_clear_error(clean_registries):
    with pytest.raises(SystemExit, match="flan_jax_tasks.nonexistent"):
        task_commands.main(["list", "--module", "flan_jax_tasks.nonexistent"])


def test_default_module_registers_the_whole_collection(capsys):
    assert task_commands.main(["list", "--collection", "synthetic"]) == 0
    assert len(capsys.readouterr().out.split()) >= 2 * len(synthetic.FAMILIES)


def test_show_json_decodes_list_features(clean_registries, capsys):
    import tensorflow as tf

    def dataset_fn(split, shuffle_files):
        del split, shuffle_files
        return tf.data.Dataset.from_tensors({"inputs": "Pick one", "targets": "b", "options": ["a", "b"]})

    vocab = seqio.ByteVocabulary()
    seqio.TaskRegistry.add(
        "listy", source=seqio.FunctionDataSource(dataset_fn, splits=["test"]),
        preprocessors=[seqio.preprocessors.tokenize],
        output_features={"inputs": seqio.Feature(vocab), "targets": seqio.Feature(vocab)})
    assert task_commands.main(["show", "listy", "--split", "test", "--json", *MODULE]) == 0
    example = json.loads(capsys.readouterr().out)
    assert example == {"task": "listy", "options": ["a", "b"], "inputs": "Pick one", "targets": "b"}


def test_show_of_a_task_whose_data_is_not_prepared_says_so(clean_registries, capsys, tmp_path):
    """A registered TFDS task without prepared data: the clear reason `mixture show` gives, not TFDS's KeyError."""
    from flan_jax.data import vocabularies

    vocabulary = vocabularies.byte_vocabulary()
    seqio.TaskRegistry.add(
        "unprepared_rte", source=seqio.TfdsDataSource("glue/rte:2.0.0", tfds_data_dir=str(tmp_path), splits=["train"]),
        preprocessors=[seqio.preprocessors.tokenize],
        output_features={k: seqio.Feature(vocabulary) for k in ("inputs", "targets")},
    )
    assert task_commands.main(["show", "unprepared_rte", *MODULE]) == 1
    error = capsys.readouterr().err
    assert f"'unprepared_rte' is registered but its data is not here: TFDS dataset 'glue/rte:2.0.0' is not prepared in {tmp_path}" in error
    assert "download_and_prepare()" in error
