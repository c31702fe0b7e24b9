"""Dialog: next-turn and inversion tasks render on tfds mock data; field mapping before/after."""
import pytest
import seqio
import tensorflow_datasets as tfds

from flan_jax.data import registry
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
    names = dialog.register()
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
