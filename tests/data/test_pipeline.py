"""The training stream: seqio-identical features, packing, determinism, resume and host shards."""
import collections

import numpy as np
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import epochs, mixing, pipeline, prefetch, registry, sources
from flan_jax.data.vocabularies import byte_vocabulary

FEATURES = {
    "inputs": seqio.Feature(byte_vocabulary(), add_eos=True),
    "targets": seqio.Feature(byte_vocabulary(), add_eos=True),
}
LENGTHS = {"inputs": 32, "targets": 8}


def add_task(name: str, n: int) -> seqio.Task:
    """`n` examples of varying length; the index is written into the text so tests can read it."""

    def dataset_fn(split, shuffle_files, seed=None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices(
            {
                "inputs": tf.constant([f"{name}:{i}:" + "x" * (i % 7) for i in range(n)], tf.string),
                "targets": tf.constant([f"{i}" for i in range(n)], tf.string),
            }
        )

    return seqio.TaskRegistry.add(
        name,
        seqio.FunctionDataSource(dataset_fn, splits=["train"], num_input_examples={"train": n}),
        output_features=FEATURES,
        preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
    )


@pytest.fixture
def mixture(clean_registries):
    for name, n in [("small", 5), ("medium", 20), ("large", 60)]:
        add_task(name, n)
    mixing.add_mixture("mix", [(n, mixing.CappedExamplesRate(cap=30)) for n in ("small", "medium", "large")])
    return "mix"


def config(name: str, **kw) -> pipeline.DatasetConfig:
    return pipeline.DatasetConfig(name, LENGTHS, batch_size=kw.pop("batch_size", 4), **kw)


def take(iterator, n):
    return [next(iterator) for _ in range(n)]


def decode_segments(batch, row):
    """(inputs text, targets text) of each packed segment in one row."""
    vocab = byte_vocabulary()
    out = []
    for seg in range(1, batch["encoder_segment_ids"][row].max() + 1):
        inputs = batch["encoder_input_tokens"][row][batch["encoder_segment_ids"][row] == seg]
        targets = batch["decoder_target_tokens"][row][batch["decoder_segment_ids"][row] == seg]
        out.append((vocab.decode(inputs.tolist()), vocab.decode(targets.tolist())))
    return out


def test_unpacked_features_equal_seqio_converter(mixture):
    cfg = config(mixture, pack=False, shuffle=False)
    stream = pipeline.HierarchicalStream(cfg, pack=False, shard_info=seqio.ShardInfo(0, 1))
    rows = stream.packer.plan()
    ours = stream.packer.assemble(rows)
    examples = [{"inputs": i.astype(np.int32), "targets": t.astype(np.int32)} for i, t in (row[0] for row in rows)]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(examples),
        output_signature={k: tf.TensorSpec([None], tf.int32) for k in ("inputs", "targets")},
    )
    converted = seqio.EncDecFeatureConverter(pack=False)(ds, LENGTHS)
    theirs = next(converted.batch(len(examples)).as_numpy_iterator())
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
        assert ours[key].dtype == theirs[key].dtype


def test_packed_rows_keep_examples_apart(mixture):
    batch = next(pipeline.train_batches(config(mixture), seqio.EncDecFeatureConverter(pack=True), 0, seqio.ShardInfo(0, 1)))
    expected_keys = set(seqio.EncDecFeatureConverter(pack=True).get_model_feature_lengths(LENGTHS)) | {
        "encoder_segment_ids", "decoder_segment_ids", "encoder_positions", "decoder_positions"}
    assert set(batch) == expected_keys
    assert batch["encoder_input_tokens"].shape == (4, 32) and batch["decoder_target_tokens"].shape == (4, 8)
    for row in range(4):
        shifted = seqio.utils.make_autoregressive_inputs(
            tf.constant(batch["decoder_target_tokens"][row]),
            sequence_id=tf.constant(batch["decoder_segment_ids"][row]),
        )
        np.testing.assert_array_equal(batch["decoder_input_tokens"][row], shifted.numpy())
    assert batch["encoder_segment_ids"].max() > 1, "rows of short examples should hold several"
    for row in range(4):
        for inputs, targets in decode_segments(batch, row):
            task, index, _ = inputs.split(":")
            assert targets == index  # inputs and targets of one example share a segment
            assert task in ("small", "medium", "large")
        for seg in range(1, batch["encoder_segment_ids"][row].max() + 1):
            positions = batch["encoder_positions"][row][batch["encoder_segment_ids"][row] == seg]
            np.testing.assert_array_equal(positions, np.arange(len(positions)))
    np.testing.assert_array_equal(batch["decoder_loss_weights"], batch["decoder_target_tokens"] != 0)


def test_resumed_stream_equals_uninterrupted(mixture):
    converter = seqio.EncDecFeatureConverter(pack=True)
    cfg = config(mixture, seed=3)
    full = take(pipeline.train_batches(cfg, converter, 0, seqio.ShardInfo(0, 1)), 12)
    resumed = take(pipeline.train_batches(cfg, converter, 7, seqio.ShardInfo(0, 1)), 5)
    for a, b in zip(full[7:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    other_seed = next(pipeline.train_batches(config(mixture, seed=4), converter, 0, seqio.ShardInfo(0, 1)))
    assert not np.array_equal(other_seed["encoder_input_tokens"], full[0]["encoder_input_tokens"])


@pytest.mark.parametrize("n", [10, 300])  # kept in memory / streamed in chunks of 256
def test_each_epoch_of_a_task_visits_every_example_once(clean_registries, n):
    add_task("only", n)
    stream = pipeline.HierarchicalStream(config("only"), pack=True, shard_info=seqio.ShardInfo(0, 1))
    vocab = byte_vocabulary()
    draws = [int(vocab.decode(stream.sampler.draw()[1].tolist())) for _ in range(3 * n)]
    for epoch in range(3):
        assert sorted(draws[n * epoch:n * (epoch + 1)]) == list(range(n))
    assert draws[:n] != draws[n:2 * n], "each epoch is reshuffled"


def test_task_frequencies_follow_leaf_rates(mixture):
    stream = pipeline.HierarchicalStream(config(mixture), pack=True, shard_info=seqio.ShardInfo(0, 1))
    names = sorted(mixing.leaf_rates(mixture))
    counts = collections.Counter(names[next(stream.sampler.draws)] for _ in range(6000))
    rates = mixing.leaf_rates(mixture)  # caps: 5, 20, 30 of 55
    for name in names:
        assert counts[name] / 6000 == pytest.approx(rates[name], abs=0.03)
    assert rates["large"] == pytest.approx(30 / 55)
    assert stream.sampler.num_opened == 0, "drawing task indices reads no data"


def test_resume_inside_a_streamed_task(clean_registries):
    add_task("long", 700)  # three chunks per epoch
    converter = seqio.EncDecFeatureConverter(pack=True)
    full = take(pipeline.train_batches(config("long", batch_size=8), converter, 0, seqio.ShardInfo(0, 1)), 30)
    resumed = take(pipeline.train_batches(config("long", batch_size=8), converter, 25, seqio.ShardInfo(0, 1)), 5)
    for a, b in zip(full[25:], resumed):
        np.testing.assert_array_equal(a["encoder_input_tokens"], b["encoder_input_tokens"])


def test_hosts_read_disjoint_shards(clean_registries):
    add_task("only", 40)
    converter = seqio.EncDecFeatureConverter(pack=False)
    seen = []
    for index in range(2):
        stream = pipeline.train_batches(config("only", batch_size=8, shuffle=False), converter, 0, seqio.ShardInfo(index, 2))
        batch = next(stream)
        assert batch["encoder_input_tokens"].shape == (4, 32)  # per-host share of 8
        seen.append({byte_vocabulary().decode(row.tolist()) for row in batch["encoder_input_tokens"]})
    assert not seen[0] & seen[1]


def test_seqio_sampler_still_serves_batches(mixture):
    cfg = config(mixture, sampler="seqio")
    batch = next(pipeline.train_batches(cfg, seqio.EncDecFeatureConverter(pack=True), 0, seqio.ShardInfo(0, 1)))
    assert batch["encoder_input_tokens"].shape == (4, 32)


def test_bad_sampler_and_empty_task_are_named(clean_registries):
    add_task("full", 3)
    add_task("hollow", 0)
    seqio.MixtureRegistry.add("bad_mix", [("full", 1.0), ("hollow", 1.0)])
    converter = seqio.EncDecFeatureConverter(pack=True)
    with pytest.raises(ValueError, match="sampler='typo'"):
        pipeline.train_batches(config("full", sampler="typo"), converter, 0, seqio.ShardInfo(0, 1))
    with pytest.raises(mixing.MixtureError, match=r"'bad_mix'.*'hollow'"):
        take(pipeline.train_batches(config("bad_mix"), converter, 0, seqio.ShardInfo(0, 1)), 3)


def test_long_examples_are_trimmed_to_the_feature_lengths(clean_registries):
    def dataset_fn(split, shuffle_files, seed=None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices({"inputs": tf.constant(["i" * 100]), "targets": tf.constant(["t" * 50])})

    seqio.TaskRegistry.add(
        "long_one", seqio.FunctionDataSource(dataset_fn, splits=["train"]), output_features=FEATURES,
        preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
    )
    batch = next(pipeline.train_batches(config("long_one", batch_size=2), seqio.EncDecFeatureConverter(pack=True), 0, seqio.ShardInfo(0, 1)))
    assert (batch["encoder_segment_ids"] == 1).sum(axis=1).tolist() == [32, 32]
    assert batch["decoder_target_tokens"][0, -1] == 1  # EOS kept by append_eos_after_trim


def add_templated_family(name: str, n: int, formats=("zs_noopt", "fs_noopt")) -> list[str]:
    """A registry family over a GeneratorSource: the Python-backed tasks the collection registers."""
    from flan_jax.data import templates

    def make(rng):
        a = rng.randrange(1000)
        return {"a": str(a), "b": str(a + 1)}

    source = sources.GeneratorSource(name, make, {"train": n, "validation": 4})
    template_set = templates.TemplateSet(templates=[templates.Template("after {a}?", "{b}"),
                                                    templates.Template("what follows {a}", "{b}")])
    return registry.register_family(name, source=source, fields=["a", "b"], templates=template_set,
                                    collection="synthetic", formats=list(formats))


def test_examples_carrying_options_leave_training_batches_unchanged(clean_registries):
    """A family with options carries them as a feature (for rank classification); every training path
    reads only inputs and targets: the same batches as the same family declared without options."""
    from flan_jax.data import templates

    def make(rng):
        a = rng.randrange(1000)
        return {"a": str(a), "options": [str(a + 1), str(a + 2)], "answer": str(a + 1)}

    def streams(options_field):
        seqio.TaskRegistry.reset()
        seqio.MixtureRegistry.reset()
        template_set = templates.TemplateSet(templates=[templates.Template("after {a}?\n{options_}", "{answer}"),
                                                        templates.Template("what follows {a}", "{answer}")],
                                             options_field=options_field)
        [name] = registry.register_family(
            "fam", source=sources.GeneratorSource("fam", make, {"train": 300, "validation": 4}),
            fields=["a", "options", "answer"], templates=template_set, collection="synthetic", formats=["zs_noopt"])
        task = seqio.TaskRegistry.get(name)
        mixing.add_mixture("fam_mix", [(name, 1.0)])
        converter = seqio.EncDecFeatureConverter(pack=True)
        out = {sampler: take(pipeline.train_batches(config("fam_mix", seed=3, sampler=sampler), converter, 0,
                                                    seqio.ShardInfo(0, 1)), 3) for sampler in pipeline.SAMPLERS}
        out["tf_epoch"] = epoch_multiset(epochs.tf_epoch(task, "train", LENGTHS, seqio.ShardInfo(0, 1), 7, True))
        return out, next(task.source.iter_examples("train"))

    carried, first = streams("options")
    raw = next(sources.iter_examples(seqio.TaskRegistry.get("fam_zs_noopt").source.base, "train"))
    assert first["options"] == raw["options"] and first["targets"] == raw["answer"]
    plain, first_plain = streams(None)
    assert "options" not in first_plain and first_plain["inputs"] == first["inputs"]
    assert carried["tf_epoch"] == plain["tf_epoch"]
    for sampler in pipeline.SAMPLERS:
        for a, b in zip(carried[sampler], plain[sampler]):
            assert set(a) == set(b)
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{sampler}: {key}")


def epoch_multiset(chunks):
    return sorted((i.tobytes(), t.tobytes()) for chunk in chunks for i, t in chunk)


@pytest.mark.parametrize("shard", [seqio.ShardInfo(0, 1), seqio.ShardInfo(1, 2)])
def test_python_path_reads_what_seqio_reads(clean_registries, shard):
    lengths = {"inputs": 12, "targets": 4}  # short enough that some inputs are trimmed
    for name in add_templated_family("fam", 300):  # 300 > one chunk
        task = seqio.TaskRegistry.get(name)
        assert epochs.reads_in_python(task), "register_family declares the Python path"
        ours = list(epochs.python_epoch(task, "train", lengths, shard, seed=7, shuffle=True))
        theirs = epochs.tf_epoch(task, "train", lengths, shard, seed=7, shuffle=True)
        assert epoch_multiset(ours) == epoch_multiset(theirs)
        assert max(len(i) for chunk in ours for i, _ in chunk) == 12
        assert all(i[-1] == 1 and t[-1] == 1 for chunk in ours for i, t in chunk), "EOS after trimming"
        again = list(epochs.python_epoch(task, "train", lengths, shard, seed=7, shuffle=True))
        other = list(epochs.python_epoch(task, "train", lengths, shard, seed=8, shuffle=True))
        assert [e[0].tolist() for e in again[0]] == [e[0].tolist() for e in ours[0]]
        assert [e[0].tolist() for e in other[0]] != [e[0].tolist() for e in ours[0]]


def test_tasks_with_other_preprocessors_keep_the_tf_path(clean_registries):
    plain = add_task("plain", 3)  # a FunctionDataSource: tf.data only
    assert not epochs.reads_in_python(plain)
    [name] = add_templated_family("fam", 10, formats=("zs_noopt",))
    templated = seqio.TaskRegistry.get(name)
    assert not epochs.reads_in_python(templated, use_cached=True)
    custom = seqio.TaskRegistry.add(
        "custom", templated.source, output_features=FEATURES,
        preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim,
                       seqio.map_over_dataset(lambda ex: ex)])
    assert not epochs.reads_in_python(custom), "declared by register_family only, never guessed"


def test_python_backed_mixture_is_deterministic_and_resumable(clean_registries):
    names = add_templated_family("fam_a", 40) + add_templated_family("fam_b", 400)
    mixing.add_mixture("pymix", [(n, 1.0) for n in names])
    converter = seqio.EncDecFeatureConverter(pack=True)
    full = take(pipeline.train_batches(config("pymix", seed=1), converter, 0, seqio.ShardInfo(0, 1)), 8)
    resumed = take(pipeline.train_batches(config("pymix", seed=1), converter, 5, seqio.ShardInfo(0, 1)), 3)
    for a, b in zip(full[5:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    texts = {text for batch in full for row in range(4) for text, _ in decode_segments(batch, row)}
    assert any(t.startswith(("after", "what follows")) for t in texts)


def test_prefetching_threads_change_timing_only(clean_registries):
    for t in range(12):
        add_task(f"task{t}", 5 + 30 * (t % 3))  # small ones kept in memory, larger ones streamed
    mixing.add_mixture("many", [(f"task{t}", 1.0) for t in range(12)])
    streams = [pipeline.HierarchicalStream(config("many", seed=2), True, seqio.ShardInfo(0, 1), prefetch_workers=w)
               for w in (0, 2)]
    serial, threaded = (take(s.batches(), 6) for s in streams)
    for a, b in zip(serial, threaded):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert streams[1].sampler.num_opened == 12


def test_python_source_without_the_features_is_named(clean_registries):
    source = sources.GeneratorSource("raw", lambda rng: {"a": "x"}, {"train": 3})
    task = seqio.TaskRegistry.add("raw_fields", source, output_features=FEATURES,
                                  preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim])
    registry.record(task, registry.TaskInfo("raw_fields", "raw_fields", "synthetic", tokenize_in_python=True))
    assert epochs.reads_in_python(task)
    with pytest.raises(ValueError, match=r"'raw_fields'.*no 'inputs' feature.*\['a'\]"):
        next(epochs.python_epoch(task, "train", LENGTHS, seqio.ShardInfo(0, 1), 0, False))


def test_read_ahead_keeps_order_ends_raises_the_producers_error_and_stops_when_closed():
    import itertools
    import time

    assert list(prefetch.read_ahead(iter(range(100)), 3)) == list(range(100))

    def failing():
        yield 1
        raise mixing.MixtureError("task 'x' is empty")

    ahead = prefetch.read_ahead(failing(), 2)
    assert next(ahead) == 1
    with pytest.raises(mixing.MixtureError, match="'x'"):
        next(ahead)

    produced = []

    def endless():
        for i in itertools.count():
            produced.append(i)
            yield i

    ahead = prefetch.read_ahead(endless(), 2)
    assert next(ahead) == 0
    ahead.close()
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count <= 5, "the producer stopped after the consumer closed"
