"""Formats: determinism, few-shot exclusion and pruning, CoT, inversion, the templated source."""
import numpy as np
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import formats as F
from flan_jax.data import sources
from flan_jax.data import templates as T

QA = T.TemplateSet(
    templates=[T.Template("Q: {question}\n{options_}", "{answer}"),
               T.Template("Answer this: {question}\n{options_}", "{answer}"),
               T.Template("{question}\nPick the right one.\n{options_}", "{answer}")],
    options_field="options",
    rationale_field="rationale",
    cot_templates=T.chain_of_thought([T.Template("Q: {question}\n{options_}", "{answer}")]),
    inversion_templates=[T.Template("The answer is {answer} because {rationale} What was asked?", "{question}")],
)


def qa(i: int) -> dict:
    return {"question": f"what is {i} + 1?", "options": [str(i + 1), str(i + 2)], "answer": str(i + 1),
            "rationale": f"{i} + 1 = {i + 1}."}


def test_applicable_formats_follow_the_template_set():
    assert [f.suffix for f in F.applicable_formats(QA)] == [
        "zs_opt", "zs_noopt", "fs_opt", "fs_noopt", "cot", "fs_cot", "inv"]
    plain = T.TemplateSet(templates=[T.Template("{x}", "{y}")])
    assert [f.suffix for f in F.applicable_formats(plain)] == ["zs_noopt", "fs_noopt"]
    with pytest.raises(ValueError, match="'plain_cot'.*'cot'.*no cot_templates"):
        F.check_supported(F.COT, plain, "plain_cot")
    with pytest.raises(ValueError, match="known formats"):
        F.get_format("zero_shot")


def test_rendering_is_deterministic_and_uses_every_template():
    first = [F.render_example(qa(i), task_name="t", template_set=QA, fmt=F.ZS_OPT) for i in range(60)]
    again = [F.render_example(qa(i), task_name="t", template_set=QA, fmt=F.ZS_OPT) for i in range(60)]
    assert first == again
    assert {r["template_idx"] for r in first} == {0, 1, 2}
    reseeded = [F.render_example(qa(i), task_name="t", template_set=QA, fmt=F.ZS_OPT, seed=1) for i in range(60)]
    assert reseeded != first
    # Several options styles occur, and lettered ones rewrite the target.
    targets = {r["targets"] for r in first}
    assert any(t.startswith("(") for t in targets) and any(t.isdigit() for t in targets)


def test_zero_shot_noopt_hides_options():
    out = F.render_example(qa(3), task_name="t", template_set=QA, fmt=F.ZS_NOOPT)
    assert "4" not in out["inputs"].replace("3 + 1", "") and out["targets"] == "4"


def test_few_shot_never_uses_the_example_itself():
    example = qa(7)
    pool = [qa(7), dict(qa(7)), qa(1), qa(2), qa(3)]  # the example and a copy of it
    config = F.FewShotConfig(num_exemplars=3)
    out = F.render_example(example, task_name="t", template_set=QA, fmt=F.FS_NOOPT,
                           exemplar_pool=pool, few_shot=config)
    assert out["num_exemplars"] == 3
    assert out["inputs"].count("what is 7 + 1?") == 1  # only the query
    for i in (1, 2, 3):
        assert f"what is {i} + 1?" in out["inputs"]
    alone = F.render_example(example, task_name="t", template_set=QA, fmt=F.FS_NOOPT, exemplar_pool=[qa(7)])
    assert alone["num_exemplars"] == 0


def test_few_shot_prunes_to_the_length_budget():
    pool = [qa(i) for i in range(10, 20)]
    full = F.render_example(qa(1), task_name="t", template_set=QA, fmt=F.FS_OPT, exemplar_pool=pool)
    assert full["num_exemplars"] == 3 and full["inputs"].count("what is") == 4
    budget = len(full["inputs"].encode()) - 5
    pruned = F.render_example(qa(1), task_name="t", template_set=QA, fmt=F.FS_OPT, exemplar_pool=pool,
                              few_shot=F.FewShotConfig(max_input_length=budget))
    assert pruned["num_exemplars"] == 2
    assert len(pruned["inputs"].encode()) <= budget
    assert full["inputs"].endswith(pruned["inputs"])  # the farthest exemplar went first


DEFINED = T.TemplateSet(templates=[T.Template("Input: {x}\nOutput:", "{y}", instruction="Definition: {definition}")],
                        answer_field="y")


def defined(x: int) -> dict:
    return {"definition": "Double the number.", "x": x, "y": 2 * x,
            "demos": [{"x": d, "y": 2 * d} for d in (10, 20, 30, 40)]}


def test_instruction_once_then_exemplars_from_a_field():
    config = F.FewShotConfig(num_exemplars=3, exemplars_field="demos", separators=[(" ", "\n\n")])
    out = F.render_example(defined(4), task_name="t", template_set=DEFINED, fmt=F.FS_NOOPT, few_shot=config)
    assert out == {"inputs": "Definition: Double the number.\n\nInput: 10\nOutput: 20\n\nInput: 20\nOutput: 40\n\n"
                             "Input: 30\nOutput: 60\n\nInput: 4\nOutput:",
                   "targets": "8", "template_idx": 0, "num_exemplars": 3}
    zero = F.render_example(defined(4), task_name="t", template_set=DEFINED, fmt=F.ZS_NOOPT, few_shot=config)
    assert zero["inputs"] == "Definition: Double the number.\n\nInput: 4\nOutput:"


def test_exemplars_field_source_reads_no_exemplar_split(clean_registries):
    """With exemplars_field, a source without a train split still has a few-shot format."""
    from flan_jax.data import registry

    def dataset_fn(split, shuffle_files):
        del split, shuffle_files
        return tf.data.Dataset.from_tensor_slices({"x": np.arange(1, 4)})

    source = seqio.FunctionDataSource(dataset_fn, splits=["test"])
    fields = ["definition", "x", "y", "demos"]
    prepare = lambda ex: defined(int(ex["x"]))  # noqa: E731
    with pytest.raises(ValueError, match="exemplars come from split 'train'"):
        registry.register_family("nodemo", source=source, fields=fields, templates=DEFINED, prepare=prepare,
                                 collection="synthetic", formats=["fs_noopt"])
    with pytest.raises(ValueError, match="exemplars_field='demoz' is not a declared field"):
        registry.register_family("typo", source=source, fields=fields, templates=DEFINED, prepare=prepare,
                                 collection="synthetic", formats=["fs_noopt"],
                                 few_shot=F.FewShotConfig(exemplars_field="demoz"))
    registry.register_family("demo", source=source, fields=fields, templates=DEFINED, prepare=prepare,
                             collection="synthetic", formats=["fs_noopt"],
                             few_shot=F.FewShotConfig(exemplars_field="demos", num_exemplars=1))
    examples = list(seqio.TaskRegistry.get("demo_fs_noopt").source.iter_examples("test"))
    assert [e["inputs"].count("Definition:") for e in examples] == [1, 1, 1]
    assert all("Input: 10" in e["inputs"] and "Input: 20" not in e["inputs"] for e in examples)


def test_few_shot_lettered_exemplars_use_letters_like_the_query():
    pool = [qa(i) for i in range(10, 20)]
    for i in range(30):
        out = F.render_example(qa(i), task_name="t", template_set=QA, fmt=F.FS_OPT, exemplar_pool=pool)
        if out["targets"] == "(A)":
            assert "(A) " in out["inputs"] and out["inputs"].count("(A)") >= 2
            return
    pytest.fail("no example drew a lettered options style in 30 tries")


def test_cot_and_fs_cot_targets():
    out = F.render_example(qa(2), task_name="t", template_set=QA, fmt=F.COT)
    assert out["targets"] in ("2 + 1 = 3. So the answer is 3.", "2 + 1 = 3. So the answer is (A).",
                              "2 + 1 = 3. So the answer is A.")
    assert out["inputs"].startswith("Q: what is 2 + 1?") and "step by step" in out["inputs"]
    fs = F.render_example(qa(2), task_name="t", template_set=QA, fmt=F.FS_COT, exemplar_pool=[qa(5)])
    assert "5 + 1 = 6. So the answer is" in fs["inputs"] and fs["num_exemplars"] == 1


def test_inversion_swaps_question_and_answer():
    out = F.render_example(qa(2), task_name="t", template_set=QA, fmt=F.INV)
    assert out == {"inputs": "The answer is 3 because 2 + 1 = 3. What was asked?",
                   "targets": "what is 2 + 1?", "template_idx": 0, "num_exemplars": 0}


def test_examples_carry_their_options_in_every_format_whose_target_is_the_answer():
    """Rank classification's candidates: the raw options in their order, shown or not; with a lettered
    options style the letters its target uses. Inversion's target is the question: no options."""
    pool = [qa(i) for i in range(10, 20)]
    lettered = set()
    for i in range(30):
        raw = qa(i)["options"]
        for fmt in (F.ZS_NOOPT, F.FS_NOOPT):
            assert F.render_example(qa(i), task_name="t", template_set=QA, fmt=fmt, exemplar_pool=pool)["options"] == raw
        for fmt in (F.ZS_OPT, F.FS_OPT, F.COT, F.FS_COT):
            out = F.render_example(qa(i), task_name="t", template_set=QA, fmt=fmt, exemplar_pool=pool)
            assert out["options"] in (raw, ["(A)", "(B)"], ["A", "B"]), (fmt.suffix, out)
            assert T.extract_cot_answer(out["targets"]) in out["options"], (fmt.suffix, out)
            lettered.add(out["options"] != raw)
    assert lettered == {True, False}  # both kinds of style were drawn
    assert "options" not in F.render_example(qa(2), task_name="t", template_set=QA, fmt=F.INV)
    plain = T.TemplateSet(templates=[T.Template("{question}", "{answer}")])
    assert "options" not in F.render_example(qa(2), task_name="t", template_set=plain, fmt=F.ZS_NOOPT)


def test_to_python_decodes_numpy_values():
    raw = {"a": b"x", "b": np.array([b"p", b"q"]), "c": np.int64(3), "d": {"e": np.array(b"y")}}
    assert sources.to_python(raw) == {"a": "x", "b": ["p", "q"], "c": 3, "d": {"e": "y"}}


def _numbers_source(n=12):
    def dataset_fn(split, shuffle_files):
        del shuffle_files
        offset = 0 if split == "train" else 100
        return tf.data.Dataset.from_tensor_slices({"i": np.arange(offset, offset + n)})
    return seqio.FunctionDataSource(dataset_fn, splits=["train", "validation"],
                                    num_input_examples={"train": n, "validation": n})


def _templated(fmt, **kwargs):
    return F.TemplatedSource(
        _numbers_source(), task_name=f"numbers_{fmt.suffix}", family="numbers", collection="test",
        template_set=QA, fmt=fmt, prepare=lambda ex: qa(ex["i"]) if ex["i"] % 5 else None, **kwargs)


def test_templated_source_yields_strings_and_metadata():
    source = _templated(F.FS_OPT)
    assert source.num_input_examples("train") == 12
    examples = list(source.get_dataset("validation", shuffle=False).as_numpy_iterator())
    assert len(examples) == 9  # prepare dropped 100, 105, 110
    first = examples[0]
    assert first["_task_source"] == b"test" and first["_task_name"] == b"numbers"
    assert first["_template_type"] == b"fs_opt" and first["_template_idx"] in (0, 1, 2)
    assert b"what is 101 + 1?" in first["inputs"]
    assert len(source.exemplar_pool()) == 9 and all(e["question"].startswith("what is") for e in source.exemplar_pool())
    again = list(source.get_dataset("validation", shuffle=False).as_numpy_iterator())
    assert [e["inputs"] for e in again] == [e["inputs"] for e in examples]


def test_templated_source_serves_the_options_in_python_and_tf_data():
    source = _templated(F.ZS_NOOPT)
    served = list(source.get_dataset("validation", shuffle=False).as_numpy_iterator())
    assert [e["options"].tolist() for e in served] == [[str(i + 1).encode(), str(i + 2).encode()]
                                                       for i in range(100, 112) if i % 5]
    assert [e["options"] for e in source.iter_examples("validation")] == [qa(i)["options"] for i in range(100, 112) if i % 5]
    inverted = _templated(F.INV)
    assert "options" not in next(inverted.get_dataset("validation", shuffle=False).as_numpy_iterator())


def test_templated_source_shards_partition_the_examples():
    source = _templated(F.ZS_NOOPT)
    whole = [e["inputs"] for e in source.get_dataset("train", shuffle=False).as_numpy_iterator()]
    shards = [
        [e["inputs"] for e in source.get_dataset(
            "train", shuffle=False, shard_info=seqio.ShardInfo(index, 3)).as_numpy_iterator()]
        for index in range(3)
    ]
    assert sorted(sum(shards, [])) == sorted(whole) and all(shards)


def test_templated_source_iter_examples_is_what_get_dataset_serves():
    """`iter_examples` has the Python-native sources' contract, so `sources.iter_examples` and the
    pipeline's Python path read a templated source like any other."""
    source = _templated(F.FS_OPT)
    served = [sources.to_python(e) for e in source.get_dataset("validation", shuffle=False).as_numpy_iterator()]
    assert list(source.iter_examples("validation")) == served
    assert list(sources.iter_examples(source, "validation")) == served
    shard = seqio.ShardInfo(1, 3)
    assert list(sources.iter_examples(source, "train", shard_info=shard)) == [
        sources.to_python(e) for e in source.get_dataset("train", shuffle=False, shard_info=shard).as_numpy_iterator()]
    with pytest.raises(ValueError, match="'numbers_fs_opt' has no split 'dev'"):
        next(source.iter_examples("dev"))


def test_few_shot_needs_the_exemplar_split():
    with pytest.raises(ValueError, match="numbers_fs_opt.*'dev'"):
        _templated(F.FS_OPT, few_shot=F.FewShotConfig(exemplar_split="dev"))


def _pair(rng):
    a = rng.randint(0, 999)
    return {"a": a, "tags": ["x", "y"], "answer": str(a % 2)}


def test_generator_source_is_deterministic_sharded_and_split_by_content():
    source = sources.GeneratorSource("pairs", _pair, {"train": 40, "validation": 10})
    assert source.fields == ("a", "tags", "answer") and source.num_input_examples("validation") == 10
    train = list(source.iter_examples("train"))
    assert train == list(source.iter_examples("train")) and len(train) == 40
    validation = list(source.iter_examples("validation"))
    assert not {e["a"] for e in train} & {e["a"] for e in validation}
    shards = [list(source.iter_examples("train", shard_info=seqio.ShardInfo(i, 4))) for i in range(4)]
    assert sorted(map(str, sum(shards, []))) == sorted(map(str, train))
    tf_examples = list(source.get_dataset("validation").as_numpy_iterator())
    assert [sources.to_python(e) for e in tf_examples] == validation


def test_generator_source_errors_name_the_source():
    with pytest.raises(ValueError, match="'coin'.*too small.*disjoint=False"):
        sources.GeneratorSource("coin", lambda rng: {"side": "heads"}, {"train": 2, "validation": 2}).example("validation", 0)
    coin = sources.GeneratorSource("coin", lambda rng: {"side": "heads"}, {"train": 2, "validation": 2}, disjoint=False)
    assert coin.example("validation", 0) == {"side": "heads"}
    shifty = sources.GeneratorSource("shifty", lambda rng: {"a": 1} if rng.random() < 0.5 else {"b": 1}, disjoint=False)
    with pytest.raises(ValueError, match="'shifty' made fields"):
        [shifty.example("train", i) for i in range(50)]
