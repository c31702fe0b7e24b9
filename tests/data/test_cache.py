"""`flan-jax cache` with Beam's DirectRunner, then training batches read from the cache."""
import collections
import os
import sys
import types

import pytest
import seqio
import tensorflow as tf

from flan_jax.data import cache, mixing, pipeline, registry, sources, templates
from flan_jax.data.vocabularies import byte_vocabulary

beam = pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install 'flan-jax[beam]')")

FEATURES = {
    "inputs": seqio.Feature(byte_vocabulary(), add_eos=True),
    "targets": seqio.Feature(byte_vocabulary(), add_eos=True),
}
LENGTHS = {"inputs": 32, "targets": 8}


def dataset_fn(split, shuffle_files, seed=None):
    del split, shuffle_files, seed
    return tf.data.Dataset.from_tensor_slices(
        {"inputs": tf.constant([f"cached:{i}" for i in range(12)]), "targets": tf.constant([str(i) for i in range(12)])}
    )


def register():
    for name in ("cacheable_a", "cacheable_b"):
        seqio.TaskRegistry.add(
            name,
            seqio.FunctionDataSource(dataset_fn, splits=["train"]),
            output_features=FEATURES,
            preprocessors=[seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(),
                           seqio.preprocessors.append_eos_after_trim],
        )
    # A templated family with options: its examples carry an "options" list, cached with them.
    registry.register_family(
        "cacheable_c", source=sources.GeneratorSource("cacheable_c", lambda rng: {"n": str(rng.randrange(12)),
                                                                                 "options": ["yes", "no"], "answer": "yes"},
                                                      {"train": 12}),
        fields=["n", "options", "answer"], collection="synthetic", formats=["zs_noopt"],
        templates=templates.TemplateSet([templates.Template("cached:{n}", "{answer}")], options_field="options"))
    mixing.add_mixture("cacheable_mix", [("cacheable_a", 1.0), ("cacheable_b", 1.0), ("cacheable_c_zs_noopt", 1.0)])


@pytest.fixture
def module(clean_registries, monkeypatch):
    name = "fake_cache_tasks"
    monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    register()
    saved = list(seqio.get_global_cache_dirs())
    yield name
    seqio.set_global_cache_dirs(saved)


def test_cache_then_train_from_cache(module, tmp_path, capsys):
    out = str(tmp_path / "cache")
    assert cache.main(["cacheable_mix", "--output", out, "--runner", "DirectRunner", "--module", module]) == 0
    for name in ("cacheable_a", "cacheable_b", "cacheable_c_zs_noopt"):
        task_dir = os.path.join(out, seqio.get_task_dir_from_name(name))
        assert os.path.exists(os.path.join(task_dir, "COMPLETED"))
    task = seqio.TaskRegistry.get("cacheable_a")
    assert task.cache_dir  # found through add_global_cache_dirs
    assert task.get_cached_stats("train")["examples"] == 12
    assert mixing.num_examples(task) == 12
    templated = seqio.TaskRegistry.get("cacheable_c_zs_noopt")
    cached = templated.get_dataset(LENGTHS, split="train", use_cached=True, shuffle=False)
    assert [ex["options"].tolist() for ex in cached.as_numpy_iterator()] == [[b"yes", b"no"]] * 12

    config = pipeline.DatasetConfig("cacheable_mix", LENGTHS, batch_size=4, use_cached=True, pack=False)
    stream = pipeline.train_batches(config, seqio.EncDecFeatureConverter(pack=False), 0, seqio.ShardInfo(0, 1))
    texts = collections.Counter()
    for _ in range(9):  # 36 rows: one epoch of the three tasks' 12 examples on average
        batch = next(stream)
        texts.update(byte_vocabulary().decode(row.tolist()) for row in batch["encoder_input_tokens"])
    assert set(texts) <= {f"cached:{i}" for i in range(12)}
    assert len(texts) > 6 and set(batch) == {"encoder_input_tokens", "decoder_target_tokens", "decoder_input_tokens",
                                             "decoder_loss_weights"}
    # a second run skips what is cached
    assert cache.main(["cacheable_mix", "--output", out, "--module", module]) == 0
    assert "Nothing to cache" in capsys.readouterr().out


def test_unknown_name_is_reported(module, tmp_path, capsys):
    assert cache.main(["cacheable_mx", "--output", str(tmp_path), "--module", module]) == 1
    assert "cacheable_mix" in capsys.readouterr().out  # the close-name suggestion
