"""NIv2: every eligible real task file registers and renders; test-split and MMLU tasks are absent."""
import json
import logging

import pytest
import seqio

from flan_jax.data import registry, sources
from flan_jax_tasks import niv2
from tests.data.test_sources import niv2_task, write_niv2


@pytest.fixture
def niv2_dir(shared_data):
    return shared_data / "natural-instructions"


def test_every_real_file_registers_and_renders(clean_registries, niv2_dir):
    names = niv2.register(niv2_dir)
    entries = sources.scan_niv2(niv2_dir)
    test_split = {e.name for e in entries if e.split == "test"}
    mmlu = {e.name for e in entries if "mmmlu" in e.name}
    assert len(test_split) == 20 and len(mmlu) == 57
    eligible = [e for e in entries if e.name not in test_split | mmlu]
    assert len(names) == 2 * len(eligible)
    assert registry.tasks_in("niv2") == sorted(names)
    for entry in eligible:
        for suffix in ("zs_noopt", "fs_noopt"):
            task = seqio.TaskRegistry.get(f"{niv2.family_name(entry)}_{suffix}")
            rendered = next(task.source.iter_examples("train"))
            definition = sources.load_niv2_task(entry.path).definition
            assert definition.split("\n")[0][:40] in rendered["inputs"], entry.name
            assert rendered["targets"] and rendered["_template_type"] == suffix
    # Few-shot inputs carry a positive example's output; zero-shot ones the definition once.
    entry = eligible[0]
    fs = next(seqio.TaskRegistry.get(f"{niv2.family_name(entry)}_fs_noopt").source.iter_examples("train"))
    positive = json.loads(entry.path.read_text())["Positive Examples"][0]
    assert positive["input"][:30] in fs["inputs"]


def test_test_split_and_mmlu_tasks_absent(clean_registries, niv2_dir):
    names = set(niv2.register(niv2_dir))
    test_tasks = sources.read_split_list(niv2_dir / "splits/default/test_tasks.txt")
    assert not any(n.startswith(f"niv2_{t}_") for t in test_tasks for n in names)
    assert not any("mmmlu" in n for n in names)
    kept, skipped = niv2.task_entries(niv2_dir)
    assert "MMLU-derived" in skipped["task664_mmmlu_answer_generation_abstract_algebra"]


def test_test_split_registers_on_request(clean_registries, tmp_path):
    """The Flan Collection trained on NIv2's test-split tasks; include_test_split=True does too."""
    root = write_niv2(tmp_path, {"task1_held": niv2_task(), "task2_train": niv2_task()},
                      train=["task2_train"], test=["task1_held"])
    assert niv2.register(root, formats=["zs_noopt"]) == ["niv2_task2_train_zs_noopt"]
    assert "include_test_split=True" in niv2.task_entries(root)[1]["task1_held"]
    seqio.TaskRegistry.reset()  # the clean_registries fixture restores it
    assert niv2.register(root, formats=["zs_noopt"], include_test_split=True) == [
        "niv2_task1_held_zs_noopt", "niv2_task2_train_zs_noopt"]


def test_source_rule_excludes_mmlu_by_metadata(clean_registries, tmp_path):
    root = write_niv2(tmp_path, {"task1_quiz": niv2_task(source="hendrycks_test"),
                                 "task2_ok": niv2_task()})
    assert niv2.register(root) == ["niv2_task2_ok_zs_noopt", "niv2_task2_ok_fs_noopt"]
    assert niv2.register(root, include_unlisted=False, formats=["zs_noopt"]) == []


def test_renders_through_seqio_with_all_outputs(clean_registries, tmp_path):
    root = write_niv2(tmp_path, {"task1_add": niv2_task()}, train=["task1_add"])
    niv2.register(root, all_outputs=True, formats=["zs_noopt"])
    task = seqio.TaskRegistry.get("niv2_task1_add_zs_noopt")
    examples = list(task.get_dataset(sequence_length=None, split="train", shuffle=False).as_numpy_iterator())
    assert [e["targets_pretokenized"] for e in examples] == [b"5", b"five", b"5"]
    assert all(b"Add the numbers." in e["inputs_pretokenized"] for e in examples)
    assert task.source.num_input_examples("train") == 3


def test_malformed_file_raises_or_skips(clean_registries, tmp_path, caplog):
    root = write_niv2(tmp_path, {"task1_ok": niv2_task(), "task2_bad": json.dumps({"Instances": []})})
    with pytest.raises(sources.DataSourceError, match="task2_bad.json.*'Definition' is missing"):
        niv2.register(root, validate=True)
    seqio.TaskRegistry.reset()
    with caplog.at_level(logging.WARNING):
        names = niv2.register(root, validate=True, on_error="skip")
    assert names == ["niv2_task1_ok_zs_noopt", "niv2_task1_ok_fs_noopt"]
    assert "task2_bad.json" in caplog.text
    # Lazily (the default), the error surfaces when the data is read, naming the file, the key and
    # the setting that leaves such files out.
    seqio.TaskRegistry.reset()
    niv2.register(root)
    with pytest.raises(sources.DataSourceError, match="task2_bad.json.*'Definition'.*FLAN_JAX_NIV2_ON_ERROR=skip"):
        next(seqio.TaskRegistry.get("niv2_task2_bad_zs_noopt").source.iter_examples("train"))


def test_on_error_skip_from_the_environment_leaves_malformed_files_out(clean_registries, tmp_path, monkeypatch):
    """The hint's setting works as the CLI registers NIv2 (at import, from the environment), without validate."""
    root = write_niv2(tmp_path, {"task1_ok": niv2_task(), "task2_bad": "{not json"})
    monkeypatch.setenv(sources.NIV2_ENV, str(root))
    monkeypatch.setenv(sources.NIV2_ON_ERROR_ENV, "skip")
    assert niv2.register_from_environment() == ["niv2_task1_ok_zs_noopt", "niv2_task1_ok_fs_noopt"]
    monkeypatch.setenv(sources.NIV2_ON_ERROR_ENV, "ignore")
    with pytest.raises(ValueError, match="FLAN_JAX_NIV2_ON_ERROR='ignore': set it to 'skip'"):
        niv2.register_from_environment()


def test_missing_dir_message(clean_registries, tmp_path, monkeypatch):
    monkeypatch.delenv(sources.NIV2_ENV, raising=False)
    with pytest.raises(sources.DataSourceError, match="github.com/allenai/natural-instructions.*FLAN_JAX_NIV2_DIR"):
        niv2.register(tmp_path / "absent")
    assert niv2.register(tmp_path / "absent", on_missing="ignore") == []


def test_few_shot_states_the_definition_once_then_positive_examples(clean_registries, tmp_path):
    task = niv2_task(definition="Add the two numbers.")
    task["Positive Examples"] = [{"input": f"{i} {i}", "output": str(2 * i)} for i in range(1, 6)]
    root = write_niv2(tmp_path, {"task1_add": task}, train=["task1_add"])
    niv2.register(root)
    instances = {"2 3", "1 4"}
    for instance in seqio.TaskRegistry.get("niv2_task1_add_fs_noopt").source.iter_examples("train"):
        template = niv2.TEMPLATES.templates[instance["_template_idx"]]
        instruction = template.instruction.format(definition="Add the two numbers.")
        query = next(q for q in instances if q in instance["inputs"])
        # Definition once, first; then the first three positive examples in order; the instance last.
        candidates = [
            instruction + "\n\n" + outer.join(
                [template.inputs.format(input=f"{i} {i}") + inner + str(2 * i) for i in (1, 2, 3)]
                + [template.inputs.format(input=query) + inner.rstrip()])
            for inner, outer in niv2.SEPARATORS
        ]
        assert instance["inputs"] in candidates, instance["inputs"]
        assert instance["inputs"].count("Add the two numbers.") == 1 and "4 4" not in instance["inputs"]
    zero = next(seqio.TaskRegistry.get("niv2_task1_add_zs_noopt").source.iter_examples("train"))
    template = niv2.TEMPLATES.templates[zero["_template_idx"]]
    assert zero["inputs"] == (template.instruction.format(definition="Add the two numbers.") + "\n\n"
                              + template.inputs.format(input="2 3" if "2 3" in zero["inputs"] else "1 4"))
    # A tight budget drops positive examples (farthest first), never the definition or the instance.
    seqio.TaskRegistry.reset()
    niv2.register(root, formats=["fs_noopt"], max_input_length=90)
    tight = next(seqio.TaskRegistry.get("niv2_task1_add_fs_noopt").source.iter_examples("train"))
    assert "Add the two numbers." in tight["inputs"] and "1 1" not in tight["inputs"]
