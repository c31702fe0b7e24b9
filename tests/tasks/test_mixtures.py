"""Flan 2022 and synthetic mixtures over small stand-in collections: weights, caps, formats."""
import logging

import gin
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import mixing, registry
from flan_jax.data.vocabularies import byte_vocabulary
from flan_jax_tasks import mixtures

FEATURES = {
    "inputs": seqio.Feature(byte_vocabulary(), add_eos=True),
    "targets": seqio.Feature(byte_vocabulary(), add_eos=True),
}


def add_family(collection: str, family: str, n: int, formats, cluster=None) -> list[str]:
    """Stand-in tasks of one dataset in several formats, recorded as the collection modules do."""

    def dataset_fn(split, shuffle_files, seed=None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices({"inputs": tf.constant(["q"] * n), "targets": tf.constant(["a"] * n)})

    names = []
    for fmt in formats:
        name = f"{family}_{fmt}"
        task = seqio.TaskRegistry.add(
            name,
            seqio.FunctionDataSource(dataset_fn, splits=["train"], num_input_examples={"train": n}),
            output_features=FEATURES,
            preprocessors=[seqio.preprocessors.tokenize],
        )
        registry.record(task, registry.TaskInfo(name, family, collection, cluster, fmt))
        names.append(name)
    return names


FOUR = ["zs_opt", "zs_noopt", "fs_opt", "fs_noopt"]


@pytest.fixture
def collections(clean_registries, monkeypatch):
    # Only the stand-ins: the real collection modules are not imported by these tests.
    monkeypatch.setattr(mixtures, "import_collections", lambda names: list(names))
    add_family("flan2021", "anli", 50_000, FOUR + ["inv"])
    add_family("flan2021", "tiny", 1_000, FOUR)
    add_family("t0sf", "quail", 8_000, FOUR)
    add_family("cot", "gsm8k", 7_000, ["cot", "fs_cot"])
    add_family("niv2", "task001", 25, ["zs_noopt", "fs_noopt"])


def test_flan2022_leaves_out_absent_dialog_once_and_renormalises(collections, caplog):
    with caplog.at_level(logging.WARNING):
        assert mixtures.flan2022() == "flan2022"
    assert not [r for r in caplog.records if "leaving out" in r.getMessage()]  # quiet until used
    warned = [n for n in mixing.warn_left_out("flan2022") if "leaving out" in n]
    assert len(warned) == 1 and "dialog" in warned[0]
    rates = mixing.leaf_rates("flan2022")
    assert sum(rates.values()) == pytest.approx(1.0)
    total = 0.40 + 0.32 + 0.20 + 0.05
    by_collection = {}
    for task, rate in rates.items():
        collection = registry.collection_of(task)
        by_collection[collection] = by_collection.get(collection, 0.0) + rate
    assert by_collection == pytest.approx({c: w / total for c, w in mixtures.FLAN2022_WEIGHTS.items() if c != "dialog"})
    # Flan 2021: anli capped at 30,000 (x 1.3 with its inversion task), tiny at 1,000
    flan2021 = 0.40 / total
    anli, tiny = 30_000, 1_000
    denominator = anli * 1.3 + tiny
    assert rates["anli_zs_opt"] == pytest.approx(flan2021 * anli * 0.25 / denominator)
    assert rates["anli_inv"] == pytest.approx(flan2021 * anli * 0.3 / denominator)
    assert rates["tiny_fs_noopt"] == pytest.approx(flan2021 * tiny * 0.25 / denominator)
    assert rates["gsm8k_cot"] == pytest.approx(rates["gsm8k_fs_cot"])
    assert rates["task001_zs_noopt"] == pytest.approx(0.20 / total / 2)


def test_flan2022_can_fail_on_missing_collection(collections):
    with pytest.raises(mixing.MixtureError, match=r"'flan2022'.*dialog"):
        mixtures.flan2022(on_missing="error")


def test_proportion_b_weights(collections):
    mixtures.flan2022_proportion_b()
    rates = mixing.leaf_rates("flan2022_proportion_b")
    cot = sum(r for t, r in rates.items() if registry.collection_of(t) == "cot")
    assert cot == pytest.approx(1.8 / (46.0 + 27.9 + 1.8 + 24.2))


def test_gin_rebinds_weights_and_caps(collections):
    configurable = gin.external_configurable(mixtures.flan2022, "test_mixtures.flan2022")
    try:
        gin.parse_config(
            """
            test_mixtures.flan2022.collection_weights = {"flan2021": 1.0, "t0sf": 1.0}
            test_mixtures.flan2022.caps = {"flan2021": 1000, "t0sf": 1000}
            test_mixtures.flan2022.inversion_weight = 1.0
            """
        )
        assert configurable() == "flan2022"
    finally:
        gin.clear_config()
    rates = mixing.leaf_rates("flan2022")
    assert rates["anli_inv"] == pytest.approx(0.5 * 1000 * 1.0 / (1000 * 2 + 1000))
    assert rates["quail_zs_opt"] == pytest.approx(0.5 * 0.25)


def test_synthetic_train_and_held_out_split_clusters(clean_registries, monkeypatch):
    monkeypatch.setattr(mixtures, "import_collections", lambda names: list(names))
    add_family("synthetic", "add", 100, FOUR, cluster="arithmetic")
    add_family("synthetic", "reverse", 100, ["zs_noopt"], cluster="strings")
    add_family("synthetic", "sentiment", 100, ["zs_opt"], cluster="classification")
    train, held_out, everything = mixtures.synthetic(held_out_clusters=["strings", "classification"])
    assert set(mixing.leaf_rates(train)) == {f"add_{f}" for f in FOUR}
    assert set(mixing.leaf_rates(held_out)) == {"reverse_zs_noopt", "sentiment_zs_opt"}
    assert len(mixing.leaf_rates(everything)) == 6
    with pytest.raises(mixing.MixtureError, match="'nope'|nope"):
        mixtures.synthetic(held_out_clusters=["nope"])


def test_gin_mixture_files_register_and_name_the_mixture(collections):
    import pathlib

    from flan_jax import gin_configurables  # noqa: F401  (registers mixtures.flan2022)

    gin_dir = pathlib.Path(__file__).resolve().parents[2] / "gin" / "mixtures"
    gin.clear_config()
    try:
        gin.parse_config_file(str(gin_dir / "flan2022.gin"))
        gin.parse_config("mixtures.flan2022.caps = {'flan2021': 100, 't0sf': 100, 'niv2': 100, 'cot': 100, 'dialog': 100}")
        name = gin.query_parameter("%MIXTURE_OR_TASK_NAME").scoped_configurable_fn()
    finally:
        gin.clear_config()
    assert name == "flan2022"
    rows = mixing.leaf_rates("flan2022")
    assert rows["anli_zs_opt"] == pytest.approx(rows["tiny_zs_opt"])  # both capped at 100


class AbsentSource(seqio.FunctionDataSource):
    """A registered source whose data was never prepared."""


def test_collection_registered_without_data_is_left_out(collections, monkeypatch):
    from flan_jax.data import sources

    monkeypatch.setattr(sources, "unavailable_reason",
                        lambda source: "its data is not prepared here" if isinstance(source, AbsentSource) else None)
    def dataset_fn(split, shuffle_files, seed=None):
        raise AssertionError("data of an absent collection is never read")

    for fmt in ("zs_opt", "fs_opt"):
        task = seqio.TaskRegistry.add(
            f"wiki_dialog_{fmt}", AbsentSource(dataset_fn, splits=["train"]), output_features=FEATURES,
            preprocessors=[seqio.preprocessors.tokenize])
        registry.record(task, registry.TaskInfo(task.name, "wiki_dialog", "dialog", None, fmt))
    mixtures.flan2022()
    warned = [n for n in mixing.warn_left_out("flan2022") if "dialog" in n]
    assert len(warned) == 1 and "not prepared" in warned[0] and "wiki_dialog_" in warned[0]
    assert not any(registry.collection_of(t) == "dialog" for t in mixing.leaf_rates("flan2022"))
    with pytest.raises(mixing.MixtureError, match=r"'flan2022'.*dialog"):
        mixtures.flan2022(on_missing="error")


def test_hub_dataset_not_in_the_local_cache_is_left_out_without_the_network(collections, monkeypatch,
                                                                             tmp_path):
    """Offline, a Hub dataset's availability is read from the cache (the Hub client would retry)."""
    from flan_jax.data import sources, templates

    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("the Hub was asked"))
    registry.register_family(
        "ropes", source=sources.HfDatasetSource("allenai/ropes"), fields=["question", "answer"],
        templates=templates.TemplateSet(templates=[templates.Template("{question}", "{answer}")]),
        collection="dialog", formats=["zs_noopt"])
    mixtures.flan2022()
    warned = [n for n in mixing.warn_left_out("flan2022") if "dialog" in n]
    assert len(warned) == 1 and "'allenai/ropes' is not in the local cache" in warned[0]
    assert "ropes_zs_noopt" not in mixing.leaf_rates("flan2022")
