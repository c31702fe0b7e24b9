"""T0-SF: tasks render from local JSON-lines fixtures (through HfDatasetSource) and tfds mock data."""
import json

import pytest
import seqio
import tensorflow_datasets as tfds

from flan_jax.data import formats, registry
from flan_jax_tasks import t0
from tests.tasks import rendering

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


COS_E_ROWS = [{"question": "Where do you keep milk?", "choices": ["fridge", "oven", "shelf"], "answer": "fridge"},
              {"question": "What do you sit on?", "choices": ["chair", "lamp", "cup"], "answer": "garage"}]


def test_tfds_dataset_renders_on_mock_data(clean_registries):
    t0.register(datasets=["cos_e"], formats=["zs_opt"])
    # Rows in the builder's own format; random mock answers are rarely among the choices, so every
    # row would be dropped and nothing checked.
    with tfds.testing.mock_data(as_dataset_fn=rendering.tfds_rows({"cos_e": COS_E_ROWS})):
        examples = rendered("t0_cos_e_zs_opt")
    assert len(examples) == 1  # the second row's answer is not a choice: dropped
    assert examples[0]["targets"] in ("fridge", "(A)", "A") and "Where do you keep milk?" in examples[0]["inputs"]
    assert "oven" in examples[0]["inputs"]


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


# ----------------------------------------------------------------------------- the list's additions
STORY = "Ada Lovelace was born in London in 1815. She wrote the first program for an engine."
HUB_ROWS = {  # rows as the Hub datasets hold them (the fields read, plus their neighbours)
    "duorc_paraphrase_rc": [{"plot_id": "p1", "plot": STORY, "title": "Ada", "question_id": "q1",
                             "question": "Where was Ada born?", "answers": ["London"], "no_answer": False},
                            {"plot_id": "p1", "plot": STORY, "title": "Ada", "question_id": "q2",
                             "question": "Who was her dog?", "answers": [], "no_answer": True}],
    "dream": [{"id": 0, "dialogue_id": "5-510", "dialogue": ["M: Is the shop open?", "W: Only until six."],
               "question": "When does the shop close?", "choice": ["At five.", "At six.", "At seven."],
               "answer": "At six."},
              {"id": 1, "dialogue_id": "5-511", "dialogue": ["W: Tea?", "M: Coffee, please."],
               "question": "What does the man want?", "choice": ["Tea.", "Coffee.", "Water."], "answer": "Coffee."}],
    "quarel": [{"id": "QuaRel_1", "answer_index": 1, "logical_forms": ["(infer (speed lower world1))"],
                "logical_form_pretty": "", "world_literals": {"world1": ["snow"], "world2": ["ice"]},
                "question": "Mike slid faster on the ice because _____ is smoother. (A) snow (B) ice"},
               {"id": "QuaRel_2", "answer_index": 0, "logical_forms": [], "logical_form_pretty": "",
                "world_literals": {"world1": ["carpet"], "world2": ["floor"]},
                "question": "A ball rolls less far on carpet, which has (A) more friction (B) less friction"}],
    "quartz": [{"id": "QRQA-1", "question": "If you go higher, the air is", "para": "Air is thinner higher up.",
                "choices": {"text": ["thinner", "thicker"], "label": ["A", "B"]}, "answerKey": "A",
                "para_id": "QRSent-1"},
               {"id": "QRQA-2", "question": "A colder day means the water is", "para": "Cold water is denser.",
                "choices": {"text": ["denser", "lighter"], "label": ["A", "B"]}, "answerKey": "A",
                "para_id": "QRSent-2"}],
    "race_high": [{"example_id": "high1.txt", "article": STORY, "question": "Where was Ada born?",
                   "options": ["Paris", "London", "Rome", "Oslo"], "answer": "B"},
                  {"example_id": "high1.txt", "article": STORY, "question": "When was she born?",
                   "options": ["1815", "1900", "1700", "2001"], "answer": "A"}],
    "race_middle": [{"example_id": "middle1.txt", "article": "Tom has a red bike.", "question": "What colour?",
                     "options": ["red", "blue", "green", "black"], "answer": "A"},
                    {"example_id": "middle1.txt", "article": "Tom has a red bike.", "question": "Whose bike?",
                     "options": ["Ann's", "Tom's", "Sue's", "Bo's"], "answer": "B"}],
    "sciq": [{"question": "What gas do plants take in?", "distractor1": "oxygen", "distractor2": "helium",
              "distractor3": "neon", "correct_answer": "carbon dioxide", "support": "Plants use carbon dioxide."},
             {"question": "What is frozen water?", "distractor1": "steam", "distractor2": "fog",
              "distractor3": "dew", "correct_answer": "ice", "support": ""}],
    "wiki_hop": [{"id": "WH_train_0", "query": "country_of_citizenship maikki uotila", "answer": "finland",
                  "candidates": ["canada", "finland", "sweden"], "supports": ["Maikki Uotila is a Finnish ice dancer."]},
                 {"id": "WH_train_1", "query": "located_in_the_administrative_territorial_entity troy",
                  "answer": "michigan", "candidates": ["michigan", "ohio"], "supports": ["Troy is a city in Michigan."]}],
    "amazon_polarity": [{"label": 1, "title": "Great kettle", "content": "Boils fast and looks nice."},
                        {"label": 0, "title": "Broke", "content": "Stopped working after a week."}],
    "app_reviews": [{"package_name": "com.example.notes", "review": "Works well, syncs fast.",
                     "date": "October 12 2016", "star": 5},
                    {"package_name": "com.example.maps", "review": "Crashes on start.", "date": "May 1 2017",
                     "star": 1}],
    "dbpedia_14": [{"label": 0, "title": "Acme Corp", "content": "Acme Corp is a maker of anvils."},
                   {"label": 9, "title": "Red fox", "content": "The red fox is a mammal."}],
    "kilt_tasks_hotpotqa": [{"id": "5a8b", "input": "Which city hosted both the 1900 and 1924 Olympics?",
                             "meta": {"left_context": "", "right_context": ""},
                             "output": [{"answer": "Paris", "meta": {"score": 0}, "provenance": []}]},
                            {"id": "5a8c", "input": "Who wrote Hamlet?", "meta": {"left_context": "", "right_context": ""},
                             "output": [{"answer": "Shakespeare", "meta": {"score": 0}, "provenance": []}]}],
}
TFDS_ROWS = {
    "qasc": [{"question": "What do plants need to grow?", "fact1": "Plants need light.", "fact2": "The sun gives light.",
              "choices": {"label": ["A", "B"], "text": ["sunlight", "darkness"]}, "answerKey": "A"},
             {"question": "What melts ice?", "fact1": "Heat melts ice.", "fact2": "Fire is hot.",
              "choices": {"label": ["A", "B"], "text": ["cold", "heat"]}, "answerKey": "B"}],
    "web_questions": [{"question": "what is the capital of peru?", "answers": ["Lima"]},
                      {"question": "who founded apple?", "answers": ["Steve Jobs", "Steve Wozniak"]}],
    "wiki_bio": [{"input_text": {"table": {"column_header": ["name", "birth_date", "image"],
                                           "content": ["ada lovelace", "10 december 1815", "<none>"],
                                           "row_number": [1, 1, 1]}, "context": "ada lovelace"},
                  "target_text": "ada lovelace was an english mathematician .\n"},
                 {"input_text": {"table": {"column_header": ["name"], "content": ["alan turing"], "row_number": [1]},
                                 "context": "alan turing"}, "target_text": "alan turing was a computer scientist ."}],
}
# dataset -> (mapped rows, the first example's zs_noopt target)
EXPECTED = {
    "duorc_paraphrase_rc": (1, "London"), "dream": (2, "At six."), "quarel": (2, "ice"), "quartz": (2, "thinner"),
    "race_high": (2, "London"), "race_middle": (2, "red"), "sciq": (2, "carbon dioxide"), "wiki_hop": (2, "finland"),
    "amazon_polarity": (2, "positive"), "app_reviews": (2, "5"), "dbpedia_14": (2, "Company"),
    "kilt_tasks_hotpotqa": (2, "Paris"), "qasc": (2, "sunlight"), "web_questions": (2, "Lima"),
    "wiki_bio": (2, "ada lovelace was an english mathematician ."),
}


def test_list_additions_render_every_format_on_fixture_rows(clean_registries, tmp_path):
    """Each dataset added for the Flan 2022 list: Hub datasets from JSON-lines rows with the Hub's
    fields (through HfDatasetSource), TFDS ones from rows in the builder's own format; mapped and
    rendered in every format T0-SF registers."""
    pytest.importorskip("datasets")
    files = {name: {"train": rendering.write_jsonl(tmp_path, name, rows)} for name, rows in HUB_ROWS.items()}
    names = t0.register(datasets=list(EXPECTED), data_files=files)
    assert {registry.info(n).format for n in names} == set(t0.FORMATS)  # no inversion in T0-SF
    with tfds.testing.mock_data(as_dataset_fn=rendering.tfds_rows(TFDS_ROWS)):
        for dataset, (count, target) in EXPECTED.items():
            family = t0.PREFIX + dataset
            rendered = rendering.render_every_format(family)
            supported = {f.suffix for f in formats.applicable_formats(t0.DATASETS_BY_NAME[dataset].templates)}
            assert set(rendered) == supported & set(t0.FORMATS)
            rendering.check_rendered(family, rendered, count)
            assert rendered["zs_noopt"][0]["targets"] == target, dataset


def test_new_field_mappings_before_after():
    wiki_hop = t0.DATASETS_BY_NAME["wiki_hop"].prepare
    row = HUB_ROWS["wiki_hop"][0]
    assert wiki_hop(row) == {"context": "Maikki Uotila is a Finnish ice dancer.",
                             "question": "What is the country of citizenship of maikki uotila?",
                             "options": ["canada", "finland", "sweden"], "answer": "finland"}
    assert wiki_hop({**row, "candidates": [f"c{i}" for i in range(t0.MAX_OPTIONS)] + ["finland"]}) is None
    sciq = t0.DATASETS_BY_NAME["sciq"].prepare(HUB_ROWS["sciq"][0])
    assert sorted(sciq["options"]) == ["carbon dioxide", "helium", "neon", "oxygen"]
    quarel = t0.DATASETS_BY_NAME["quarel"].prepare(HUB_ROWS["quarel"][0])
    assert quarel["question"] == "Mike slid faster on the ice because _____ is smoother." and quarel["options"] == ["snow", "ice"]
