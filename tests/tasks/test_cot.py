"""CoT: the real Flan TSVs render as rationale + "So the answer is X.", and invert to the question."""
import logging

import pytest
import seqio

from flan_jax.data import registry, sources
from flan_jax_tasks import cot


@pytest.fixture
def cot_dir(shared_data):
    return shared_data / "flan_v2/flan/v2/cot_data"


def test_present_files_register_absent_logged_once(clean_registries, cot_dir, caplog):
    with caplog.at_level(logging.WARNING):
        names = cot.register(cot_dir)
    present = [d for d in cot.DATASETS if (cot_dir / f"{d}_train.tsv").is_file()]
    assert len(present) == 7
    assert names == [f"cot_{d}_{f}" for d in present for f in ("cot", "fs_cot", "inv")]
    assert registry.tasks_in("cot") == sorted(names)
    lines = [r.getMessage() for r in caplog.records if "CoT collection" in r.getMessage()]
    assert len(lines) == 1 and "esnli_train.tsv" in lines[0] and "qed_train.tsv" in lines[0]


def test_cot_target_is_rationale_then_answer(clean_registries, cot_dir):
    cot.register(cot_dir, datasets=["gsm8k", "aqua"])
    rows = sources.read_cot_tsv(cot_dir / "gsm8k_train.tsv")
    task = seqio.TaskRegistry.get("cot_gsm8k_cot")
    example = next(iter(task.get_dataset(sequence_length=None, split="train", shuffle=False).as_numpy_iterator()))
    inputs, targets = example["inputs_pretokenized"].decode(), example["targets_pretokenized"].decode()
    assert rows[0]["question"] in inputs
    assert targets == f"{rows[0]['rationale']} So the answer is 72."
    assert registry.postprocess_answer(targets) == "72"
    fs = next(seqio.TaskRegistry.get("cot_aqua_fs_cot").source.iter_examples("train"))
    assert fs["inputs"].count("So the answer is") >= 1 and fs["targets"].endswith("So the answer is (C).")


def test_inversion_maps_answer_and_rationale_to_question(clean_registries, cot_dir):
    cot.register(cot_dir, datasets=["strategyqa"], formats=["inv"])
    row = sources.read_cot_tsv(cot_dir / "strategyqa_train.tsv")[0]
    rendered = next(seqio.TaskRegistry.get("cot_strategyqa_inv").source.iter_examples("train"))
    assert rendered["targets"] == row["question"]
    assert row["rationale"][:40] in rendered["inputs"] and row["answer"] in rendered["inputs"]


def test_missing_dir_message(clean_registries, monkeypatch, tmp_path):
    monkeypatch.delenv(sources.COT_ENV, raising=False)
    with pytest.raises(sources.DataSourceError, match="FLAN_JAX_COT_DIR"):
        cot.register()
    assert cot.register(tmp_path / "absent", on_missing="ignore") == []
