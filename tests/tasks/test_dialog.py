"""Dialog: next-turn and inversion tasks render on tfds mock data and on QReCC / Taskmaster fixture files
written in the releases' formats; field mapping before/after; missing or malformed releases."""
import json
import logging

import pytest
import seqio
import tensorflow_datasets as tfds

from flan_jax.data import registry, sources
from flan_jax_tasks import dialog


def test_dialog_fields_before_after():
    fields = dialog.dialog_fields(["hi", "hello, how can I help?", "book a table"], ["User", "Assistant", "User"], "bg")
    assert fields == {
        "background": "bg",
        "conversation": "User: hi\nAssistant: hello, how can I help?",
        "history": "User: hi",
        "previous": "hello, how can I help?",
        "response": "book a table",
    }
    assert dialog.dialog_fields(["only one"], ["User"], "bg") is None


@pytest.mark.parametrize("task_name", ["dialog_wiki_dialog_zs_noopt", "dialog_wiki_dialog_inv",
                                       "dialog_schema_guided_dialogue_fs_noopt"])
def test_renders_on_mock_data(clean_registries, task_name):
    names = dialog.register(["wiki_dialog", "schema_guided_dialogue"])
    assert registry.tasks_in("dialog") == sorted(names) and len(names) == 6
    task = seqio.TaskRegistry.get(task_name)
    # Mock builders report no split sizes, so seqio must not ask for them (try_in_mem_cache).
    with tfds.testing.mock_data(num_examples=12):
        examples = list(task.get_dataset(sequence_length=None, split="train", shuffle=False,
                                         try_in_mem_cache=False).as_numpy_iterator())
    assert examples
    for ex in examples:
        inputs, targets = ex["inputs_pretokenized"].decode(), ex["targets_pretokenized"].decode()
        assert inputs and targets
        group = dialog.TEMPLATES.inversion_templates if task_name.endswith("_inv") else dialog.TEMPLATES.templates
        template = group[ex["_template_idx"]]
        literal = max(template.inputs.replace("}", "{").split("{")[::2], key=len).strip()
        assert literal in inputs
        assert any(line.split(":")[0] in ("Reader", "Writer", "User", "Assistant") for line in inputs.split("\n")) \
            or "(start of conversation)" in inputs


# --------------------------------------------------------------------------- file releases
def _utterances(*turns):
    """Taskmaster utterances: (speaker, text) pairs with the release's keys."""
    return [{"index": i, "speaker": speaker, "text": text, "segments": []} for i, (speaker, text) in enumerate(turns)]


def _tm_dialog(dialog_id, **extra):
    return {"conversation_id": dialog_id, "utterances": _utterances(
        ("USER", f"Hi, I need help ({dialog_id})."), ("ASSISTANT", "Sure, with what?"),
        ("USER", "A table for two."), ("USER", "Tonight at seven."),
        ("ASSISTANT", f"Booked for {dialog_id}."), ("USER", "Thanks!")), **extra}


def write_releases(root):
    """QReCC and Taskmaster-1/2/3 fixtures in the releases' file formats and layout."""
    qrecc = root / "qrecc"
    qrecc.mkdir()
    row = {"Context": ["Who wrote Dune?", "Frank Herbert wrote Dune."], "Question": "When was it published?",
           "Rewrite": "When was Dune published?", "Answer": "Dune was published in 1965.",
           "Answer_URL": "https://example.org/dune", "Conversation_no": 1, "Turn_no": 2,
           "Conversation_source": "quac"}
    first = {**row, "Context": [], "Question": "Who wrote Dune?", "Answer": "Frank Herbert wrote Dune.", "Turn_no": 1}
    (qrecc / "qrecc_train.json").write_text(json.dumps([first, row, {**row, "Answer": ""}]))
    (qrecc / "qrecc_test.json").write_text(json.dumps([{**row, "Conversation_no": 9}]))
    tm = root / "Taskmaster"
    (tm / "TM-1-2019" / "train-dev-test").mkdir(parents=True)
    self_dialogs = [_tm_dialog(f"dlg-self-{i}", instruction_id="restaurant-table-2") for i in range(6)]
    (tm / "TM-1-2019" / "self-dialogs.json").write_text(json.dumps(self_dialogs))
    (tm / "TM-1-2019" / "woz-dialogs.json").write_text(
        json.dumps([_tm_dialog("dlg-woz-0", instruction_id="pizza-ordering-1")]))
    for split, ids in (("train", [0, 1, 2, 3]), ("dev", [4]), ("test", [5])):
        (tm / "TM-1-2019" / "train-dev-test" / f"{split}.csv").write_text("".join(f"dlg-self-{i},\n" for i in ids))
    (tm / "TM-2-2020" / "data").mkdir(parents=True)
    for domain in ("flights", "restaurant-search"):
        (tm / "TM-2-2020" / "data" / f"{domain}.json").write_text(
            json.dumps([_tm_dialog(f"dlg-{domain}-{i}", instruction_id=f"{domain}-1") for i in range(30)]))
    (tm / "TM-3-2020" / "data").mkdir(parents=True)
    for n in range(2):
        (tm / "TM-3-2020" / "data" / f"data_{n:02d}.json").write_text(json.dumps(
            [_tm_dialog(f"dlg-tm3-{n}-{i}", vertical="Movie Tickets", instructions="", scenario="")
             for i in range(30)]))
    return qrecc, tm


def test_qrecc_fields_before_after():
    row = {"Context": ["Who wrote Dune?", "Frank Herbert."], "Question": "When?", "Answer": "In 1965."}
    assert dialog.qrecc_fields(row) == {
        "background": dialog.QRECC_BACKGROUND,
        "conversation": "User: Who wrote Dune?\nAssistant: Frank Herbert.\nUser: When?",
        "history": "User: Who wrote Dune?\nAssistant: Frank Herbert.",
        "previous": "When?",
        "response": "In 1965.",
    }
    assert dialog.qrecc_fields({**row, "Answer": " "}) is None


def test_taskmaster_fields_join_turns_and_end_on_an_assistant_turn():
    fields = dialog.taskmaster_fields(_tm_dialog("dlg-x"), "bg")
    # One speaker's consecutive utterances form one turn; the target is an assistant turn.
    assert fields["response"] in ("Sure, with what?", "Booked for dlg-x.")
    if fields["response"] == "Booked for dlg-x.":
        assert fields["previous"] == "A table for two. Tonight at seven."
        assert fields["conversation"].endswith("Assistant: Sure, with what?\nUser: A table for two. Tonight at seven.")
    else:
        assert fields["conversation"] == "User: Hi, I need help (dlg-x)."
        assert fields["history"] == "(start of conversation)"
    only_user = {"conversation_id": "dlg-y", "utterances": _utterances(("USER", "hello"), ("USER", "anyone?"))}
    assert dialog.taskmaster_fields(only_user, "bg") is None


def test_file_releases_register_and_render(clean_registries, tmp_path):
    qrecc, tm = write_releases(tmp_path)
    names = dialog.register(["qrecc", "taskmaster1", "taskmaster2", "taskmaster3"], qrecc_dir=qrecc,
                            taskmaster_dir=tm)
    assert len(names) == 12 and registry.tasks_in("dialog") == sorted(names)
    source = seqio.TaskRegistry.get("dialog_qrecc_zs_noopt").source
    train = list(source.iter_examples("train"))
    # The row with an empty answer is dropped; targets are the answers.
    assert sorted(ex["targets"] for ex in train) == ["Dune was published in 1965.", "Frank Herbert wrote Dune."]
    assert [ex["targets"] for ex in source.iter_examples("validation")] == ["Dune was published in 1965."]
    inverted = next(ex for ex in seqio.TaskRegistry.get("dialog_qrecc_inv").source.iter_examples("train")
                    if "1965" in ex["inputs"])
    assert inverted["targets"] == "When was it published?"
    # Taskmaster-1: release splits (dev -> validation, test left out), WOz dialogs in train.
    tm1 = seqio.TaskRegistry.get("dialog_taskmaster1_zs_noopt").source.base
    train_ids = {f["conversation"].split("(")[1].split(")")[0] for f in tm1.read("train")}
    assert train_ids == {"dlg-self-0", "dlg-self-1", "dlg-self-2", "dlg-self-3", "dlg-woz-0"}
    assert ["restaurant table" in f["background"] for f in tm1.read("validation")] == [True]
    # Taskmaster-2/3: every dialog lands in exactly one split, by the hash of its id.
    for name, total in (("taskmaster2", 60), ("taskmaster3", 60)):
        base = seqio.TaskRegistry.get(f"dialog_{name}_zs_noopt").source.base
        assert len(base.read("train")) + len(base.read("validation")) == total
        assert base.read("validation"), name
    tm3 = seqio.TaskRegistry.get("dialog_taskmaster3_fs_noopt")
    examples = list(tm3.get_dataset(sequence_length=None, split="validation", shuffle=False).as_numpy_iterator())
    assert examples
    for ex in examples:
        inputs, target = ex["inputs_pretokenized"].decode(), ex["targets_pretokenized"].decode()
        assert "User: Hi, I need help (dlg-tm3-" in inputs and ex["_template_type"] == b"fs_noopt"
        assert target == "Sure, with what?" or target.startswith("Booked for dlg-tm3-"), target

def test_missing_release_says_what_to_download(clean_registries, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(dialog.QRECC_RELEASE.env, raising=False)
    monkeypatch.delenv(dialog.TASKMASTER_ENV, raising=False)
    with pytest.raises(sources.DataSourceError, match=r"github.com/apple/ml-qrecc.*FLAN_JAX_QRECC_DIR"):
        dialog.register(["qrecc"])
    with pytest.raises(sources.DataSourceError, match=r"taskmaster2: .*lacks \['TM-2-2020/data/\*.json'\]"):
        dialog.register(["taskmaster2"], taskmaster_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        assert dialog.register(["taskmaster2", "wiki_dialog"], taskmaster_dir=tmp_path, on_missing="warn",
                               formats=["zs_noopt"]) == ["dialog_wiki_dialog_zs_noopt"]
    assert "taskmaster2 not registered" in caplog.text
    # By default only releases whose directory is configured are registered.
    seqio.TaskRegistry.reset()
    assert len(dialog.register()) == 6


def test_malformed_release_file_names_file_and_key(clean_registries, tmp_path):
    qrecc, _ = write_releases(tmp_path)
    (qrecc / "qrecc_train.json").write_text(json.dumps([{"Context": [], "Question": "q"}]))
    dialog.register(["qrecc"], qrecc_dir=qrecc, formats=["zs_noopt"])
    with pytest.raises(sources.DataSourceError, match=r"qrecc_train.json.*record 0 lacks key\(s\) \['Answer'\]"):
        next(seqio.TaskRegistry.get("dialog_qrecc_zs_noopt").source.iter_examples("train"))


def test_release_removed_after_registration_is_reported_unavailable(clean_registries, tmp_path):
    qrecc, _ = write_releases(tmp_path)
    dialog.register(["qrecc"], qrecc_dir=qrecc, formats=["zs_noopt"])
    source = seqio.TaskRegistry.get("dialog_qrecc_zs_noopt").source
    assert sources.data_available(source)
    (qrecc / "qrecc_test.json").unlink()
    reason = sources.unavailable_reason(source)
    assert reason.startswith("qrecc: ") and "lacks ['qrecc_test.json']" in reason
    assert "`qrecc_dir` or FLAN_JAX_QRECC_DIR" in reason
