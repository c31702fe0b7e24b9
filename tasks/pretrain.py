"""The pretraining corpus: plain statements about the synthetic suite's world, span-corrupted as T5.

FLAN's premise is that pretraining gives a model its knowledge and skills and instruction tuning
teaches it to use them when asked (Wei et al. 2022; Chung et al. 2022). The offline suite
(`flan_jax_tasks.synthetic`) asks about a small world: words and made-up words, numbers and their
names, lists, letters, truth values, who owns what. This corpus states that world's facts in
plain declarative text, with no instruction, question or answer format in it:

    Half of 244 is 122. After h comes i. The list brown, black, goat closes with goat.
    NOT true is false. bafime spelled backwards is emifab. 30 is less than 75.

Each statement renders one example of a synthetic family (`STATEMENTS`: every family has some,
held-out clusters included: a pretrained model knows that "after h comes i" before anyone asks).
The examples are drawn from the family's *train* side, which `GeneratorSource` keeps disjoint by
content from the validation examples the held-out evaluation reads (families with a tiny output
space, e.g. "NOT true", have no disjoint sides; their few facts are general knowledge).

Why not the text of the shared NIv2 / GSM8K files: the byte-level models that train on a CPU
in minutes cannot learn from a few MB of open-domain English what this corpus teaches them
about the synthetic world, which is where the experiments measure zero-shot transfer; and NIv2's
text is instruction data (definitions, inputs, outputs), the very thing pretraining must not see.

Task `pretrain_corpus`: documents of 4-10 statements, tokenized with the byte vocabulary and its
125 sentinels (`vocabularies.byte_vocabulary(BYTE_EXTRA_IDS)`), then `span_corruption.span_corruption`
(15% noise, mean span 3, sentinels counting down from id 383) and EOS.
"""
import functools
import random
from typing import Any, Callable, Mapping

import seqio

from flan_jax.data import registry, sources, span_corruption, vocabularies
from flan_jax_tasks import synthetic

TASK = "pretrain_corpus"
COLLECTION = "pretrain"
# Nominal split sizes (documents): the generator has no limit. 100k documents (~25 MB of text)
# outlast any CPU pretraining run here, so an epoch never repeats within one.
NUM_DOCUMENTS = {"train": 100_000, "validation": 1_000}
STATEMENTS_PER_DOCUMENT = (4, 10)

Statement = str | Callable[[Mapping[str, Any]], str]


def _article(word: str) -> str:
    return ("an " if word[0] in synthetic.VOWELS else "a ") + word


# family -> statements of one of its examples: format strings over its fields, or functions of them.
STATEMENTS: dict[str, tuple[Statement, ...]] = {
    # arithmetic
    "addition": ("{a} + {b} = {answer}.", "{a} plus {b} is {answer}.", "The sum of {a} and {b} is {answer}."),
    "subtraction": ("{a} - {b} = {answer}.", "{a} minus {b} is {answer}.", "The difference between {a} and {b} is {answer}."),
    "multiplication": ("{a} * {b} = {answer}.", "{a} times {b} is {answer}.", "{rationale}"),
    "sum_of_three": ("{a} + {b} + {c} = {answer}.", "{rationale}", "Together {a}, {b} and {c} make {answer}."),
    "word_problem": ("{rationale}",),
    "halve_number": ("Half of {n} is {answer}.", "{n} / 2 = {answer}.", "{n} splits into two halves of {answer}."),
    # string edits
    "reverse_word": ("{word} spelled backwards is {answer}.", "Read from right to left, {word} is {answer}.",
                     "The reverse of {word} is {answer}."),
    "uppercase_word": ("{word} in capital letters is {answer}.", "The uppercase form of {word} is {answer}."),
    "first_letter": ("The first letter of {word} is {answer}.", "{word} starts with {answer}."),
    "last_letter": ("The last letter of {word} is {answer}.", "{word} ends with {answer}."),
    "remove_vowels": ("Dropping the vowels of {word} leaves {answer}.", "{word} has the consonants {answer}."),
    "join_words": ("{first} and {second} joined together make {answer}.", "{first} followed by {second} is {answer}."),
    "repeat_word": ("{word} said {times} times is {answer}.", "{word} repeated {times} times: {answer}."),
    # lists
    "sort_numbers": ("In increasing order, {items} are {answer}.", "Sorted from smallest to largest, {items} become {answer}."),
    "reverse_list": ("The list {items} in reverse order is {answer}.", "Backwards, the list {items} reads {answer}."),
    "max_in_list": ("The largest number in {items} is {answer}.", "Of {items}, the biggest is {answer}."),
    "min_in_list": ("The smallest number in {items} is {answer}.", "Of {items}, the lowest is {answer}."),
    "first_item": ("The first item of the list {items} is {answer}.", "The list {items} opens with {answer}."),
    "last_item": ("The last item of the list {items} is {answer}.", "The list {items} closes with {answer}."),
    "list_sum": ("The numbers {items} add up to {answer}.", "{rationale}"),
    # counting
    "count_letter": ("The letter {letter} appears {answer} times in {word}.", "{rationale}"),
    "count_words": ("\"{sentence}\" has {answer} words.", "There are {answer} words in \"{sentence}\"."),
    "count_vowels": ("{word} has {answer} vowels.", "{rationale}"),
    "count_items": ("Among {items}, {answer} are {kind}.", "The list {items} holds {answer} {kind}."),
    "count_even": ("The numbers {items} include {answer} even ones.", "{rationale}"),
    # comparison
    "larger_number": ("Between {a} and {b}, the larger is {answer}.", "{rationale}"),
    "smaller_number": ("Between {a} and {b}, the smaller is {answer}.", "The smaller of {a} and {b} is {answer}."),
    "longer_word": ("Of {first} and {second}, the longer word is {answer}.",),
    "alphabetical_first": ("Of {first} and {second}, {answer} comes first in the alphabet.",),
    "same_length": (lambda f: f"{f['first']} and {f['second']} have "
                    f"{'the same number of' if f['answer'] == 'yes' else 'different numbers of'} letters.",),
    # classification
    "parity": ("{n} is an {answer} number.", "The number {n} is {answer}."),
    "number_sign": (lambda f: f"{f['n']} is zero, neither positive nor negative." if f["answer"] == "zero"
                    else f"{f['n']} is a {f['answer']} number.",),
    "sentiment": ("{sentence} That is a {answer} thing to say.", "A {answer} review: {sentence}"),
    "word_category": (lambda f: f"{f['word'].capitalize()} is {_article(f['answer'])}.",
                      lambda f: f"{_article(f['word']).capitalize()} is a kind of {f['answer']}."),
    "starts_with_vowel": (lambda f: f"{f['word']} starts with {f['word'][0]}, "
                          f"{'a vowel' if f['answer'] == 'yes' else 'which is not a vowel'}.",),
    "palindrome": (lambda f: f"{f['word']} is a palindrome: it reads the same backwards." if f["answer"] == "yes"
                   else f"{f['word']} is not a palindrome: backwards it reads {f['word'][::-1]}.",),
    # logic
    "boolean_and": ("{rationale}", "{p} AND {q} is {answer}."),
    "boolean_or": ("{rationale}", "{p} OR {q} is {answer}."),
    "negation": ("NOT {p} is {answer}.", "The opposite of {p} is {answer}."),
    "comparison_statement": ("{a} {op} {b} is {answer}.", "{rationale}"),
    "all_positive": (lambda f: f"{'All' if f['answer'] == 'yes' else 'Not all'} of {f['items']} are positive.",),
    # sequences
    "next_in_progression": ("The sequence {items} continues with {answer}.", "{rationale}"),
    "next_letter": ("After {letter} comes {answer}.", "In the alphabet, {letter} is followed by {answer}."),
    "previous_letter": ("Before {letter} comes {answer}.", "In the alphabet, {letter} follows {answer}."),
    "missing_number": ("The run {items} is missing {answer}.",),
    # reading
    "color_of": ("{context} So {person}'s {thing} is {answer}.",),
    "owner_of": ("{context} So the {thing} belongs to {answer}.",),
    "key_value": ("With {pairs}, {key} is {answer}.",),
    # conversion
    "number_to_word": ("In words, {n} is {answer}.", "The number {n} is written {answer}."),
    "word_to_number": ("{words} is {answer} in digits.", "In digits, {words} is {answer}."),
    "letter_position": ("{letter} is letter number {answer} of the alphabet.", "The letter {letter} is at position {answer} in the alphabet."),
    "plural": ("One {word}, two {answer}.", "The plural of {word} is {answer}."),
}


def render_statement(statement: Statement, fields: Mapping[str, Any]) -> str:
    return statement(fields) if callable(statement) else statement.format(**fields)


@functools.cache
def _family_sources() -> dict[str, sources.GeneratorSource]:
    """Each family's generator: its `example("train", i)` is from the train side of the family."""
    missing = [f.name for f in synthetic.FAMILIES if f.name not in STATEMENTS]
    if missing:
        raise ValueError(f"Synthetic families without pretraining statements: {missing}; add them to "
                         "flan_jax_tasks.pretrain.STATEMENTS so the corpus covers every family.")
    return {f.name: synthetic.family_source(f) for f in synthetic.FAMILIES}


def make_document(rng: random.Random) -> dict[str, str]:
    """One document: 4-10 statements of random families, one paragraph ending in a newline."""
    sources = _family_sources()
    names = sorted(sources)
    statements = []
    for _ in range(rng.randint(*STATEMENTS_PER_DOCUMENT)):
        family = rng.choice(names)
        fields = sources[family].example("train", rng.randrange(2**31))
        statements.append(render_statement(rng.choice(STATEMENTS[family]), fields))
    return {"text": " ".join(statements) + "\n"}


def register(
    name: str = TASK,
    noise_density: float = span_corruption.NOISE_DENSITY,
    mean_noise_span_length: float = span_corruption.MEAN_NOISE_SPAN_LENGTH,
    num_documents: Mapping[str, int] = NUM_DOCUMENTS,
    seed: int = 0,
) -> str:
    """Registers the span-corrupted corpus as task `name` (train and validation) and returns the name.

    Args:
      name: the task name.
      noise_density, mean_noise_span_length: span corruption's (T5: 0.15 and 3).
      num_documents: nominal split sizes.
      seed: the corpus seed (documents are a function of seed, split and index).
    """
    vocabulary = vocabularies.byte_vocabulary(vocabularies.BYTE_EXTRA_IDS)
    source = sources.GeneratorSource(name, make_document, num_documents, seed)
    task = seqio.TaskRegistry.add(
        name,
        source=source,
        output_features={"inputs": seqio.Feature(vocabulary, add_eos=True),
                         "targets": seqio.Feature(vocabulary, add_eos=True)},
        preprocessors=[
            functools.partial(seqio.preprocessors.rekey, key_map={"targets": "text"}),
            seqio.preprocessors.tokenize,
            seqio.CacheDatasetPlaceholder(),
            functools.partial(span_corruption.span_corruption, noise_density=noise_density,
                              mean_noise_span_length=mean_noise_span_length),
            seqio.preprocessors.append_eos_after_trim,
        ],
        metric_fns=[],
    )
    registry.record(task, registry.TaskInfo(name, name, COLLECTION))
    return name


TASKS = [register()]
