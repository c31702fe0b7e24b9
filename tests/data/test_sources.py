"""Sources: NIv2 directory scanning and parsing, CoT TSV reading, the Hugging Face source."""
import glob
import json
import sys

import pytest
import seqio
import tensorflow as tf

from flan_jax.data import availability, sources


def write_niv2(root, tasks, train=(), test=()):
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "default").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "default" / "train_tasks.txt").write_text("\n".join(train) + "\n")
    (root / "splits" / "default" / "test_tasks.txt").write_text("\n".join(test) + "\n")
    for name, content in tasks.items():
        path = root / "tasks" / f"{name}.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=4))
    return root


def niv2_task(definition="Add the numbers.", instances=None, source="toy"):
    return {
        "Contributors": ["x"], "Source": [source], "Categories": ["Arithmetic Reasoning"],
        "Definition": [definition],
        "Positive Examples": [{"input": "1 1", "output": "2", "explanation": "sum"}],
        "Instances": instances if instances is not None else [
            {"id": "t-1", "input": "2 3", "output": ["5", "five"]},
            {"id": "t-2", "input": "1 4", "output": ["5"]},
        ],
    }


def test_missing_dir_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.NIV2_ENV, raising=False)
    with pytest.raises(sources.DataSourceError, match="natural-instructions.*FLAN_JAX_NIV2_DIR"):
        sources.scan_niv2(None)
    with pytest.raises(sources.DataSourceError, match="does not exist.*FLAN_JAX_NIV2_DIR"):
        sources.scan_niv2(tmp_path / "nope")


def test_scan_reads_splits_and_header_without_instances(tmp_path):
    root = write_niv2(tmp_path, {"task1_a": niv2_task(source="hendrycks_test"), "task2_b": niv2_task(),
                                 "task3_c": niv2_task()}, train=["task1_a"], test=["task2_b"])
    entries = {e.name: e for e in sources.scan_niv2(root)}
    assert {n: e.split for n, e in entries.items()} == {"task1_a": "train", "task2_b": "test", "task3_c": "unlisted"}
    assert entries["task1_a"].sources == ("hendrycks_test",)
    assert entries["task1_a"].categories == ("Arithmetic Reasoning",)


@pytest.mark.parametrize("content, key", [
    ("{not json", "<file>"),
    (json.dumps({"Instances": []}), "Definition"),
    (json.dumps({"Definition": ["d"]}), "Instances"),
    (json.dumps({"Definition": ["d"], "Instances": [{"input": "x"}]}), "Instances[0]"),
])
def test_malformed_file_names_file_and_key(tmp_path, content, key):
    path = tmp_path / "task9_bad.json"
    path.write_text(content)
    with pytest.raises(sources.DataSourceError) as e:
        sources.load_niv2_task(path)
    assert "task9_bad.json" in str(e.value) and repr(key) in str(e.value)


def test_niv2_source_first_or_all_outputs_and_sharding(tmp_path):
    root = write_niv2(tmp_path, {"task1_a": niv2_task()}, train=["task1_a"])
    path = root / "tasks" / "task1_a.json"
    first = sources.NIv2Source(path)
    assert [e["output"] for e in first.iter_examples("train")] == ["5", "5"]
    assert first.num_input_examples("train") == 2
    every = sources.NIv2Source(path, all_outputs=True)
    assert [e["output"] for e in every.iter_examples("train")] == ["5", "five", "5"]
    shards = [list(every.iter_examples("train", shard_info=seqio.ShardInfo(i, 2))) for i in range(2)]
    assert sorted(e["output"] for s in shards for e in s) == ["5", "5", "five"]
    example = next(first.iter_examples("train"))
    assert example["definition"] == "Add the numbers." and example["positive_outputs"] == ["2"]
    raw = next(iter(first.get_dataset("train", shuffle=False).as_numpy_iterator()))
    assert raw["input"] == b"2 3" and list(raw["outputs"]) == [b"5", b"five"]


def test_cot_tsv_unescapes_newlines_and_names_bad_lines(tmp_path):
    path = tmp_path / "toy_train.tsv"
    path.write_text("What is 2+2?\\nOptions:\\n- 4\\n- 5\t4\t2 plus 2 is 4.\n")
    rows = sources.read_cot_tsv(path)
    assert rows == [{"question": "What is 2+2?\nOptions:\n- 4\n- 5", "answer": "4", "rationale": "2 plus 2 is 4."}]
    source = sources.CotTsvSource(path)
    assert source.num_input_examples("train") == 1
    assert next(iter(source.get_dataset("train").as_numpy_iterator()))["answer"] == b"4"
    path.write_text("q\ta\tr\nonly two\tcolumns\n")
    with pytest.raises(sources.DataSourceError, match="toy_train.tsv' line 2: expected 3"):
        sources.read_cot_tsv(path)


def test_cot_real_files_have_three_columns(shared_data):
    rows = sources.read_cot_tsv(shared_data / "flan_v2/flan/v2/cot_data/gsm8k_train.tsv")
    assert len(rows) == 7473
    assert rows[0]["answer"] == "72" and "48 / 2 = 24" in rows[0]["rationale"]


def test_hf_source_reads_json_lines(tmp_path):
    pytest.importorskip("datasets")
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps({"question": f"q{i}", "answers": {"text": [f"a{i}"]}}) for i in range(3)))
    source = sources.HfDatasetSource("json", splits={"train": "train"}, data_files={"train": str(path)})
    examples = list(source.iter_examples("train"))
    assert [e["question"] for e in examples] == ["q0", "q1", "q2"]
    assert examples[1]["answers"] == {"text": ["a1"]}
    raw = list(source.get_dataset("train", shuffle=False).as_numpy_iterator())
    assert raw[2]["answers"]["text"].tolist() == [b"a2"]


def test_hf_source_without_datasets_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    source = sources.HfDatasetSource("allenai/social_i_qa")
    with pytest.raises(sources.DataSourceError, match="pip install datasets"):
        list(source.iter_examples("train"))


def test_data_available(tmp_path):
    path = tmp_path / "toy_train.tsv"
    source = sources.CotTsvSource(path)
    assert not sources.data_available(source)
    path.write_text("q\ta\tr\n")
    assert sources.data_available(source)


def prepare_tfds(data_dir, *parts):
    """A fake prepared TFDS dataset: `data_dir/parts.../dataset_info.json` (all availability reads)."""
    version_dir = data_dir.joinpath(*parts)
    version_dir.mkdir(parents=True)
    (version_dir / "dataset_info.json").write_text("{}")


@pytest.fixture
def no_tfds_builders(monkeypatch):
    """Availability must be decided from files: building a TFDS builder fails the test."""
    import tensorflow_datasets as tfds

    def built(*args, **kwargs):
        raise AssertionError("availability must not build a TFDS builder")

    monkeypatch.setattr(tfds, "builder", built)
    monkeypatch.setattr(tfds, "builder_cls", built)


def test_parse_tfds_name():
    assert availability.parse_tfds_name("glue/rte:2.0.0") == ("glue", "rte", "2.0.0")
    assert availability.parse_tfds_name("squad/v1.1:3.0.0") == ("squad", "v1.1", "3.0.0")
    assert availability.parse_tfds_name("xsum:1.1.0") == ("xsum", None, "1.1.0")
    assert availability.parse_tfds_name("glue/rte:2.*.*") == ("glue", "rte", "2.*.*")
    assert availability.parse_tfds_name("xsum") == ("xsum", None, None)


def test_tfds_availability_from_prepared_files(tmp_path, no_tfds_builders):
    rte = seqio.TfdsDataSource("glue/rte:2.0.0", tfds_data_dir=str(tmp_path))
    reason = sources.unavailable_reason(rte)
    assert "TFDS dataset 'glue/rte:2.0.0' is not prepared in" in reason and "glue/rte/2.0.0/dataset_info.json" in reason
    assert "download_and_prepare()" in reason and "TFDS_DATA_DIR" in reason
    (tmp_path / "glue" / "rte" / "2.0.0").mkdir(parents=True)
    assert not sources.data_available(rte), "a version directory without dataset_info.json is not prepared"
    prepare_tfds(tmp_path, "glue", "mrpc", "2.0.0")
    prepare_tfds(tmp_path, "glue", "rte", "1.0.0")
    assert not sources.data_available(rte), "another config or version is not this one"
    (tmp_path / "glue" / "rte" / "2.0.0" / "dataset_info.json").write_text("{}")
    assert sources.data_available(rte)
    assert sources.data_available(seqio.TfdsDataSource("glue/rte:2.*.*", tfds_data_dir=str(tmp_path)))
    # No config: the builder has none, or the name means its default config (any config counts).
    xsum = seqio.TfdsDataSource("xsum:1.1.0", tfds_data_dir=str(tmp_path))
    assert not sources.data_available(xsum)
    prepare_tfds(tmp_path, "xsum", "1.1.0")
    assert sources.data_available(xsum)
    yelp = seqio.TfdsDataSource("yelp_polarity_reviews:0.2.0", tfds_data_dir=str(tmp_path))
    prepare_tfds(tmp_path, "yelp_polarity_reviews", "plain_text", "0.2.0")
    assert sources.data_available(yelp)


def test_unversioned_tfds_name_matches_any_prepared_version(tmp_path):
    patterns = availability.tfds_prepared_patterns("wiki_dialog/OQ", str(tmp_path))
    assert patterns == [f"{tmp_path}/wiki_dialog/OQ/*/dataset_info.json"]
    prepare_tfds(tmp_path, "wiki_dialog", "OQ", "1.0.0")
    assert glob.glob(patterns[0])
    assert not any(glob.glob(p) for p in availability.tfds_prepared_patterns("wiki_dialog/other", str(tmp_path)))
    assert any(glob.glob(p) for p in availability.tfds_prepared_patterns("wiki_dialog", str(tmp_path)))


def test_tfds_availability_defaults_to_tfds_data_dir(tmp_path, monkeypatch, no_tfds_builders):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    source = seqio.TfdsDataSource("glue/rte:2.0.0")
    assert f"is not prepared in {tmp_path} " in sources.unavailable_reason(source)
    prepare_tfds(tmp_path, "glue", "rte", "2.0.0")
    assert sources.data_available(source)


def test_hf_availability_comes_from_the_local_cache_never_the_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))

    def no_network(*args, **kwargs):
        raise AssertionError("availability must not load the dataset")

    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets, "load_dataset", no_network)
    hub = sources.HfDatasetSource("allenai/ropes")
    assert not sources.data_available(hub)
    assert "'allenai/ropes' is not in the local cache" in sources.unavailable_reason(hub)
    prepared = tmp_path / "datasets" / "allenai___ropes" / "default" / "0.0.0" / "abc123"
    prepared.mkdir(parents=True)
    assert not sources.data_available(hub), "an empty (interrupted) cache entry is not data"
    (prepared / "dataset_info.json").write_text("{}")
    assert sources.data_available(hub)

    configured = sources.HfDatasetSource("UCLNLP/adversarial_qa", "adversarialQA")
    assert not sources.data_available(configured)
    snapshot = tmp_path / "hub" / "datasets--UCLNLP--adversarial_qa" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    assert not sources.data_available(configured)
    (snapshot / "README.md").write_text("x")
    assert sources.data_available(configured)

    local = tmp_path / "train.jsonl"
    files = sources.HfDatasetSource("json", splits=["train"], data_files={"train": str(local)})
    assert "does not exist" in sources.unavailable_reason(files)
    local.write_text("{}\n")
    assert sources.data_available(files)
    remote = sources.HfDatasetSource("json", splits=["train"], data_files={"train": "https://example.org/x.jsonl"})
    assert "is remote" in sources.unavailable_reason(remote)


def _release(reads):
    def read(directory, split):
        reads.append(split)
        return [json.loads(line) for line in (directory / f"{split}.jsonl").read_text().splitlines()]

    return sources.Release("TOY_RELEASE_DIR", "https://example.org/toy", "train.jsonl and validation.jsonl",
                           ("train.jsonl", "validation.jsonl"), read, argument="toy_dir")


def test_release_source_reads_each_split_once_and_says_what_is_missing(tmp_path, monkeypatch):
    reads = []
    release = _release(reads)
    source = sources.ReleaseSource("toy", tmp_path / "toy", release, {"x": tf.TensorSpec([], tf.string)})
    reason = sources.unavailable_reason(source)
    assert reason.startswith("toy: release directory") and "does not exist" in reason
    assert "https://example.org/toy" in reason and "`toy_dir` or TOY_RELEASE_DIR" in reason
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "train.jsonl").write_text('{"x": "a"}\n{"x": "b"}\n')
    reason = sources.unavailable_reason(source)
    assert "lacks ['validation.jsonl']; it should hold train.jsonl and validation.jsonl" in reason
    monkeypatch.delenv("TOY_RELEASE_DIR", raising=False)
    with pytest.raises(sources.DataSourceError,
                       match=r"No directory given for the toy release: .*`toy_dir` or set TOY_RELEASE_DIR"):
        release.directory(None, "toy")
    with pytest.raises(sources.DataSourceError, match=r"toy: .* lacks \['validation.jsonl'\]"):
        release.directory(tmp_path / "toy", "toy")
    (tmp_path / "toy" / "validation.jsonl").write_text('{"x": "c"}\n')
    monkeypatch.setenv("TOY_RELEASE_DIR", str(tmp_path / "toy"))
    assert release.directory(None, "toy") == tmp_path / "toy"
    assert sources.data_available(source)
    assert [e["x"] for e in source.iter_examples("train")] == ["a", "b"]
    assert source.num_input_examples("train") == 2 and list(source.iter_examples("validation")) == [{"x": "c"}]
    list(source.iter_examples("train"))
    assert reads == ["train", "validation"], "a split is read once, then kept"
    assert [e["x"] for e in source.get_dataset("train", shuffle=False).as_numpy_iterator()] == [b"a", b"b"]
