"""Flan 2021: registered TFDS tasks render on tfds mock data (no download), the datasets added for
the Flan 2022 list on fixture rows in their builders' formats."""
import pytest
import seqio
import tensorflow_datasets as tfds

from flan_jax.data import formats, registry
from flan_jax_tasks import flan2021
from tests.tasks import rendering


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


# ----------------------------------------------------------------------------- the list's additions
PASSAGE = "Ada Lovelace was born in London in 1815. She wrote the first program for Babbage's engine."
FIXTURE_ROWS = {
    "glue/cola": [{"sentence": "The book was read by Mary.", "label": 1},
                  {"sentence": "Book the read Mary was.", "label": 0}],
    "super_glue/wic": [{"sentence1": "He sat on the bank of the river.", "sentence2": "She works at the bank.",
                        "word": "bank", "label": 0},
                       {"sentence1": "Light the fire.", "sentence2": "She lit the fire.", "word": "light", "label": 1}],
    "sentiment140": [{"text": "loving the sunshine today", "polarity": 4},
                     {"text": "my flight got cancelled again", "polarity": 0},
                     {"text": "it is tuesday", "polarity": 2}],  # neutral: test split only, dropped
    "lambada": [{"passage": "She opened the door and hugged her old friend\n"},
                {"passage": "The cat slept all day on the warm windowsill"}],
    "math_dataset/algebra__linear_1d": [{"question": "Solve 3*x + 2 = 11 for x.", "answer": "3"},
                                        {"question": "Solve -2*k = 8 for k.", "answer": "-4"}],
    "para_crawl/enda": [{"en": "Paris is the capital of France.", "da": "Paris er Frankrigs hovedstad."},
                        {"en": "Open the window, please.", "da": "Luk vinduet op."}],
    "unified_qa/ai2_science_middle": [
        {"input": "Which part of a plant makes food? \\n (A) root (B) leaf (C) stem (D) flower", "output": "leaf"},
        {"input": "What do bees make? \\n (A) milk (B) silk (C) honey (D) wax", "output": "honey"},
        {"input": "Is ice cold? \\n (A) yes (B) no", "output": "yes"}],  # two options: dropped, as in Flan
    "trivia_qa/rc": [{"question": "Which planet is called the Red Planet?", "answer": {"value": "Mars"}},
                     {"question": "Who wrote Hamlet?", "answer": {"value": "Shakespeare"},
                      "entity_pages": {"title": ["Hamlet"], "wiki_context": ["Hamlet is a tragedy."]}}],
    "coqa": [{"story": PASSAGE, "questions": ["Who was born in 1815?", "Where?"],
              "answers": {"input_text": ["Ada Lovelace", "London"], "answer_start": [0, 25], "answer_end": [12, 31]}},
             {"story": "Bob has a dog.", "questions": ["What does Bob have?"],
              "answers": {"input_text": ["a dog"], "answer_start": [8], "answer_end": [13]}}],
    "quac": [{"title": "Ada Lovelace", "section_title": "Early life", "background": "An English mathematician.",
              "context": PASSAGE + " CANNOTANSWER", "question": "Where was she born?",
              "orig_answer": {"text": "London", "answer_start": 25}},
             {"title": "Ada Lovelace", "section_title": "Death", "context": PASSAGE + " CANNOTANSWER",
              "question": "What was her favourite food?", "orig_answer": {"text": "CANNOTANSWER"}}],
    "squad/v2.0": [{"context": PASSAGE, "question": "When was Ada born?", "answers": {"text": ["1815"]}},
                   {"context": PASSAGE, "question": "When did Ada die?", "is_impossible": True}],
    "super_glue/record": [
        {"passage": "Alice beat Bob in the final.\n@highlight\nAlice wins", "query": "@placeholder lifted the cup.",
         "entities": ["Alice", "Bob", "Alice"], "answers": ["Alice"]},
        {"passage": "Carol met Dan.", "query": "@placeholder smiled.", "entities": ["Carol", "Dan"],
         "answers": ["Dan"]}],
    "multi_news": [{"document": "Storms hit the coast. ||||| Thousands lost power.", "summary": "Storms cut power."},
                   {"document": "A new bridge opened.", "summary": "Bridge opens."}],
    "newsroom": [{"text": "The city council voted to add bike lanes.", "summary": "Council backs bike lanes.",
                  "title": "Bike lanes"},
                 {"text": "Rain is expected all week.", "summary": "A wet week ahead."}],
    "samsum": [{"dialogue": "Ann: Lunch?\r\nBen: Sure, at noon.", "summary": "Ann and Ben have lunch at noon."},
               {"dialogue": "Cy: Late!\r\nDi: ok", "summary": "Cy is late."}],
    "gem/wiki_lingua_english_en": [{"source": "Fill a pot with water. Boil it.", "target": "Boil water."},
                                   {"source": "Open the app. Tap settings.", "target": "Open the settings."}],
    "opinion_abstracts/idebate": [{"_debate_name": "School uniforms", "_claim": "Uniforms reduce bullying.",
                                   "_argument_sentences": {"key": ["0", "1"], "value": [
                                       "Children cannot be mocked for cheap clothes.", "Everyone looks alike."]}},
                                  {"_debate_name": "Homework", "_claim": "Homework helps.",
                                   "_argument_sentences": {"key": ["0"], "value": ["Practice builds skill."]}}],
    "opinion_abstracts/rotten_tomatoes": [{"_movie_name": "the_iron_giant", "_critic_consensus": "A warm classic.",
                                           "_critics": {"key": ["a", "b"], "value": ["Moving.", "Beautiful."]}},
                                          {"_movie_name": "cats", "_critic_consensus": "A misfire.",
                                           "_critics": {"key": ["a"], "value": ["Baffling."]}}],
    "cosmos_qa": [{"context": "I missed the bus, so I walked.", "question": "Why did I walk?",
                   "answer0": "I missed the bus.", "answer1": "I like rain.", "answer2": "It was far.",
                   "answer3": "None of the above choices.", "label": 0},
                  {"context": "She baked bread.", "question": "What did she make?", "answer0": "bread",
                   "answer1": "soup", "answer2": "tea", "answer3": "jam", "label": 0}],
    **{f"wmt16_translate/{lang}-en": [{lang: f"({lang}) good morning", "en": "good morning"},
                                      {lang: f"({lang}) thank you", "en": "thank you"}]
       for lang in ("cs", "fi", "ru", "tr")},
    "wmt14_translate/fr-en": [{"fr": "bonjour", "en": "hello"}, {"fr": "merci", "en": "thank you"}],
    "para_crawl/enes": [{"en": "hello", "es": "hola"}, {"en": "thank you", "es": "gracias"}],
}
# dataset -> (mapped rows, {format: the first example's target}) on FIXTURE_ROWS.
EXPECTED = {
    "cola": (2, {"zs_noopt": "acceptable"}),
    "wic": (2, {"zs_noopt": "different meanings"}),
    "sentiment140": (2, {"zs_noopt": "positive", "inv": "loving the sunshine today"}),
    "lambada": (2, {"zs_noopt": "friend", "inv": "She opened the door and hugged her old"}),
    "math_dataset": (2, {"zs_noopt": "3", "inv": "Solve 3*x + 2 = 11 for x."}),
    "true_case": (2, {"zs_noopt": "Paris is the capital of France.", "inv": "paris is the capital of france."}),
    "fix_punct": (2, {"zs_noopt": "Paris is the capital of France.", "inv": "Paris is the capital of France"}),
    "word_segment": (2, {"zs_noopt": "Paris is the capital of France.", "inv": "ParisisthecapitalofFrance."}),
    "unified_qa_science_inst": (2, {"zs_noopt": "leaf", "inv": "Which part of a plant makes food?"}),
    "trivia_qa_wiki_missing": (1, {"zs_noopt": "Mars"}),
    "coqa": (2, {"zs_noopt": "1. Ada Lovelace\n2. London", "inv": "1. Who was born in 1815?\n2. Where?"}),
    "quac": (1, {"zs_noopt": "London", "inv": "Where was she born?"}),
    "squad_v2": (2, {"zs_noopt": "1815"}),
    "record": (2, {"zs_noopt": "Alice", "inv": "Alice lifted the cup."}),
    "multi_news": (2, {"zs_noopt": "Storms cut power."}),
    "newsroom": (2, {"zs_noopt": "Council backs bike lanes."}),
    "samsum": (2, {"zs_noopt": "Ann and Ben have lunch at noon."}),
    "wiki_lingua_english_en": (2, {"zs_noopt": "Boil water."}),
    "opinion_abstracts_idebate": (2, {"zs_noopt": "Uniforms reduce bullying.",
                                      "inv": "1. Children cannot be mocked for cheap clothes.\n2. Everyone looks alike."}),
    "opinion_abstracts_rotten_tomatoes": (2, {"zs_noopt": "A warm classic."}),
    "cosmos_qa": (2, {"zs_noopt": "I missed the bus.", "inv": "Why did I walk?"}),
    **{f"wmt16_{lang}_en": (2, {"zs_noopt": "good morning", "inv": f"({lang}) good morning"})
       for lang in ("cs", "fi", "ru", "tr")},
    **{f"wmt16_en_{lang}": (2, {"zs_noopt": f"({lang}) good morning"}) for lang in ("cs", "fi", "ru", "tr")},
    "wmt14_fr_en": (2, {"zs_noopt": "hello"}),
    "wmt14_en_fr": (2, {"zs_noopt": "bonjour"}),
    "para_crawl_en_es": (2, {"zs_noopt": "hola"}),
    "para_crawl_es_en": (2, {"zs_noopt": "hello", "inv": "hola"}),
}


def test_list_additions_render_every_format_on_fixture_rows(clean_registries):
    """Each dataset added for the Flan 2022 list, from its TFDS builder (rows in the builder's own
    feature structure), mapped and rendered in every format it registers."""
    names = flan2021.register(datasets=list(EXPECTED))
    assert {registry.info(n).format for n in names} == {"zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "inv"}
    with tfds.testing.mock_data(as_dataset_fn=rendering.tfds_rows(FIXTURE_ROWS)):
        for dataset, (count, targets) in EXPECTED.items():
            family = flan2021.PREFIX + dataset
            rendered = rendering.render_every_format(family)
            supported = {f.suffix for f in formats.applicable_formats(flan2021.DATASETS_BY_NAME[dataset].templates)}
            assert set(rendered) == supported and "inv" in rendered
            rendering.check_rendered(family, rendered, count)
            for fmt, target in targets.items():
                assert rendered[fmt][0]["targets"] == target, (dataset, fmt)


def test_list_addition_through_the_seqio_pipeline(clean_registries):
    """The tokenized seqio pipeline of one addition, end to end (the others share its code path)."""
    flan2021.register(datasets=["record"], formats=["zs_opt"])
    task = seqio.TaskRegistry.get("flan2021_record_zs_opt")
    with tfds.testing.mock_data(as_dataset_fn=rendering.tfds_rows(FIXTURE_ROWS)):
        examples = list(task.get_dataset(sequence_length=None, split="train", shuffle=False,
                                         try_in_mem_cache=False).as_numpy_iterator())
    assert len(examples) == 2
    first = examples[0]
    assert first["targets_pretokenized"].decode() in ("Alice", "(A)", "A") and len(first["targets"]) > 0
    assert "Bob" in first["inputs_pretokenized"].decode() and "@highlight" not in first["inputs_pretokenized"].decode()


def test_new_field_mappings_before_after():
    science = flan2021.DATASETS_BY_NAME["unified_qa_science_inst"].prepare
    assert science({"input": "What do bees make? \\n (A) milk (B) silk (C) honey (D) wax", "output": "honey"}) == {
        "question": "What do bees make?", "options": ["milk", "silk", "honey", "wax"], "answer": "honey"}
    record = flan2021.DATASETS_BY_NAME["record"].prepare
    too_many = {"passage": "p", "query": "@placeholder won.", "answers": ["e0"],
                "entities": [f"e{i}" for i in range(flan2021.MAX_OPTIONS + 1)]}
    assert record(too_many) is None
    assert flan2021.DATASETS_BY_NAME["true_case"].prepare({"en": "all lower case."}) is None
