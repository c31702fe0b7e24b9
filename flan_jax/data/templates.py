"""Instruction templates: turn one example's fields into an (inputs, targets) pair of strings.

A task family (one dataset) has several templates, each a pair of Python format patterns over the
example's fields, e.g. `Template("{premise}\\nDoes this imply \\"{hypothesis}\\"?\\n\\n{options_}",
"{answer}")`. Varying the wording across templates is what teaches a model to follow
instructions rather than one phrasing (Wei et al. 2021; Chung et al. 2022, Sec. 2).

The pieces here are pure functions over plain Python values, so each is testable alone:

  * `Template` / `TemplateSet`: the patterns of one family, validated against the declared
    fields at registration (a typo fails there, naming template and field, not inside tf.data).
  * `OptionsStyle`: how answer options are shown ("OPTIONS:\\n- a\\n- b", "(A) a\\n(B) b", ...);
    lettered styles rewrite the answer field to the letter, so the target says "(B)".
  * `chain_of_thought`: CoT variants of templates, target "{rationale} So the answer is {answer}."
  * `assemble_few_shot`: exemplars + query, pruned to a length budget.
  * `stable_hash` / `choose`: deterministic choices (template, options style, separators) keyed
    by the example's content, so a dataset renders identically on every run and every host.

Which of these a seqio task uses is its *format* (`formats.py`).
"""
import dataclasses
import functools
import hashlib
import json
import string
from typing import Any, Callable, Mapping, Sequence

# The placeholder where the options block goes. Trailing underscore: it is rendered by us, never
# a field of the example, so it cannot clash with a dataset's own "options" field.
OPTIONS_PLACEHOLDER = "options_"

# The CoT target format of the Flan Collection (Longpre et al. 2023; Chung et al. 2022, Sec. 3):
# the rationale first, then a fixed phrase the answer can be extracted from.
COT_ANSWER_PHRASE = "So the answer is"

# Appended to CoT inputs. Several wordings, so the model does not key on a single trigger.
COT_TRIGGERS = (
    "Let's think step by step.",
    "Think it through step by step, then answer.",
    "Explain your reasoning before giving the answer.",
    "Reason it out first.",
)


@functools.lru_cache(maxsize=4096)  # registration checks the same few patterns thousands of times.
def pattern_fields(pattern: str) -> frozenset[str]:
    """The field names a format pattern references: "{a} and {b[0]}" -> {"a", "b"}."""
    names = set()
    for _, field_name, _, _ in string.Formatter().parse(pattern):
        if field_name is None:
            continue
        if not field_name:
            raise ValueError(f"Template pattern {pattern!r} has an empty '{{}}': name the field.")
        root = field_name.split(".")[0].split("[")[0]
        names.add(root)
    return frozenset(names)


@dataclasses.dataclass(frozen=True)
class Template:
    """One instruction template: format patterns for the inputs and the targets.

    Attributes:
      inputs: pattern over the example's fields, e.g. "Add {a} and {b}." It may contain
        `{options_}`, where the options block goes in formats that show options; where it is
        absent the block is appended after a blank line.
      targets: pattern for the target, e.g. "{answer}".
      instruction: optional pattern stated once before everything else, e.g. "Definition:
        {definition}". Zero-shot inputs are the instruction, a blank line, then `inputs`;
        few-shot inputs state it once, then the exemplars and the query in the `inputs` /
        `targets` patterns (the Flan 2022 NIv2 few-shot layout: the task definition once,
        then its positive examples), instead of repeating it in every exemplar.
    """

    inputs: str
    targets: str
    instruction: str = ""

    def fields(self) -> frozenset[str]:
        """The example fields this template needs (the options placeholder excluded)."""
        patterns = (self.inputs, self.targets, self.instruction)
        return frozenset().union(*map(pattern_fields, patterns)) - {OPTIONS_PLACEHOLDER}


@dataclasses.dataclass(frozen=True)
class TemplateSet:
    """All templates of one task family and the roles of its special fields.

    Attributes:
      templates: the standard templates (zero-shot and few-shot formats).
      options_field: the field holding the list of answer options (strings), or None for
        open-ended tasks. Formats with options show them; the answer must be one of them.
      answer_field: the field holding the answer; lettered options styles rewrite it.
      rationale_field: the field holding a step-by-step rationale, or None.
      cot_templates: chain-of-thought templates (see `chain_of_thought`); empty: no CoT format.
      inversion_templates: input-inversion templates (e.g. answer + rationale -> question);
        empty: no inversion format.
    """

    templates: Sequence[Template]
    options_field: str | None = None
    answer_field: str = "answer"
    rationale_field: str | None = None
    cot_templates: Sequence[Template] = ()
    inversion_templates: Sequence[Template] = ()

    def __post_init__(self):
        # Tuples, so a TemplateSet is hashable and cannot be mutated after validation.
        for name in ("templates", "cot_templates", "inversion_templates"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.templates:
            raise ValueError("A TemplateSet needs at least one standard template.")

    def groups(self) -> dict[str, tuple[Template, ...]]:
        return {
            "templates": self.templates,
            "cot_templates": self.cot_templates,
            "inversion_templates": self.inversion_templates,
        }

    def validate(self, fields: Sequence[str], task_name: str) -> None:
        """Checks every template against the declared example fields.

        Args:
          fields: the field names every example of the source has.
          task_name: named in the error.

        Raises:
          ValueError: naming the task, the template and the missing field, when a template
            references a field the examples lack (or a special field is undeclared).
        """
        declared = set(fields)
        special = {
            "options_field": self.options_field,
            "answer_field": self.answer_field if self.options_field else None,
            "rationale_field": self.rationale_field,
        }
        for role, name in special.items():
            if name is not None and name not in declared:
                raise ValueError(
                    f"Task {task_name!r}: {role}={name!r} is not a declared field "
                    f"(declared: {sorted(declared)}). Declare it or fix the name."
                )
        for group, templates in self.groups().items():
            for index, template in enumerate(templates):
                missing = sorted(template.fields() - declared)
                if missing:
                    raise ValueError(
                        f"Task {task_name!r}: {group}[{index}] references field(s) {missing} "
                        f"that the examples lack (declared: {sorted(declared)}).\n"
                        f"  inputs:  {template.inputs!r}\n  targets: {template.targets!r}\n"
                        "Fix the template or declare the field in `fields`."
                    )


def chain_of_thought(
    templates: Sequence[Template],
    rationale_field: str = "rationale",
    answer_field: str = "answer",
    triggers: Sequence[str] = COT_TRIGGERS,
) -> tuple[Template, ...]:
    """Chain-of-thought versions of standard templates.

    Inputs get a reasoning trigger (cycled through `triggers`, so the set has varied wording);
    the target becomes "{rationale} So the answer is {answer}.".

    Example:
      Template("What is {a} + {b}?", "{answer}") ->
      Template("What is {a} + {b}?\\nLet's think step by step.",
               "{rationale} So the answer is {answer}.")
    """
    target = f"{{{rationale_field}}} {COT_ANSWER_PHRASE} {{{answer_field}}}."
    return tuple(
        Template(f"{t.inputs}\n{triggers[i % len(triggers)]}", target, t.instruction) for i, t in enumerate(templates)
    )


def extract_cot_answer(text: str) -> str:
    """The answer after the last "So the answer is" (the whole text, stripped, when absent).

    "3 + 4 = 7. So the answer is 7." -> "7"
    """
    _, found, answer = text.rpartition(COT_ANSWER_PHRASE)
    if not found:
        return text.strip()
    answer = answer.strip()
    return answer[:-1].rstrip() if answer.endswith(".") else answer


@dataclasses.dataclass(frozen=True)
class OptionsStyle:
    """One way of showing answer options.

    Attributes:
      name: short id (recorded nowhere, used in tests and docs).
      header: the line before the options ("" for none).
      item: pattern of one option, with `{option}` and `{letter}` ("A", "B", ...).
      joiner: between items.
      letter_target: the target names the letter (as `target_letter` renders it), not the text.
      target_letter: pattern of the rewritten answer, e.g. "({letter})".
    """

    name: str
    header: str
    item: str
    joiner: str = "\n"
    letter_target: bool = False
    target_letter: str = "({letter})"

    def render(self, options: Sequence[str]) -> str:
        """The options block: header + items, e.g. "OPTIONS:\\n- yes\\n- no"."""
        items = self.joiner.join(
            self.item.format(option=option, letter=letter_for(i)) for i, option in enumerate(options)
        )
        return f"{self.header}{items}"

    def answer(self, answer: str, options: Sequence[str]) -> str:
        """The answer as this style's target names it: the text, or its letter ("(B)")."""
        if not self.letter_target:
            return answer
        return self.target_letter.format(letter=letter_for(list(options).index(answer)))


def letter_for(index: int) -> str:
    if not 0 <= index < 26:
        raise ValueError(f"Lettered options support up to 26 options; got option #{index + 1}.")
    return string.ascii_uppercase[index]


# Varied on purpose (Longpre et al. 2023, Sec. 3: mixing option formats helps). Letter styles
# rewrite the target to the letter, so exact match stays meaningful.
OPTION_STYLES = (
    OptionsStyle("dash", "OPTIONS:\n", "- {option}"),
    OptionsStyle("choose", "Choose from:\n", "- {option}"),
    OptionsStyle("inline", "Possible answers: ", "{option}", joiner=" | "),
    OptionsStyle("paren_letters", "Options:\n", "({letter}) {option}", letter_target=True),
    OptionsStyle("dot_letters", "Answer choices:\n", "{letter}. {option}", letter_target=True,
                 target_letter="{letter}"),
)

# (between an exemplar's inputs and its targets, between exemplars). The query ends with the
# first separator stripped of whitespace, so "Answer:" prompts end the same way in all blocks.
FEW_SHOT_SEPARATORS = (
    ("\n", "\n\n"),
    ("\n\n", "\n\n\n"),
    ("\nAnswer: ", "\n\n"),
    ("\nA: ", "\n\n###\n\n"),
)


def render(
    template: Template,
    fields: Mapping[str, Any],
    template_set: TemplateSet,
    options_style: OptionsStyle | None,
    task_name: str = "?",
) -> tuple[str, str]:
    """Renders one example with one template.

    Args:
      template: the template.
      fields: the example's fields.
      template_set: declares which fields are the options and the answer.
      options_style: how to show the options, or None to hide them (the "noopt" formats). A
        lettered style rewrites the answer field to the letter before the targets render.
      task_name: named in errors.

    Returns:
      (inputs, targets) strings.

    Example:
      Template("Is {n} even?\\n{options_}", "{answer}"), {"n": 4, "options": ["yes", "no"],
      "answer": "yes"}, paren_letters -> ("Is 4 even?\\nOptions:\\n(A) yes\\n(B) no", "(A)")
    """
    values = dict(fields)
    block = ""
    if options_style is not None and template_set.options_field is not None:
        options = [str(o) for o in values[template_set.options_field]]
        answer = str(values[template_set.answer_field])
        if answer not in options:
            raise ValueError(
                f"Task {task_name!r}: answer {answer!r} is not among the options {options}; "
                "the source must list the answer as one of the options."
            )
        block = options_style.render(options)
        values[template_set.answer_field] = options_style.answer(answer, options)
    values[OPTIONS_PLACEHOLDER] = block
    try:
        inputs = template.inputs.format(**values)
        targets = template.targets.format(**values)
    except (KeyError, IndexError) as e:
        raise ValueError(
            f"Task {task_name!r}: an example lacks field {e} used by template {template}; "
            f"its fields are {sorted(fields)}."
        ) from e
    has_placeholder = "{" + OPTIONS_PLACEHOLDER + "}" in template.inputs
    if block and not has_placeholder:
        inputs = f"{inputs.rstrip()}\n\n{block}"
    # Only an emptied placeholder's blank lines are tidied; the example's own text is kept.
    inputs = _tidy(inputs) if has_placeholder and not block else inputs.strip()
    return inputs, targets.strip()


def target_options(fields: Mapping[str, Any], template_set: TemplateSet, options_style: OptionsStyle | None) -> list[str]:
    """The answer options as a target names them, in the order shown: the candidates rank
    classification scores (FLAN's: the option with the highest log-likelihood is the prediction).

    The option texts, except with a lettered style, whose target is a letter: then the letters
    ("(A)", "(B)", ...), so the rendered target is always one of the candidates.

    Example:
      {"options": ["yes", "no"], ...}, no style or "dash" -> ["yes", "no"]; paren_letters -> ["(A)", "(B)"]
    """
    options = [str(o) for o in fields[template_set.options_field]]
    return [options_style.answer(o, options) for o in options] if options_style else options


def render_instruction(template: Template, fields: Mapping[str, Any], task_name: str = "?") -> str:
    """The template's instruction filled in from `fields` ("" when it has none)."""
    if not template.instruction:
        return ""
    try:
        return template.instruction.format(**fields).strip()
    except (KeyError, IndexError) as e:
        raise ValueError(
            f"Task {task_name!r}: an example lacks field {e} used by the instruction of template {template}; "
            f"its fields are {sorted(fields)}."
        ) from e


def with_instruction(instruction: str, text: str) -> str:
    """`text` after the instruction and a blank line (just `text` without an instruction)."""
    return f"{instruction}\n\n{text}" if instruction else text


def _tidy(text: str) -> str:
    """Strips the blank lines an empty `{options_}` leaves behind (the "noopt" formats).

    Collapses runs of blank lines and trailing spaces, so it is applied only to such inputs.
    """
    lines = text.strip().split("\n")
    out = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line.rstrip())
    return "\n".join(out)


def assemble_few_shot(
    exemplars: Sequence[tuple[str, str]],
    query: str,
    separators: tuple[str, str],
    max_length: int,
    length_fn: Callable[[str], int] = lambda s: len(s.encode("utf-8")),
    instruction: str = "",
) -> tuple[str, int]:
    """Few-shot inputs: [instruction,] exemplars (inputs + targets), the query; within `max_length`.

    Exemplars farthest from the query are dropped first until the whole fits; with none left
    the result is the plain (instructed) query, i.e. zero-shot, which seqio then trims as usual.

    Args:
      exemplars: rendered (inputs, targets) pairs, nearest-to-query last.
      query: the rendered inputs of the example itself.
      separators: (inputs/targets separator, exemplar separator), see FEW_SHOT_SEPARATORS.
      max_length: budget in `length_fn` units (vocabulary tokens, when registered).
      length_fn: length of a string.
      instruction: stated once before the first exemplar (see `Template.instruction`).

    Returns:
      (inputs, number of exemplars kept).

    Example:
      [("1+1?", "2")], "2+2?", ("\\nA: ", "\\n\\n") -> ("1+1?\\nA: 2\\n\\n2+2?\\nA:", 1)
      the same with instruction "Add." -> ("Add.\\n\\n1+1?\\nA: 2\\n\\n2+2?\\nA:", 1)
    """
    inner, outer = separators
    tail = f"{query}{inner.rstrip()}"
    blocks = [f"{inputs}{inner}{targets}" for inputs, targets in exemplars]
    while blocks:
        text = with_instruction(instruction, outer.join(blocks + [tail]))
        if length_fn(text) <= max_length:
            return text, len(blocks)
        blocks = blocks[1:]
    return with_instruction(instruction, tail), 0


def stable_hash(*parts: Any) -> int:
    """A 64-bit hash of `parts` that is the same in every process (unlike Python's `hash`)."""
    payload = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return int.from_bytes(hashlib.blake2b(payload.encode("utf-8"), digest_size=8).digest(), "big")


def choose(items: Sequence[Any], *key: Any) -> tuple[int, Any]:
    """A deterministic choice among `items` keyed by `key`: (index, item)."""
    index = stable_hash(*key) % len(items)
    return index, items[index]
