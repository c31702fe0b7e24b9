"""Before/after examples for each template feature: fields, options styles, letters, CoT, few-shot."""
import pytest

from flan_jax.data import templates as T

YES_NO = T.TemplateSet(
    templates=[T.Template("Is {n} even?\n{options_}", "{answer}")],
    options_field="options",
)
EVEN = {"n": 4, "options": ["yes", "no"], "answer": "yes"}


def style(name):
    return next(s for s in T.OPTION_STYLES if s.name == name)


def test_pattern_fields_takes_root_names():
    assert T.pattern_fields("{a} and {b[0]} and {c.real} {{literal}}") == {"a", "b", "c"}


def test_empty_braces_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        T.pattern_fields("Add {} and {b}")


def test_template_fields_exclude_options_placeholder():
    assert T.Template("Q: {question}\n{options_}", "{answer}").fields() == {"question", "answer"}


def test_validate_names_task_template_and_field():
    bad = T.TemplateSet(templates=[T.Template("{premise} -> {hypothesis}", "{answer}"),
                                   T.Template("{premis} ?", "{answer}")])
    with pytest.raises(ValueError) as err:
        bad.validate(["premise", "hypothesis", "answer"], "anli_r1")
    message = str(err.value)
    assert "anli_r1" in message and "templates[1]" in message and "'premis'" in message
    assert "{premis} ?" in message


def test_validate_checks_special_fields_and_cot_group():
    with pytest.raises(ValueError, match="options_field='choices'"):
        T.TemplateSet(templates=[T.Template("{q}", "{answer}")], options_field="choices").validate(
            ["q", "answer"], "t")
    cot = T.TemplateSet(templates=[T.Template("{q}", "{answer}")],
                        cot_templates=T.chain_of_thought([T.Template("{q}", "{answer}")], "why"))
    with pytest.raises(ValueError, match=r"cot_templates\[0\].*'why'"):
        cot.validate(["q", "answer"], "t")


def test_options_styles_before_after():
    options = ["yes", "no"]
    assert style("dash").render(options) == "OPTIONS:\n- yes\n- no"
    assert style("choose").render(options) == "Choose from:\n- yes\n- no"
    assert style("inline").render(options) == "Possible answers: yes | no"
    assert style("paren_letters").render(options) == "Options:\n(A) yes\n(B) no"
    assert style("dot_letters").render(options) == "Answer choices:\nA. yes\nB. no"


def test_letter_styles_rewrite_target_to_letter():
    assert T.render(YES_NO.templates[0], {**EVEN, "answer": "no"}, YES_NO, style("paren_letters")) == (
        "Is 4 even?\nOptions:\n(A) yes\n(B) no", "(B)")
    assert T.render(YES_NO.templates[0], EVEN, YES_NO, style("dot_letters"))[1] == "A"
    assert T.render(YES_NO.templates[0], EVEN, YES_NO, style("dash")) == (
        "Is 4 even?\nOPTIONS:\n- yes\n- no", "yes")


def test_noopt_hides_options_and_leaves_no_blank_lines():
    template = T.Template("Question: is {n} even?\n\n{options_}\n\nAnswer briefly.", "{answer}")
    assert T.render(template, EVEN, YES_NO, None) == ("Question: is 4 even?\n\nAnswer briefly.", "yes")


def test_options_appended_when_template_has_no_placeholder():
    template = T.Template("Is {n} even?", "{answer}")
    assert T.render(template, EVEN, YES_NO, style("dash"))[0] == "Is 4 even?\n\nOPTIONS:\n- yes\n- no"


def test_answer_outside_options_is_an_error_naming_the_task():
    with pytest.raises(ValueError, match="even_task.*'maybe'"):
        T.render(YES_NO.templates[0], {**EVEN, "answer": "maybe"}, YES_NO, style("dash"), "even_task")


def test_missing_field_at_render_names_task_and_fields():
    with pytest.raises(ValueError, match="t1.*'n'"):
        T.render(YES_NO.templates[0], {"options": ["yes"], "answer": "yes"}, YES_NO, None, "t1")


def test_chain_of_thought_before_after():
    (cot,) = T.chain_of_thought([T.Template("What is {a} + {b}?", "{answer}")])
    assert cot == T.Template("What is {a} + {b}?\nLet's think step by step.",
                             "{rationale} So the answer is {answer}.")
    fields = {"a": 3, "b": 4, "answer": 7, "rationale": "3 + 4 = 7."}
    spec = T.TemplateSet(templates=[cot], rationale_field="rationale", cot_templates=[cot])
    assert T.render(cot, fields, spec, None) == (
        "What is 3 + 4?\nLet's think step by step.", "3 + 4 = 7. So the answer is 7.")
    triggers = {t.inputs.split("\n")[-1] for t in T.chain_of_thought([T.Template("{q}", "{a}")] * 4)}
    assert len(triggers) == 4  # varied wording


def test_extract_cot_answer():
    assert T.extract_cot_answer("3 + 4 = 7. So the answer is 7.") == "7"
    assert T.extract_cot_answer("So the answer is 1. No wait. So the answer is (B).") == "(B)"
    assert T.extract_cot_answer("  plain  ") == "plain"


def test_assemble_few_shot_before_after():
    inputs, kept = T.assemble_few_shot([("1+1?", "2"), ("2+3?", "5")], "2+2?", ("\nA: ", "\n\n"), 1000)
    assert (inputs, kept) == ("1+1?\nA: 2\n\n2+3?\nA: 5\n\n2+2?\nA:", 2)


def test_assemble_few_shot_prunes_farthest_exemplars_first():
    exemplars = [("first exemplar", "x" * 10), ("second", "y")]
    full, _ = T.assemble_few_shot(exemplars, "query", ("\n", "\n\n"), 1000)
    budget = len(full) - 1
    inputs, kept = T.assemble_few_shot(exemplars, "query", ("\n", "\n\n"), budget)
    assert (inputs, kept) == ("second\ny\n\nquery", 1)
    assert T.assemble_few_shot(exemplars, "query", ("\n", "\n\n"), 3) == ("query", 0)


def test_assemble_few_shot_states_the_instruction_once():
    inputs, kept = T.assemble_few_shot([("1+1?", "2"), ("2+3?", "5")], "2+2?", ("\nA: ", "\n\n"), 1000,
                                       instruction="Add the numbers.")
    assert (inputs, kept) == ("Add the numbers.\n\n1+1?\nA: 2\n\n2+3?\nA: 5\n\n2+2?\nA:", 2)
    # The instruction counts toward the budget; exemplars go first, never the instruction.
    budget = len(inputs) - 1
    assert T.assemble_few_shot([("1+1?", "2"), ("2+3?", "5")], "2+2?", ("\nA: ", "\n\n"), budget,
                               instruction="Add the numbers.") == ("Add the numbers.\n\n2+3?\nA: 5\n\n2+2?\nA:", 1)
    assert T.assemble_few_shot([("1+1?", "2")], "2+2?", ("\nA: ", "\n\n"), 5,
                               instruction="Add.") == ("Add.\n\n2+2?\nA:", 0)


def test_instruction_fields_are_validated_and_rendered():
    template = T.Template("Input: {x}", "{y}", instruction="Task: {definition}")
    assert template.fields() == {"x", "y", "definition"}
    with pytest.raises(ValueError, match=r"templates\[0\] references field\(s\) \['definition'\]"):
        T.TemplateSet([template]).validate(["x", "y"], "t")
    assert T.render_instruction(template, {"definition": "Double it. "}) == "Task: Double it."
    assert T.render_instruction(T.Template("{x}", "{y}"), {}) == ""
    with pytest.raises(ValueError, match="lacks field 'definition' used by the instruction"):
        T.render_instruction(template, {"x": 1})
    # CoT variants keep the instruction.
    assert T.chain_of_thought([template])[0].instruction == "Task: {definition}"


def test_stable_hash_is_fixed_across_processes():
    # A fixed value: changing the hash would silently re-render every dataset differently.
    assert T.stable_hash("task", 0, {"b": 1, "a": [1, 2]}) == T.stable_hash("task", 0, {"a": [1, 2], "b": 1})
    assert T.stable_hash("abc") == 0xE2F6B86EAB84B31D
    assert T.choose(["a", "b", "c"], "k") == T.choose(["a", "b", "c"], "k")


def test_letters_limited_to_26_options():
    with pytest.raises(ValueError, match="26"):
        T.letter_for(26)


def test_example_text_is_kept_verbatim_when_no_placeholder_is_emptied():
    spec = T.TemplateSet(templates=[T.Template("Fix this code:\n{code}", "{answer}")])
    code = "def f():  \n\n\n    return 1"
    assert T.render(spec.templates[0], {"code": code, "answer": "ok"}, spec, None)[0] == f"Fix this code:\n{code}"
