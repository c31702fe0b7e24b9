"""T0-SF: tasks render from local JSON-lines fixtures (through HfDatasetSource) and tfds mock data."""
import json

import pytest
import seqio
import tensorflow_datasets as tfds

from flan_jax.data import registry
from flan_jax_tasks import t0

FIXTURES = {
    "social_i_qa": [{"context": f"Tracy gave {n} apples to Sam.", "question": "How would Sam feel?",
                     "answerA": "grateful", "answerB": "angry", "answerC": "bored", "label": "1"} for n in range(4)],
    "ropes": [{"background": "Acid rain harms trees.", "situation": f"Town {n} has acid rain, town X does not.",
               "question": "Which town has healthier trees?", "answers": {"text": ["town X"]}} for n in range(4)],
    "wiki_qa": [{"question": f"how tall is tower {n}", "answer": "It is 300 m tall.", "label": n % 2}
                for n in range(4)],
    "quail": [{"context": f"Story {n}.", "question": "What happened?", "answers": ["a", "b", "c", "d"],
               "correct_answer_id": 2} for n in range(4)],
}


@pytest.fixture
def fixture_files(tmp_path):
    files = {}
    for name, rows in FIXTURES.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        files[name] = {"train": str(path)}
    return files


def rendered(task_name):
    """The task's examples through seqio: pretokenized strings as "inputs"/"targets", plus metadata."""
    task = seqio.TaskRegistry.get(task_name)
    dataset = task.get_dataset(sequence_length=None, split="train", shuffle=False, try_in_mem_cache=False)
    out = []
    for ex in dataset.as_numpy_iterator():
        assert len(ex["inputs"]) > 0 and len(ex["targets"]) > 0  # tokenized too
        out.append({"inputs": ex["inputs_pretokenized"].decode(), "targets": ex["targets_pretokenized"].decode(),
                    "_template_idx": ex["_template_idx"]})
    return out


def test_registers_every_dataset_by_default(clean_registries):
    names = t0.register()
    assert registry.tasks_in("t0sf") == sorted(names)
    assert {"t0_social_i_qa_zs_opt", "t0_ropes_zs_noopt", "t0_wiki_qa_fs_opt"} <= set(names)
    assert "t0_ropes_zs_opt" not in names  # extractive QA has no options


def test_fixture_tasks_render_with_template_text(clean_registries, fixture_files):
    pytest.importorskip("datasets")
    t0.register(datasets=list(FIXTURES), data_files=fixture_files)
    social = rendered("t0_social_i_qa_zs_noopt")
    assert len(social) == 4 and all(ex["targets"] == "grateful" for ex in social)
    assert all("How would Sam feel?" in ex["inputs"] for ex in social)
    opt = rendered("t0_social_i_qa_zs_opt")
    assert all(ex["targets"] in ("grateful", "(A)", "A") for ex in opt) and all("angry" in ex["inputs"] for ex in opt)
    ropes = rendered("t0_ropes_zs_noopt")
    assert all(ex["targets"] == "town X" and "Acid rain harms trees." in ex["inputs"] for ex in ropes)
    wiki = rendered("t0_wiki_qa_zs_noopt")
    assert [ex["targets"] for ex in wiki] == ["no", "yes", "no", "yes"]
    for ex in wiki:
        literal = max(t0.ANSWER_SELECTION.templates[ex["_template_idx"]].inputs.replace("}", "{").split("{")[::2],
                      key=len).strip()
        assert literal.split("\n")[0] in ex["inputs"]
    assert all(ex["targets"] == "c" for ex in rendered("t0_quail_zs_noopt"))
    fs = rendered("t0_quail_fs_noopt")
    assert all(ex["inputs"].count("What happened?") >= 2 for ex in fs)


def test_tfds_dataset_renders_on_mock_data(clean_registries):
    t0.register(datasets=["cos_e"], formats=["zs_opt"])
    with tfds.testing.mock_data(num_examples=20):
        examples = rendered("t0_cos_e_zs_opt")
    # Mock answers are random strings, rarely among the choices: those rows are dropped, the rest render.
    for ex in examples:
        assert ex["inputs"] and ex["targets"]


def test_unknown_names_are_errors(clean_registries):
    with pytest.raises(ValueError, match=r"Unknown t0sf dataset\(s\) \['nope'\]; known: .*'wiki_qa'"):
        t0.register(datasets=["nope"])
    with pytest.raises(ValueError, match="data_files names unknown"):
        t0.register(data_files={"nope": {"train": "x"}})


def test_cos_e_mapping_before_after():
    prepare = t0.DATASETS_BY_NAME["cos_e"].prepare
    raw = {"question": "Where do you keep milk?", "choices": ["fridge", "oven", "shelf"], "answer": "fridge",
           "abstractive_explanation": "", "extractive_explanation": "", "id": "1"}
    assert prepare(raw) == {"context": "", "question": "Where do you keep milk?",
                            "options": ["fridge", "oven", "shelf"], "answer": "fridge"}
    assert prepare({**raw, "answer": "garage"}) is None


def test_script_only_hub_datasets_read_the_parquet_export(monkeypatch):
    """allenai/social_i_qa's main branch is a loading script `datasets` >= 4 cannot run: the source
    must ask for the Hub's Parquet export, and pass the rows on to `prepare` unchanged."""
    import datasets

    calls = []

    def load_dataset(path, name=None, split=None, data_files=None, **kwargs):
        calls.append((path, name, split, kwargs))
        return [{"context": "Ann lent Bo a pen.", "question": "Why?", "answerA": "kind", "answerB": "rude",
                 "answerC": "late", "label": "1"}]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    dataset = t0.DATASETS_BY_NAME["social_i_qa"]
    rows = t0.source_of(dataset).read("validation")
    assert calls == [("allenai/social_i_qa", None, "validation", {"revision": "refs/convert/parquet"})]
    assert dataset.prepare(rows[0])["answer"] == "kind"
    calls.clear()
    t0.source_of(t0.DATASETS_BY_NAME["duorc"]).read("train")
    assert calls == [("ibm-research/duorc", "SelfRC", "train", {})]
