"""Flan 2021: registered TFDS tasks render on tfds mock data (no download)."""
import pytest
import seqio
import tensorflow_datasets as tfds

from flan_jax.data import registry
from flan_jax_tasks import flan2021


@pytest.fixture
def registered(clean_registries):
    return flan2021.register()


def test_every_dataset_registers_by_cluster(registered):
    assert set(registry.clusters("flan2021")) == {
        "nli", "commonsense", "sentiment", "paraphrase", "closed_book_qa", "struct_to_text", "translation",
        "reading_comprehension", "coreference", "summarization", "misc"}
    assert "flan2021_rte_zs_opt" in registered and "flan2021_xsum_zs_noopt" in registered
    assert "flan2021_xsum_zs_opt" not in registered  # open-ended: no options formats
    assert registry.tasks_in("flan2021") == sorted(registered)
    for family in (flan2021.NLI, flan2021.SENTIMENT, flan2021.PARAPHRASE, flan2021.CLOSED_BOOK_QA):
        assert 8 <= len(family.templates) <= 10


@pytest.mark.parametrize("task_name, wording", [
    ("flan2021_rte_zs_opt", None),
    ("flan2021_anli_r1_fs_noopt", None),
    ("flan2021_imdb_zs_opt", None),
    ("flan2021_squad_v1_zs_noopt", None),
    ("flan2021_wmt16_de_en_zs_noopt", "English"),
    ("flan2021_common_gen_zs_noopt", None),
])
def test_renders_on_mock_data(registered, task_name, wording):
    task = seqio.TaskRegistry.get(task_name)
    # Mock builders report no split sizes, so seqio must not ask for them (try_in_mem_cache).
    with tfds.testing.mock_data(num_examples=8):
        examples = list(task.get_dataset(sequence_length=None, split="train", shuffle=False,
                                          try_in_mem_cache=False).as_numpy_iterator())
    assert examples
    info = registry.info(task_name)
    templates = flan2021.DATASETS_BY_NAME[info.family[len(flan2021.PREFIX):]].templates.templates
    for ex in examples:
        inputs, targets = ex["inputs_pretokenized"].decode(), ex["targets_pretokenized"].decode()
        assert inputs and targets and len(ex["inputs"]) > 0
        template = templates[ex["_template_idx"]]
        # The template's fixed text (its longest literal line) is in the rendered inputs.
        literal = max((part for part in template.inputs.replace("}", "{").split("{")[::2]), key=len).strip()
        assert literal.split("\n")[0] in inputs
        if wording:
            assert wording in inputs


def test_unprepared_tfds_data_reported_unavailable(clean_registries, tmp_path):
    from flan_jax.data import sources

    flan2021.register(datasets=["rte"], formats=["zs_opt"], tfds_data_dir=str(tmp_path))
    assert not sources.data_available(seqio.TaskRegistry.get("flan2021_rte_zs_opt").source)
