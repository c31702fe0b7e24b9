"""The synthetic instruction suite: the offline default collection.

Procedurally generated task families in clusters (arithmetic, string edits, lists, counting,
comparison, classification, logic, sequences, reading, conversion), each with several
instruction templates, so the Flan recipe (many tasks x templates x formats, held-out clusters)
runs end to end with no download. Examples are short (zero-shot inputs well under 200 bytes) so
a tiny byte-level T5 learns the easy families (uppercase, first letter, parity, larger number,
sentiment) in minutes on a CPU.

Every family is registered through `flan_jax.data.registry.register_family` as
`synthetic_{family}_{format}` in every format its templates support (options formats for
families with a label set, CoT for those with a rationale, inversion where it makes sense).
`CLUSTERS` maps cluster -> families for held-out-cluster experiments (Wei et al. 2021, Sec. 3).
"""
import dataclasses
import random
from typing import Any, Callable, Sequence

import seqio

from flan_jax.data import formats as formats_lib
from flan_jax.data import registry, sources
from flan_jax.data.templates import Template, TemplateSet, chain_of_thought

COLLECTION = "synthetic"
PREFIX = "synthetic_"
# Nominal split sizes: the generator has no limit; these set examples-proportional rates.
NUM_EXAMPLES = {"train": 10_000, "validation": 500}
# Few-shot inputs stay within 256 byte tokens (the demo's input length), EOS included.
FEW_SHOT = formats_lib.FewShotConfig(num_exemplars=3, max_input_length=255, pool_size=32)
# Generated examples are i.i.d., so a small per-task shuffle buffer suffices and keeps a
# mixture of ~200 tasks quick to start.
SHUFFLE_BUFFER_SIZE = 64
# Clusters a held-out evaluation leaves out of training (used by `flan_jax_tasks.mixtures`).
DEFAULT_HELD_OUT_CLUSTERS = ("logic", "sequences")

ANIMALS = ("cat", "dog", "horse", "mouse", "tiger", "lion", "zebra", "sheep", "goat", "eagle",
           "shark", "whale", "rabbit", "camel", "otter", "frog")
FRUITS = ("apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "pear", "plum",
          "melon", "kiwi", "lime")
COLORS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown")
POSITIVE = ("good", "great", "happy", "lovely", "wonderful", "nice", "joyful", "superb",
            "excellent", "pleasant")
NEGATIVE = ("bad", "awful", "sad", "terrible", "horrible", "nasty", "gloomy", "poor",
            "dreadful", "boring")
NAMES = ("Ann", "Bob", "Carl", "Dana", "Eve", "Finn", "Gus", "Hana", "Ivan", "Jill", "Kai", "Lea")
OBJECTS = ("ball", "car", "hat", "book", "cup", "kite", "lamp", "pen", "box", "bag")
WORDS = ANIMALS + FRUITS + COLORS + OBJECTS
PALINDROMES = ("level", "radar", "civic", "kayak", "noon", "refer", "madam", "racecar", "stats", "wow")
ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
VOWELS = "aeiou"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def number_word(n: int) -> str:
    """0..99 in English words: 42 -> "forty-two"."""
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + (f"-{ONES[ones]}" if ones else "")


@dataclasses.dataclass(frozen=True)
class Family:
    """One synthetic task family: a generator of fields and its templates."""

    name: str
    cluster: str
    make: Callable[[random.Random], dict[str, Any]]
    templates: TemplateSet
    # False for families with under ~200 distinct examples: a content-disjoint validation split
    # would hold only a handful of them, so both splits are independent draws instead.
    disjoint: bool = True
    prepare = None  # generated examples are already fields (registry.DatasetSpec)

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names of generated examples (every draw has the same ones)."""
        return tuple(self.make(random.Random(0)))


def t(*pairs: tuple[str, str]) -> tuple[Template, ...]:
    return tuple(Template(inputs, targets) for inputs, targets in pairs)


def labelled(templates: Sequence[Template], **kwargs) -> TemplateSet:
    """A family with a label set: options shown in the *_opt formats."""
    return TemplateSet(templates=templates, options_field="options", **kwargs)


def with_cot(templates: Sequence[Template], **kwargs) -> TemplateSet:
    """A family with a rationale: CoT formats derived from the standard templates."""
    return TemplateSet(templates=templates, rationale_field="rationale",
                       cot_templates=chain_of_thought(templates), **kwargs)


def _token(rng: random.Random) -> str:
    """A dictionary word or a made-up pronounceable one ("bafime"): string edits must
    generalise to unseen strings, not memorise the few dozen words of the lexicon."""
    if rng.random() < 0.4:
        return rng.choice(WORDS)
    consonants = "bcdfghklmnprstvz"
    return "".join(rng.choice(consonants) + rng.choice(VOWELS) for _ in range(rng.randint(1, 3)))[
        : rng.randint(2, 6)]


def _words(rng: random.Random, k: int, pool: Sequence[str] = WORDS) -> list[str]:
    return rng.sample(list(pool), k)


def _numbers(rng: random.Random, k: int, low: int = 0, high: int = 99) -> list[int]:
    return [rng.randint(low, high) for _ in range(k)]


def _as_list(items: Sequence[Any]) -> str:
    return ", ".join(str(i) for i in items)


# ---------------------------------------------------------------- arithmetic
def _addition(rng):
    a, b = _numbers(rng, 2, 0, 50)
    return {"a": a, "b": b, "answer": str(a + b), "rationale": f"{a} + {b} = {a + b}."}


def _subtraction(rng):
    a, b = sorted(_numbers(rng, 2, 0, 60), reverse=True)
    return {"a": a, "b": b, "answer": str(a - b), "rationale": f"{a} - {b} = {a - b}."}


def _multiplication(rng):
    a, b = _numbers(rng, 2, 2, 20)
    return {"a": a, "b": b, "answer": str(a * b),
            "rationale": f"{a} times {b} is {b} added {a} times, which is {a * b}."}


def _sum_of_three(rng):
    a, b, c = _numbers(rng, 3, 0, 30)
    return {"a": a, "b": b, "c": c, "answer": str(a + b + c),
            "rationale": f"{a} + {b} = {a + b}, and {a + b} + {c} = {a + b + c}."}


def _word_problem(rng):
    name, fruit = rng.choice(NAMES), rng.choice(FRUITS)
    a, b = _numbers(rng, 2, 1, 20)
    if rng.random() < 0.5:
        question = f"{name} has {a} {fruit}s and buys {b} more. How many {fruit}s does {name} have now?"
        rationale, answer = f"{name} starts with {a} and gets {b} more, so {a} + {b} = {a + b}.", a + b
    else:
        a, b = max(a, b), min(a, b)
        question = f"{name} has {a} {fruit}s and eats {b}. How many {fruit}s are left?"
        rationale, answer = f"{name} starts with {a} and eats {b}, so {a} - {b} = {a - b}.", a - b
    return {"question": question, "answer": str(answer), "rationale": rationale}


def _halve(rng):
    n = 2 * rng.randint(1, 500)
    return {"n": n, "answer": str(n // 2), "rationale": f"{n} / 2 = {n // 2}."}


ADDITION_TEMPLATES = t(
    ("What is {a} + {b}?", "{answer}"),
    ("Add {a} and {b}.", "{answer}"),
    ("Compute the sum of {a} and {b}.", "{answer}"),
    ("{a} plus {b} equals what?", "{answer}"),
    ("Calculate: {a} + {b} =", "{answer}"),
    ("If you add {b} to {a}, what do you get?", "{answer}"),
    ("Find the total of {a} and {b}.", "{answer}"),
    ("Sum these two numbers: {a}, {b}", "{answer}"),
)

# ---------------------------------------------------------------- string edits
def _reverse_word(rng):
    word = _token(rng)
    return {"word": word, "answer": word[::-1]}


def _uppercase(rng):
    word = _token(rng)
    return {"word": word, "answer": word.upper()}


def _first_letter(rng):
    word = _token(rng)
    return {"word": word, "answer": word[0]}


def _last_letter(rng):
    word = _token(rng)
    return {"word": word, "answer": word[-1]}


def _remove_vowels(rng):
    word = _token(rng)
    return {"word": word, "answer": "".join(c for c in word if c not in VOWELS)}


def _join_words(rng):
    first, second = _words(rng, 2)
    return {"first": first, "second": second, "answer": first + second}


def _repeat_word(rng):
    word, times = _token(rng), rng.randint(2, 4)
    return {"word": word, "times": times, "answer": " ".join([word] * times)}


UPPERCASE_TEMPLATES = t(
    ("Write \"{word}\" in capital letters.", "{answer}"),
    ("Uppercase this word: {word}", "{answer}"),
    ("Convert {word} to upper case.", "{answer}"),
    ("{word}\nRewrite the word above in all caps.", "{answer}"),
    ("Shout the word {word}.", "{answer}"),
    ("Make every letter of \"{word}\" a capital.", "{answer}"),
    ("Capitalize all letters: {word}", "{answer}"),
    ("What is {word} in uppercase?", "{answer}"),
)

FIRST_LETTER_TEMPLATES = t(
    ("What is the first letter of \"{word}\"?", "{answer}"),
    ("Which letter does {word} start with?", "{answer}"),
    ("Give the initial letter of the word {word}.", "{answer}"),
    ("{word}\nFirst letter:", "{answer}"),
    ("Name the letter that begins \"{word}\".", "{answer}"),
    ("Tell me how {word} begins: just the first letter.", "{answer}"),
    ("Word: {word}. Output its opening letter.", "{answer}"),
    ("What letter comes first in {word}?", "{answer}"),
)

# ---------------------------------------------------------------- lists
def _list_family(fn):
    def make(rng):
        items = _numbers(rng, rng.randint(3, 6))
        return {"items": _as_list(items), "answer": fn(items)}
    return make


def _list_sum(rng):
    items = _numbers(rng, rng.randint(2, 4), 0, 20)
    steps, total = [], 0
    for item in items:
        steps.append(f"{total} + {item} = {total + item}")
        total += item
    return {"items": _as_list(items), "answer": str(total), "rationale": "; ".join(steps) + "."}


def _word_list_family(fn):
    def make(rng):
        words = _words(rng, rng.randint(3, 5))
        return {"items": _as_list(words), "answer": fn(words)}
    return make


# ---------------------------------------------------------------- counting
def _count_letter(rng):
    word = _token(rng)
    letter = rng.choice(word) if rng.random() < 0.8 else rng.choice(LETTERS)
    positions = [str(i + 1) for i, c in enumerate(word) if c == letter]
    if positions:
        rationale = f"\"{word}\" has \"{letter}\" at position(s) {', '.join(positions)}."
    else:
        rationale = f"None of the letters of \"{word}\" is \"{letter}\"."
    return {"word": word, "letter": letter, "answer": str(len(positions)), "rationale": rationale}


def _count_words(rng):
    words = _words(rng, rng.randint(2, 7))
    return {"sentence": " ".join(words), "answer": str(len(words))}


def _count_vowels(rng):
    word = _token(rng)
    vowels = [c for c in word if c in VOWELS]
    return {"word": word, "answer": str(len(vowels)),
            "rationale": f"The vowels in \"{word}\" are {', '.join(vowels) or 'none'}."}


def _count_items(rng):
    kind = rng.choice(["animals", "fruits"])
    pool, other = (ANIMALS, FRUITS) if kind == "animals" else (FRUITS, ANIMALS)
    k = rng.randint(0, 4)
    items = _words(rng, k, pool) + _words(rng, rng.randint(1, 3), other)
    rng.shuffle(items)
    return {"kind": kind, "items": _as_list(items), "answer": str(k)}


def _count_even(rng):
    items = _numbers(rng, rng.randint(3, 6), 0, 30)
    evens = [str(i) for i in items if i % 2 == 0]
    return {"items": _as_list(items), "answer": str(len(evens)),
            "rationale": f"The even numbers are {', '.join(evens) or 'none'}."}


# ---------------------------------------------------------------- comparison
def _pair_of_numbers(rng):
    a, b = rng.sample(range(100), 2)
    return a, b


def _larger(rng):
    a, b = _pair_of_numbers(rng)
    return {"a": a, "b": b, "options": [str(a), str(b)], "answer": str(max(a, b)),
            "rationale": f"{max(a, b)} is more than {min(a, b)}."}


def _smaller(rng):
    a, b = _pair_of_numbers(rng)
    return {"a": a, "b": b, "options": [str(a), str(b)], "answer": str(min(a, b))}


def _longer_word(rng):
    while True:
        first, second = _words(rng, 2)
        if len(first) != len(second):
            break
    return {"first": first, "second": second, "options": [first, second],
            "answer": max(first, second, key=len)}


def _alphabetical_first(rng):
    first, second = _words(rng, 2)
    return {"first": first, "second": second, "options": [first, second], "answer": min(first, second)}


def _same_length(rng):
    first, second = _words(rng, 2)
    return {"first": first, "second": second, "options": ["yes", "no"],
            "answer": "yes" if len(first) == len(second) else "no"}


# ---------------------------------------------------------------- classification
def _parity(rng):
    n = rng.randint(0, 999)
    return {"n": n, "options": ["even", "odd"], "answer": "odd" if n % 2 else "even"}


def _sign(rng):
    n = 0 if rng.random() < 0.2 else rng.randint(-500, 500)
    label = "zero" if n == 0 else ("positive" if n > 0 else "negative")
    return {"n": n, "options": ["positive", "negative", "zero"], "answer": label}


def _sentiment(rng):
    label = rng.choice(["positive", "negative"])
    adjectives = _words(rng, 2, POSITIVE if label == "positive" else NEGATIVE)
    noun = rng.choice(("movie", "meal", "trip", "song", "game", "book", "party", "day"))
    sentence = rng.choice((
        "The {n} was {a} and {b}.", "What a {a}, {b} {n}!", "I found the {n} {a}, even {b}.",
        "That {n}? {a} and {b}.",
    )).format(n=noun, a=adjectives[0], b=adjectives[1])
    return {"sentence": sentence, "options": ["positive", "negative"], "answer": label}


def _category(rng):
    label = rng.choice(["animal", "fruit", "color"])
    word = rng.choice({"animal": ANIMALS, "fruit": FRUITS, "color": COLORS}[label])
    return {"word": word, "options": ["animal", "fruit", "color"], "answer": label}


def _starts_with_vowel(rng):
    word = _token(rng)
    if rng.random() < 0.5:
        word = rng.choice(VOWELS) + word
    return {"word": word, "options": ["yes", "no"], "answer": "yes" if word[0] in VOWELS else "no"}


def _palindrome(rng):
    if rng.random() < 0.5:
        half = _token(rng)
        word = rng.choice(PALINDROMES) if rng.random() < 0.2 else half + half[-2::-1]
    else:
        word = _token(rng)
    return {"word": word, "options": ["yes", "no"], "answer": "yes" if word == word[::-1] else "no"}


PARITY_TEMPLATES = t(
    ("Is {n} even or odd?\n{options_}", "{answer}"),
    ("Classify the number {n} as even or odd.\n{options_}", "{answer}"),
    ("{n}\nEven or odd?\n{options_}", "{answer}"),
    ("Tell me whether {n} is divisible by 2 (even) or not (odd).\n{options_}", "{answer}"),
    ("Number: {n}. Parity?\n{options_}", "{answer}"),
    ("What is the parity of {n}?\n{options_}", "{answer}"),
    ("Decide if {n} is an even number or an odd one.\n{options_}", "{answer}"),
    ("Label {n} with its parity.\n{options_}", "{answer}"),
)

SENTIMENT_TEMPLATES = t(
    ("{sentence}\nIs this review positive or negative?\n{options_}", "{answer}"),
    ("What is the sentiment of \"{sentence}\"?\n{options_}", "{answer}"),
    ("Review: {sentence}\nSentiment:\n{options_}", "{answer}"),
    ("Does the writer like it? \"{sentence}\" Answer positive or negative.\n{options_}", "{answer}"),
    ("Classify the feeling in this text: {sentence}\n{options_}", "{answer}"),
    ("{sentence}\nHow does the speaker feel, positive or negative?\n{options_}", "{answer}"),
    ("Label the tone of \"{sentence}\".\n{options_}", "{answer}"),
    ("Sentence: {sentence}\nWas the experience good (positive) or bad (negative)?\n{options_}", "{answer}"),
)

# ---------------------------------------------------------------- logic
def _bool_op(op):
    def make(rng):
        p, q = rng.choice(["true", "false"]), rng.choice(["true", "false"])
        value = (p == "true" and q == "true") if op == "and" else (p == "true" or q == "true")
        answer = "true" if value else "false"
        return {"p": p, "q": q, "options": ["true", "false"], "answer": answer,
                "rationale": f"{p} {op} {q} is {answer}."}
    return make


def _negation(rng):
    p = rng.choice(["true", "false"])
    return {"p": p, "options": ["true", "false"], "answer": "false" if p == "true" else "true"}


def _comparison_statement(rng):
    a, b = _pair_of_numbers(rng)
    op = rng.choice([">", "<"])
    holds = a > b if op == ">" else a < b
    return {"a": a, "b": b, "op": op, "options": ["true", "false"], "answer": "true" if holds else "false",
            "rationale": f"{a} is {'greater' if a > b else 'less'} than {b}."}


def _all_positive(rng):
    items = [rng.randint(-5, 20) for _ in range(rng.randint(3, 5))]
    return {"items": _as_list(items), "options": ["yes", "no"], "answer": "yes" if min(items) > 0 else "no"}


# ---------------------------------------------------------------- sequences
def _progression(rng):
    start, step = rng.randint(0, 50), rng.randint(1, 12)
    items = [start + i * step for i in range(4)]
    nxt = start + 4 * step
    return {"items": _as_list(items), "answer": str(nxt),
            "rationale": f"Each number is {step} more than the one before, so {items[-1]} + {step} = {nxt}."}


def _next_letter(rng):
    i = rng.randint(0, 24)
    return {"letter": LETTERS[i], "answer": LETTERS[i + 1]}


def _previous_letter(rng):
    i = rng.randint(1, 25)
    return {"letter": LETTERS[i], "answer": LETTERS[i - 1]}


def _missing_number(rng):
    start, length = rng.randint(1, 50), rng.randint(4, 6)
    run = list(range(start, start + length))
    missing = rng.choice(run[1:-1])
    return {"items": _as_list(n for n in run if n != missing), "answer": str(missing)}


# ---------------------------------------------------------------- reading
def _color_of(rng):
    people, things, colors = _words(rng, 2, NAMES), _words(rng, 2, OBJECTS), _words(rng, 2, COLORS)
    context = f"{people[0]} has a {colors[0]} {things[0]}. {people[1]} has a {colors[1]} {things[1]}."
    k = rng.randint(0, 1)
    return {"context": context, "person": people[k], "thing": things[k], "answer": colors[k]}


def _owner_of(rng):
    people, things = _words(rng, 3, NAMES), _words(rng, 3, OBJECTS)
    context = " ".join(f"{p} owns the {x}." for p, x in zip(people, things))
    k = rng.randint(0, 2)
    return {"context": context, "thing": things[k], "options": list(people), "answer": people[k]}


def _key_value(rng):
    keys = rng.sample(LETTERS, 3)
    values = _numbers(rng, 3)
    k = rng.randint(0, 2)
    return {"pairs": ", ".join(f"{key}={value}" for key, value in zip(keys, values)),
            "key": keys[k], "answer": str(values[k])}


# ---------------------------------------------------------------- conversion
def _number_to_word(rng):
    n = rng.randint(0, 99)
    return {"n": n, "answer": number_word(n)}


def _word_to_number(rng):
    n = rng.randint(0, 99)
    return {"words": number_word(n), "answer": str(n)}


def _letter_position(rng):
    i = rng.randint(0, 25)
    return {"letter": LETTERS[i], "answer": str(i + 1)}


def _plural(rng):
    word = rng.choice(ANIMALS + OBJECTS + FRUITS)
    plural = word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")
    if word in ("mouse",):
        plural = "mice"
    if word in ("sheep",):
        plural = "sheep"
    return {"word": word, "answer": plural}


FAMILIES: tuple[Family, ...] = (
    # arithmetic
    Family("addition", "arithmetic", _addition, with_cot(ADDITION_TEMPLATES, inversion_templates=t(
        ("{a} + x = {answer}. What is x?", "{b}"),
        ("Which number added to {a} gives {answer}?", "{b}")))),
    Family("subtraction", "arithmetic", _subtraction, with_cot(t(
        ("What is {a} - {b}?", "{answer}"), ("Subtract {b} from {a}.", "{answer}"),
        ("Take {b} away from {a}. What remains?", "{answer}"), ("Calculate: {a} - {b} =", "{answer}"),
        ("How much is {a} minus {b}?", "{answer}"), ("Find the difference between {a} and {b}.", "{answer}")))),
    Family("multiplication", "arithmetic", _multiplication, with_cot(t(
        ("What is {a} times {b}?", "{answer}"), ("Multiply {a} by {b}.", "{answer}"),
        ("Calculate: {a} * {b} =", "{answer}"), ("What is the product of {a} and {b}?", "{answer}"),
        ("{a} groups of {b} make how many?", "{answer}")))),
    Family("sum_of_three", "arithmetic", _sum_of_three, with_cot(t(
        ("Add {a}, {b} and {c}.", "{answer}"), ("What is {a} + {b} + {c}?", "{answer}"),
        ("Find the total of {a}, {b} and {c}.", "{answer}"), ("Sum: {a} + {b} + {c} =", "{answer}")))),
    Family("word_problem", "arithmetic", _word_problem, with_cot(t(
        ("{question}", "{answer}"), ("Solve this problem: {question}", "{answer}"),
        ("Question: {question}\nAnswer with a number.", "{answer}"),
        ("Read and answer. {question}", "{answer}"),
        ("{question}\nGive only the final number.", "{answer}")),
        inversion_templates=t(
            ("Write a question whose answer is {answer}, with this solution: {rationale}", "{question}"),
            ("Solution: {rationale} Answer: {answer}. What was the question?", "{question}")))),
    Family("halve_number", "arithmetic", _halve, with_cot(t(
        ("What is half of {n}?", "{answer}"), ("Divide {n} by 2.", "{answer}"),
        ("Split {n} into two equal parts. How big is each part?", "{answer}"),
        ("Calculate: {n} / 2 =", "{answer}")))),
    # string edits
    Family("reverse_word", "string_edit", _reverse_word, TemplateSet(t(
        ("Reverse the word \"{word}\".", "{answer}"), ("Spell {word} backwards.", "{answer}"),
        ("Write the letters of {word} in reverse order.", "{answer}"), ("{word}\nReversed:", "{answer}"),
        ("What is \"{word}\" read from right to left?", "{answer}"),
        ("Flip the order of letters in {word}.", "{answer}")),
        inversion_templates=t(("\"{answer}\" is a word spelled backwards. What is the word?", "{word}"),
                              ("Undo the reversal: {answer}", "{word}")))),
    Family("uppercase_word", "string_edit", _uppercase, TemplateSet(UPPERCASE_TEMPLATES)),
    Family("first_letter", "string_edit", _first_letter, TemplateSet(FIRST_LETTER_TEMPLATES)),
    Family("last_letter", "string_edit", _last_letter, TemplateSet(t(
        ("What is the last letter of \"{word}\"?", "{answer}"), ("Which letter does {word} end with?", "{answer}"),
        ("{word}\nFinal letter:", "{answer}"), ("Give the closing letter of the word {word}.", "{answer}")))),
    Family("remove_vowels", "string_edit", _remove_vowels, TemplateSet(t(
        ("Remove the vowels from \"{word}\".", "{answer}"), ("Write {word} without a, e, i, o or u.", "{answer}"),
        ("Delete every vowel in {word}.", "{answer}"), ("{word}\nConsonants only:", "{answer}")))),
    Family("join_words", "string_edit", _join_words, TemplateSet(t(
        ("Join \"{first}\" and \"{second}\" into one word.", "{answer}"),
        ("Glue {second} to the end of {first}, with no space.", "{answer}"),
        ("Concatenate: {first} + {second}", "{answer}"), ("Combine {first} and {second} without a space.", "{answer}")))),
    Family("repeat_word", "string_edit", _repeat_word, TemplateSet(t(
        ("Repeat \"{word}\" {times} times, separated by spaces.", "{answer}"),
        ("Say {word} {times} times.", "{answer}"), ("Write the word {word} {times} times in a row.", "{answer}"),
        ("{word} x{times}:", "{answer}")))),
    # lists
    Family("sort_numbers", "list_ops", _list_family(lambda xs: _as_list(sorted(xs))), TemplateSet(t(
        ("Sort these numbers from smallest to largest: {items}", "{answer}"),
        ("Put in ascending order: {items}", "{answer}"), ("{items}\nSorted:", "{answer}"),
        ("Arrange {items} in increasing order.", "{answer}")))),
    Family("reverse_list", "list_ops", _word_list_family(lambda xs: _as_list(xs[::-1])), TemplateSet(t(
        ("Reverse this list: {items}", "{answer}"), ("Write {items} in the opposite order.", "{answer}"),
        ("{items}\nBackwards:", "{answer}"), ("List these from last to first: {items}", "{answer}")))),
    Family("max_in_list", "list_ops", _list_family(lambda xs: str(max(xs))), TemplateSet(t(
        ("What is the largest number in {items}?", "{answer}"), ("Find the maximum: {items}", "{answer}"),
        ("{items}\nBiggest:", "{answer}"), ("Which of {items} is the highest?", "{answer}")))),
    Family("min_in_list", "list_ops", _list_family(lambda xs: str(min(xs))), TemplateSet(t(
        ("What is the smallest number in {items}?", "{answer}"), ("Find the minimum: {items}", "{answer}"),
        ("{items}\nSmallest:", "{answer}"), ("Which of {items} is the lowest?", "{answer}")))),
    Family("first_item", "list_ops", _word_list_family(lambda xs: xs[0]), TemplateSet(t(
        ("What is the first item in this list: {items}?", "{answer}"), ("{items}\nFirst item:", "{answer}"),
        ("Name the item that opens the list {items}.", "{answer}")))),
    Family("last_item", "list_ops", _word_list_family(lambda xs: xs[-1]), TemplateSet(t(
        ("What is the last item in this list: {items}?", "{answer}"), ("{items}\nLast item:", "{answer}"),
        ("Name the item that closes the list {items}.", "{answer}")))),
    Family("list_sum", "list_ops", _list_sum, with_cot(t(
        ("Add up these numbers: {items}", "{answer}"), ("What is the sum of {items}?", "{answer}"),
        ("{items}\nTotal:", "{answer}"), ("Compute the total of the list {items}.", "{answer}")))),
    # counting
    Family("count_letter", "counting", _count_letter, with_cot(t(
        ("How many times does \"{letter}\" appear in \"{word}\"?", "{answer}"),
        ("Count the letter {letter} in the word {word}.", "{answer}"),
        ("In {word}, how many {letter}'s are there?", "{answer}"),
        ("Word: {word}. Letter: {letter}. Count:", "{answer}")))),
    Family("count_words", "counting", _count_words, TemplateSet(t(
        ("How many words are in \"{sentence}\"?", "{answer}"), ("Count the words: {sentence}", "{answer}"),
        ("{sentence}\nNumber of words:", "{answer}"), ("Tell me the word count of: {sentence}", "{answer}")))),
    Family("count_vowels", "counting", _count_vowels, with_cot(t(
        ("How many vowels does \"{word}\" have?", "{answer}"), ("Count the vowels in {word}.", "{answer}"),
        ("{word}\nVowel count:", "{answer}"), ("Number of a/e/i/o/u letters in {word}?", "{answer}")))),
    Family("count_items", "counting", _count_items, TemplateSet(t(
        ("How many {kind} are in this list: {items}?", "{answer}"), ("Count the {kind}: {items}", "{answer}"),
        ("{items}\nNumber of {kind}:", "{answer}"), ("Among {items}, how many are {kind}?", "{answer}")))),
    Family("count_even", "counting", _count_even, with_cot(t(
        ("How many even numbers are in {items}?", "{answer}"), ("Count the even numbers: {items}", "{answer}"),
        ("{items}\nEven numbers, how many?", "{answer}"), ("Tell me how many of {items} are even.", "{answer}")))),
    # comparison
    Family("larger_number", "comparison", _larger, labelled(t(
        ("Which is larger, {a} or {b}?", "{answer}"), ("Pick the bigger number: {a}, {b}", "{answer}"),
        ("{a} or {b}: which is greater?", "{answer}"), ("Name the larger of {a} and {b}.", "{answer}"),
        ("Compare {a} and {b}. Which one is more?", "{answer}"), ("Max of {a} and {b}?", "{answer}"),
        ("Between {a} and {b}, give the greater value.", "{answer}"),
        ("Which number is higher: {a} or {b}?", "{answer}")),
        rationale_field="rationale", cot_templates=chain_of_thought(t(
            ("Which is larger, {a} or {b}?", "{answer}"), ("Pick the bigger number: {a}, {b}", "{answer}"))))),
    Family("smaller_number", "comparison", _smaller, labelled(t(
        ("Which is smaller, {a} or {b}?", "{answer}"), ("Pick the lower number: {a}, {b}", "{answer}"),
        ("{a} or {b}: which is less?", "{answer}"), ("Name the smaller of {a} and {b}.", "{answer}")))),
    Family("longer_word", "comparison", _longer_word, labelled(t(
        ("Which word is longer, \"{first}\" or \"{second}\"?", "{answer}"),
        ("Pick the word with more letters: {first}, {second}", "{answer}"),
        ("{first} vs {second}: which is longer?", "{answer}"), ("Name the longer word: {first} or {second}.", "{answer}")))),
    Family("alphabetical_first", "comparison", _alphabetical_first, labelled(t(
        ("Which comes first in the dictionary, \"{first}\" or \"{second}\"?", "{answer}"),
        ("Alphabetically, which is earlier: {first} or {second}?", "{answer}"),
        ("Sort {first} and {second} and give the first one.", "{answer}")))),
    Family("same_length", "comparison", _same_length, labelled(t(
        ("Do \"{first}\" and \"{second}\" have the same number of letters?", "{answer}"),
        ("Are {first} and {second} equally long?", "{answer}"),
        ("{first}, {second}: same length?", "{answer}")))),
    # classification (label set given in the instruction)
    Family("parity", "classification", _parity, labelled(PARITY_TEMPLATES)),
    Family("number_sign", "classification", _sign, labelled(t(
        ("Is {n} positive, negative or zero?", "{answer}"), ("Classify {n} by its sign: positive, negative or zero.", "{answer}"),
        ("{n}\nSign (positive / negative / zero):", "{answer}"), ("What is the sign of the number {n}?", "{answer}")))),
    Family("sentiment", "classification", _sentiment, labelled(SENTIMENT_TEMPLATES)),
    Family("word_category", "classification", _category, labelled(t(
        ("Is \"{word}\" an animal, a fruit or a color?", "{answer}"),
        ("Classify {word} as animal, fruit or color.", "{answer}"),
        ("{word}\nCategory (animal, fruit, color):", "{answer}"),
        ("Which kind of thing is {word}: animal, fruit or color?", "{answer}"),
        ("Put \"{word}\" in one of these groups: animal, fruit, color.", "{answer}"))), disjoint=False),
    Family("starts_with_vowel", "classification", _starts_with_vowel, labelled(t(
        ("Does \"{word}\" start with a vowel? Answer yes or no.", "{answer}"),
        ("Is the first letter of {word} a vowel?", "{answer}"), ("{word}\nStarts with a, e, i, o or u?", "{answer}")))),
    Family("palindrome", "classification", _palindrome, labelled(t(
        ("Is \"{word}\" a palindrome? Answer yes or no.", "{answer}"),
        ("Does {word} read the same backwards?", "{answer}"), ("{word}\nPalindrome?", "{answer}"),
        ("Check whether {word} is spelled the same in both directions.", "{answer}")))),
    # logic
    Family("boolean_and", "logic", _bool_op("and"), labelled(t(
        ("What is {p} AND {q}?", "{answer}"), ("Evaluate: {p} and {q}", "{answer}"),
        ("If A is {p} and B is {q}, is \"A and B\" true or false?", "{answer}")),
        rationale_field="rationale", cot_templates=chain_of_thought(t(("What is {p} AND {q}?", "{answer}")))), disjoint=False),
    Family("boolean_or", "logic", _bool_op("or"), labelled(t(
        ("What is {p} OR {q}?", "{answer}"), ("Evaluate: {p} or {q}", "{answer}"),
        ("If A is {p} and B is {q}, is \"A or B\" true or false?", "{answer}")),
        rationale_field="rationale", cot_templates=chain_of_thought(t(("What is {p} OR {q}?", "{answer}")))), disjoint=False),
    Family("negation", "logic", _negation, labelled(t(
        ("What is NOT {p}?", "{answer}"), ("Negate the value {p}.", "{answer}"),
        ("If a statement is {p}, what is its opposite?", "{answer}"))), disjoint=False),
    Family("comparison_statement", "logic", _comparison_statement, labelled(t(
        ("Is the statement \"{a} {op} {b}\" true or false?", "{answer}"), ("True or false: {a} {op} {b}", "{answer}"),
        ("{a} {op} {b}\nDoes this hold?", "{answer}")),
        rationale_field="rationale", cot_templates=chain_of_thought(t(("True or false: {a} {op} {b}", "{answer}"))))),
    Family("all_positive", "logic", _all_positive, labelled(t(
        ("Are all of these numbers positive: {items}?", "{answer}"), ("{items}\nEvery number above zero?", "{answer}"),
        ("Check if each of {items} is greater than 0.", "{answer}")))),
    # sequences
    Family("next_in_progression", "sequences", _progression, with_cot(t(
        ("What comes next: {items}, ...?", "{answer}"), ("Continue the sequence {items}.", "{answer}"),
        ("{items}\nNext number:", "{answer}"), ("Find the next term after {items}.", "{answer}")))),
    Family("next_letter", "sequences", _next_letter, TemplateSet(t(
        ("Which letter comes after \"{letter}\" in the alphabet?", "{answer}"),
        ("Next letter after {letter}?", "{answer}"), ("{letter}\nFollowing letter:", "{answer}"))), disjoint=False),
    Family("previous_letter", "sequences", _previous_letter, TemplateSet(t(
        ("Which letter comes before \"{letter}\" in the alphabet?", "{answer}"),
        ("Letter just before {letter}?", "{answer}"), ("{letter}\nPreceding letter:", "{answer}"))), disjoint=False),
    Family("missing_number", "sequences", _missing_number, TemplateSet(t(
        ("One number is missing from this run: {items}. Which?", "{answer}"),
        ("Find the gap in {items}.", "{answer}"), ("{items}\nMissing number:", "{answer}")))),
    # reading
    Family("color_of", "reading", _color_of, TemplateSet(t(
        ("{context}\nWhat color is {person}'s {thing}?", "{answer}"),
        ("Read: {context} Question: what is the color of the {thing}?", "{answer}"),
        ("{context}\nThe {thing} is which color?", "{answer}")))),
    Family("owner_of", "reading", _owner_of, labelled(t(
        ("{context}\nWho owns the {thing}?", "{answer}"), ("Read: {context} Whose is the {thing}?", "{answer}"),
        ("{context}\nThe {thing} belongs to whom?", "{answer}")))),
    Family("key_value", "reading", _key_value, TemplateSet(t(
        ("Given {pairs}, what is {key}?", "{answer}"), ("{pairs}\nValue of {key}:", "{answer}"),
        ("Look up {key} in: {pairs}", "{answer}")))),
    # conversion
    Family("number_to_word", "conversion", _number_to_word, TemplateSet(t(
        ("Write {n} in words.", "{answer}"), ("Spell out the number {n}.", "{answer}"),
        ("{n}\nIn English words:", "{answer}"), ("How do you write {n} as a word?", "{answer}"))), disjoint=False),
    Family("word_to_number", "conversion", _word_to_number, TemplateSet(t(
        ("Write \"{words}\" as digits.", "{answer}"), ("What number is {words}?", "{answer}"),
        ("{words}\nIn digits:", "{answer}"))), disjoint=False),
    Family("letter_position", "conversion", _letter_position, TemplateSet(t(
        ("What position does \"{letter}\" have in the alphabet?", "{answer}"),
        ("{letter} is letter number what in the alphabet?", "{answer}"), ("Alphabet index of {letter}:", "{answer}"))), disjoint=False),
    Family("plural", "conversion", _plural, TemplateSet(t(
        ("What is the plural of \"{word}\"?", "{answer}"), ("Write the plural form of {word}.", "{answer}"),
        ("One {word}, two ...?", "{answer}"), ("{word}\nPlural:", "{answer}"))), disjoint=False),
)

FAMILIES_BY_NAME = {f.name: f for f in FAMILIES}

CLUSTERS: dict[str, list[str]] = {}
for _family in FAMILIES:
    CLUSTERS.setdefault(_family.cluster, []).append(_family.name)
del _family


def family_source(family: Family, num_examples=None, seed: int = 0) -> sources.GeneratorSource:
    return sources.GeneratorSource(PREFIX + family.name, family.make, num_examples or NUM_EXAMPLES, seed,
                                       disjoint=family.disjoint)


def tasks_of(families: Sequence[str], formats: Sequence[str] | None = None) -> list[str]:
    """Registered synthetic task names of `families` (e.g. `CLUSTERS["logic"]`), optionally by format."""
    wanted = {PREFIX + f for f in families}
    return [i.task for i in registry.all_infos()
            if i.collection == COLLECTION and i.family in wanted and (formats is None or i.format in formats)]


def register(
    families: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
    num_examples: dict[str, int] | None = None,
    seed: int = 0,
    vocabulary: seqio.Vocabulary | None = None,
    few_shot: formats_lib.FewShotConfig = FEW_SHOT,
) -> list[str]:
    """Registers the synthetic suite: `synthetic_{family}_{format}` per family and format.

    Args:
      families: family names (default all of FAMILIES).
      formats: format suffixes to register where a family supports them (default all).
      num_examples: nominal split sizes (default NUM_EXAMPLES).
      seed: generation and rendering seed.
      vocabulary: default the byte vocabulary.
      few_shot: few-shot assembly (default: 3 exemplars within 255 bytes).

    Returns:
      The registered task names.
    """
    return registry.register_datasets(
        FAMILIES, families, collection=COLLECTION, prefix=PREFIX, formats=formats, vocabulary=vocabulary, seed=seed,
        make_source=lambda family: family_source(family, num_examples, seed), few_shot=few_shot,
        shuffle_buffer_size=SHUFFLE_BUFFER_SIZE,
    )


TASKS = register()
