"""The held-out benchmarks' files and prompts (Chung et al. 2022, Sec. 2.3 and Appendix D).

Readers for the original file layouts and the exact prompts we evaluate, as plain Python (no
TensorFlow), so the seqio tasks in `flan_jax_tasks.held_out`, `flan-jax score` and
`flan-jax eval --dump-prompts` all see the same examples in the same order.

| benchmark | files (directory from the argument or the environment variable)     | prompt            |
|-----------|---------------------------------------------------------------------|-------------------|
| mmlu      | $FLAN_JAX_MMLU_DIR: data/{dev,test}/SUBJECT_{dev,test}.csv          | 5-shot, dev split |
| mmlu_cot  | same, plus $FLAN_JAX_MMLU_COT_FILE (mmlu-cot.json)                  | 5-shot CoT        |
| bbh       | $FLAN_JAX_BBH_DIR: bbh/TASK.json, cot-prompts/TASK.txt              | 3-shot, answers   |
| bbh_cot   | same                                                                | 3-shot CoT        |
| tydiqa    | $FLAN_JAX_TYDIQA_DIR: dev/LANGUAGE_tydiqa_dev.json (SQuAD format)   | 1-shot            |
| mgsm      | $FLAN_JAX_MGSM_DIR: mgsm_LANG.tsv; $FLAN_JAX_GSM8K_TRAIN_FILE        | 8-shot CoT        |

Documented choices where the paper leaves them open:
- TyDiQA GoldP ships no train split here, so the one exemplar of a language is the first
  question of that language's dev file (the second one when that first question is scored).
- MGSM's upstream exemplars are code, not data; we use the first 8 GSM8K train problems with
  their rationales (calculator annotations "<<6*2=12>>" removed, "#### 72" rewritten as "So the
  answer is 72."): the "EN-CoT" setting of Shi et al. 2022 (English exemplars, any language
  asked).
- Subtask indices are 0-based positions in each subtask's test file (MMLU test CSV, BBH json
  "examples", TyDiQA questions in file order, MGSM TSV rows).
"""
import csv
import dataclasses
import functools
import json
import os
import pathlib
import re
from typing import Iterator, Mapping, Sequence

from flan_jax.eval import metrics

ENV_VARS = {
    "mmlu": "FLAN_JAX_MMLU_DIR",
    "mmlu_cot": "FLAN_JAX_MMLU_DIR",
    "bbh": "FLAN_JAX_BBH_DIR",
    "bbh_cot": "FLAN_JAX_BBH_DIR",
    "tydiqa": "FLAN_JAX_TYDIQA_DIR",
    "mgsm": "FLAN_JAX_MGSM_DIR",
}
MMLU_COT_FILE_ENV = "FLAN_JAX_MMLU_COT_FILE"
GSM8K_TRAIN_FILE_ENV = "FLAN_JAX_GSM8K_TRAIN_FILE"

MMLU_NUM_SHOTS = 5  # Sec. 2.3: "5-shot", exemplars from the dev split.
MGSM_NUM_SHOTS = 8  # Sec. 2.3: "8-shot CoT".
COT_TRIGGER = "Let's think step by step."

# MMLU subject -> category (the standard mapping of hendrycks/test `categories.py`:
# subcategory -> one of the four categories), written out as data.
MMLU_CATEGORIES = {
    "abstract_algebra": "STEM", "anatomy": "other", "astronomy": "STEM",
    "business_ethics": "other", "clinical_knowledge": "other", "college_biology": "STEM",
    "college_chemistry": "STEM", "college_computer_science": "STEM", "college_mathematics": "STEM",
    "college_medicine": "other", "college_physics": "STEM", "computer_security": "STEM",
    "conceptual_physics": "STEM", "econometrics": "social sciences", "electrical_engineering": "STEM",
    "elementary_mathematics": "STEM", "formal_logic": "humanities", "global_facts": "other",
    "high_school_biology": "STEM", "high_school_chemistry": "STEM",
    "high_school_computer_science": "STEM", "high_school_european_history": "humanities",
    "high_school_geography": "social sciences",
    "high_school_government_and_politics": "social sciences",
    "high_school_macroeconomics": "social sciences", "high_school_mathematics": "STEM",
    "high_school_microeconomics": "social sciences", "high_school_physics": "STEM",
    "high_school_psychology": "social sciences", "high_school_statistics": "STEM",
    "high_school_us_history": "humanities", "high_school_world_history": "humanities",
    "human_aging": "other", "human_sexuality": "social sciences", "international_law": "humanities",
    "jurisprudence": "humanities", "logical_fallacies": "humanities", "machine_learning": "STEM",
    "management": "other", "marketing": "other", "medical_genetics": "other",
    "miscellaneous": "other", "moral_disputes": "humanities", "moral_scenarios": "humanities",
    "nutrition": "other", "philosophy": "humanities", "prehistory": "humanities",
    "professional_accounting": "other", "professional_law": "humanities",
    "professional_medicine": "other", "professional_psychology": "social sciences",
    "public_relations": "social sciences", "security_studies": "social sciences",
    "sociology": "social sciences", "us_foreign_policy": "social sciences", "virology": "other",
    "world_religions": "humanities",
}
MMLU_CATEGORY_NAMES = ("STEM", "humanities", "social sciences", "other")


@dataclasses.dataclass(frozen=True)
class Example:
    """One evaluation example: the exact prompt and what counts as right.

    Attributes:
      subtask: MMLU subject / BBH task / TyDiQA language / MGSM language code.
      index: 0-based position in the subtask's test file.
      inputs: the full prompt given to the model.
      targets: the gold output as the model should write it (the answer; no rationale).
      answers: every accepted gold answer (TyDiQA has several; others one).
      options: candidate outputs for rank classification (empty: free-form).
    """

    subtask: str
    index: int
    inputs: str
    targets: str
    answers: tuple[str, ...]
    options: tuple[str, ...] = ()


class DataError(ValueError):
    """A benchmark's files are missing or malformed (the message names the file and the fix)."""


def data_dir(benchmark: str, directory: str | os.PathLike | None = None) -> pathlib.Path:
    """The benchmark's data directory: `directory`, else its environment variable.

    Raises:
      DataError: neither is set, or the directory does not exist.
    """
    env = ENV_VARS.get(benchmark)
    if env is None:
        raise DataError(f"Unknown benchmark {benchmark!r}; expected one of {metrics.BENCHMARKS}.")
    chosen = directory if directory is not None else os.environ.get(env)
    if not chosen:
        raise DataError(f"No data directory for {benchmark!r}: pass one or set ${env}.")
    path = pathlib.Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"{benchmark} data directory {path} does not exist (from {'argument' if directory else '$' + env}).")
    return path


def data_file(argument: str | os.PathLike | None, env: str, default_name: str, what: str) -> pathlib.Path:
    """A prompt / exemplar file: `argument`, else $`env`; a directory means its `default_name`.

    Raises:
      DataError: neither is set (naming the variable), or the file does not exist.
    """
    chosen = argument if argument is not None else os.environ.get(env)
    if not chosen:
        raise DataError(f"No {what}: pass one or set ${env} (a {default_name} or the directory holding it).")
    path = pathlib.Path(chosen).expanduser()
    if path.is_dir():
        path = path / default_name
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist (from {'argument' if argument is not None else '$' + env}).")
    return path


def _first_existing(base: pathlib.Path, candidates: Sequence[str], what: str) -> pathlib.Path:
    for candidate in candidates:
        if (base / candidate).is_dir():
            return base / candidate
    raise DataError(f"{base} has no {what} (looked for {', '.join(candidates)}).")


# ---------------------------------------------------------------------------------------- MMLU


@dataclasses.dataclass(frozen=True)
class MultipleChoice:
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # "A".."D"


def _read_mmlu_csv(path: pathlib.Path) -> list[MultipleChoice]:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for line_number, row in enumerate(csv.reader(f), start=1):
            if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
                raise DataError(
                    f"{path}:{line_number}: expected headerless rows question,A,B,C,D,answer_letter "
                    f"(hendrycks' MMLU layout), got {len(row)} fields ending {row[-1:]!r}."
                )
            rows.append(MultipleChoice(row[0], tuple(row[1:5]), row[5].strip()))
    return rows


def mmlu_split_dir(directory: pathlib.Path, split: str) -> pathlib.Path:
    """`data/{split}` under an MMLU checkout (or `{split}` directly)."""
    return _first_existing(directory, [f"data/{split}", split], f"MMLU {split} split")


def mmlu_subjects(directory: str | os.PathLike | None = None) -> list[str]:
    """The subjects with a test file, sorted."""
    test_dir = mmlu_split_dir(data_dir("mmlu", directory), "test")
    subjects = sorted(p.name[: -len("_test.csv")] for p in test_dir.glob("*_test.csv"))
    if not subjects:
        raise DataError(f"{test_dir} has no SUBJECT_test.csv files.")
    return subjects


@functools.lru_cache(maxsize=256)
def _mmlu_split(directory: pathlib.Path, split: str, subject: str) -> tuple[MultipleChoice, ...]:
    path = mmlu_split_dir(directory, split) / f"{subject}_{split}.csv"
    if not path.is_file():
        raise DataError(f"MMLU subject {subject!r} has no {split} file {path}.")
    return tuple(_read_mmlu_csv(path))


def _subject_words(subject: str) -> str:
    return subject.replace("_", " ")


def _mmlu_direct_block(mc: MultipleChoice, answer: str | None) -> str:
    lines = [mc.question] + [f"{letter}. {choice}" for letter, choice in zip("ABCD", mc.choices)]
    lines.append("Answer:" if answer is None else f"Answer: {answer}")
    return "\n".join(lines)


def mmlu_direct_prompt(subject: str, exemplars: Sequence[MultipleChoice], question: MultipleChoice) -> str:
    """Hendrycks' 5-shot format: a header, the exemplars with "Answer: X", the question, "Answer:"."""
    header = f"The following are multiple choice questions (with answers) about {_subject_words(subject)}."
    blocks = [_mmlu_direct_block(e, e.answer) for e in exemplars] + [_mmlu_direct_block(question, None)]
    return header + "\n\n" + "\n\n".join(blocks)


def mmlu_cot_prompt(cot_prompt: str, question: MultipleChoice) -> str:
    """The subject's published CoT prompt (mmlu-cot.json), then the question in its Q/A format."""
    options = " ".join(f"({letter}) {choice}" for letter, choice in zip("ABCD", question.choices))
    return f"{cot_prompt.rstrip()}\n\nQ: {question.question}\n{options}\nA: {COT_TRIGGER}"


@functools.lru_cache(maxsize=4)
def _load_json(path: pathlib.Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def mmlu_cot_prompts(cot_file: str | os.PathLike | None = None) -> dict[str, str]:
    """subject -> CoT prompt, from `cot_file` or $FLAN_JAX_MMLU_COT_FILE."""
    path = data_file(cot_file, MMLU_COT_FILE_ENV, "mmlu-cot.json", "MMLU CoT prompt file")
    prompts = _load_json(path)
    if not isinstance(prompts, dict):
        raise DataError(f"{path}: expected a JSON object subject -> prompt string.")
    return dict(prompts)


def mmlu_examples(
    subject: str,
    directory: str | os.PathLike | None = None,
    *,
    cot: bool = False,
    cot_file: str | os.PathLike | None = None,
) -> list[Example]:
    """A subject's test questions as 5-shot prompts (direct, or CoT with the published prompt)."""
    base = data_dir("mmlu", directory)
    if cot:
        prompts = mmlu_cot_prompts(cot_file)
        if subject not in prompts:
            raise DataError(f"The MMLU CoT prompt file has no prompt for subject {subject!r}.")
    else:
        exemplars = _mmlu_split(base, "dev", subject)[:MMLU_NUM_SHOTS]
        if len(exemplars) < MMLU_NUM_SHOTS:
            raise DataError(f"MMLU {subject} dev split has {len(exemplars)} questions; {MMLU_NUM_SHOTS} are needed.")
    out = []
    for index, question in enumerate(_mmlu_split(base, "test", subject)):
        inputs = mmlu_cot_prompt(prompts[subject], question) if cot else mmlu_direct_prompt(subject, exemplars, question)
        targets = f"The answer is ({question.answer})." if cot else question.answer
        out.append(Example(subject, index, inputs, targets, (question.answer,), () if cot else tuple("ABCD")))
    return out


# ----------------------------------------------------------------------------------------- BBH

# "Options:\n(A) ..." lines in BBH inputs.
_BBH_OPTION_LINE = re.compile(r"^\(([A-R])\)", re.MULTILINE)
# One CoT exemplar answer: "A: Let's think step by step.\n<rationale> So the answer is X."
_BBH_COT_ANSWER = re.compile(r"A: Let's think step by step\.\s.*?So the answer is (.+?)\.(?=\n\n|\s*$)", re.DOTALL)
# Free-form tasks whose answers come from a closed set (rank classification and chance use it).
_BBH_CLOSED_SET_MAX = 5


def bbh_dirs(directory: str | os.PathLike | None = None) -> tuple[pathlib.Path, pathlib.Path]:
    """(task json directory, cot-prompts directory) of a BIG-Bench-Hard checkout."""
    base = data_dir("bbh", directory)
    return _first_existing(base, ["bbh", "."], "bbh/*.json"), _first_existing(base, ["cot-prompts"], "cot-prompts/")


def bbh_tasks(directory: str | os.PathLike | None = None) -> list[str]:
    """The BBH task names (json files), sorted."""
    task_dir, _ = bbh_dirs(directory)
    tasks = sorted(p.stem for p in task_dir.glob("*.json"))
    if not tasks:
        raise DataError(f"{task_dir} has no BBH TASK.json files.")
    return tasks


def bbh_raw_examples(task: str, directory: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """A task's {"input", "target"} examples in file order."""
    task_dir, _ = bbh_dirs(directory)
    path = task_dir / f"{task}.json"
    if not path.is_file():
        raise DataError(f"BBH task {task!r} has no file {path}.")
    data = _load_json(path)
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list) or not all({"input", "target"} <= set(e) for e in examples):
        raise DataError(f"{path}: expected {{'examples': [{{'input': ..., 'target': ...}}, ...]}}.")
    return examples


def bbh_cot_prompt(task: str, directory: str | os.PathLike | None = None) -> str:
    """The task's published 3-shot CoT prompt (description + exemplars), canary header removed."""
    _, prompt_dir = bbh_dirs(directory)
    path = prompt_dir / f"{task}.txt"
    if not path.is_file():
        raise DataError(f"BBH task {task!r} has no CoT prompt file {path}.")
    text = path.read_text(encoding="utf-8")
    _, separator, body = text.partition("-----\n")
    return (body if separator else text).strip()


def bbh_direct_prompt(cot_prompt: str) -> str:
    """The same exemplars without rationales: "A: Let's think step by step. ... So the answer is X." -> "A: X"."""
    direct, count = _BBH_COT_ANSWER.subn(lambda m: f"A: {m.group(1)}", cot_prompt)
    if count == 0:
        raise DataError("A BBH CoT prompt has no 'A: Let's think step by step. ... So the answer is X.' exemplars.")
    return direct


def bbh_options(example_input: str, closed_set: Sequence[str]) -> tuple[str, ...]:
    """Rank-classification candidates: "(A)".. from the input's options, else the task's closed answer set."""
    letters = _BBH_OPTION_LINE.findall(example_input.split("Options:", 1)[1]) if "Options:" in example_input else []
    return tuple(f"({letter})" for letter in letters) if letters else tuple(closed_set)


def bbh_closed_set(raw: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """The task's distinct targets when they form a small closed set (True/False, yes/no, ...), else ()."""
    targets = sorted({e["target"] for e in raw})
    return tuple(targets) if len(targets) <= _BBH_CLOSED_SET_MAX and not any(t.startswith("(") for t in targets) else ()


def bbh_examples(task: str, directory: str | os.PathLike | None = None, *, cot: bool = False) -> list[Example]:
    """A task's examples as 3-shot prompts (CoT: the published prompt; direct: its answers only)."""
    cot_prompt = bbh_cot_prompt(task, directory)
    prefix = cot_prompt if cot else bbh_direct_prompt(cot_prompt)
    trigger = f" {COT_TRIGGER}" if cot else ""
    raw = bbh_raw_examples(task, directory)
    closed = bbh_closed_set(raw)
    out = []
    for index, example in enumerate(raw):
        inputs = f"{prefix}\n\nQ: {example['input']}\nA:{trigger}"
        targets = f"So the answer is {example['target']}." if cot else example["target"]
        options = () if cot else bbh_options(example["input"], closed)
        out.append(Example(task, index, inputs, targets, (example["target"],), options))
    return out


def bbh_random_score(task: str, directory: str | os.PathLike | None = None) -> float:
    """Chance accuracy of a task, percent: mean of 1/#options over its examples, 0 for free-form."""
    raw = bbh_raw_examples(task, directory)
    closed = bbh_closed_set(raw)
    chances = []
    for example in raw:
        options = bbh_options(example["input"], closed)
        chances.append(1.0 / len(options) if options else 0.0)
    return 100.0 * sum(chances) / len(chances) if chances else 0.0


# -------------------------------------------------------------------------------------- TyDiQA


@dataclasses.dataclass(frozen=True)
class Question:
    context: str
    question: str
    answers: tuple[str, ...]


def tydiqa_files(directory: str | os.PathLike | None = None) -> dict[str, pathlib.Path]:
    """language -> its GoldP dev file (LANGUAGE_tydiqa_dev.json, under dev/ or directly)."""
    base = data_dir("tydiqa", directory)
    found = {}
    for folder in (base / "dev", base):
        for path in sorted(folder.glob("*_tydiqa_dev.json")):
            found.setdefault(path.name[: -len("_tydiqa_dev.json")], path)
    if not found:
        raise DataError(f"{base} has no LANGUAGE_tydiqa_dev.json files (TyDi QA GoldP, SQuAD format).")
    return found


def tydiqa_questions(language: str, directory: str | os.PathLike | None = None) -> list[Question]:
    """A language's questions in file order (articles, then paragraphs, then qas)."""
    files = tydiqa_files(directory)
    if language not in files:
        raise DataError(f"No TyDiQA file for language {language!r}; found {sorted(files)}.")
    data = _load_json(files[language])
    try:
        return [
            Question(paragraph["context"], qa["question"], tuple(a["text"] for a in qa["answers"]))
            for article in data["data"]
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
        ]
    except (KeyError, TypeError) as e:
        raise DataError(f"{files[language]}: not SQuAD format (data/paragraphs/qas/answers): missing {e}.") from e


def _tydiqa_block(q: Question, answer: str | None) -> str:
    return f"{q.context}\n\nQ: {q.question}\n\nA:" + ("" if answer is None else f" {answer}")


def tydiqa_examples(language: str, directory: str | os.PathLike | None = None) -> list[Example]:
    """1-shot GoldP prompts: exemplar passage/question/answer, then the passage and question."""
    questions = tydiqa_questions(language, directory)
    out = []
    for index, question in enumerate(questions):
        exemplar = questions[1] if index == 0 and len(questions) > 1 else questions[0]
        shots = [_tydiqa_block(exemplar, exemplar.answers[0])] if exemplar is not question and exemplar.answers else []
        inputs = "\n\n".join(shots + [_tydiqa_block(question, None)])
        out.append(Example(language, index, inputs, question.answers[0] if question.answers else "", question.answers))
    return out


# ---------------------------------------------------------------------------------------- MGSM

_CALCULATOR = re.compile(r"<<[^>]*>>")


def mgsm_files(directory: str | os.PathLike | None = None) -> dict[str, pathlib.Path]:
    """language code -> mgsm_CODE.tsv."""
    base = data_dir("mgsm", directory)
    found = {p.stem[len("mgsm_"):]: p for p in sorted(base.glob("mgsm_*.tsv"))}
    if not found:
        raise DataError(f"{base} has no mgsm_LANG.tsv files (question<TAB>answer).")
    return found


def mgsm_problems(language: str, directory: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """(question, answer) rows of a language's TSV."""
    files = mgsm_files(directory)
    if language not in files:
        raise DataError(f"No MGSM file for language {language!r}; found {sorted(files)}.")
    rows = []
    with open(files[language], encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2:
                raise DataError(f"{files[language]}:{line_number}: expected question<TAB>answer, got {len(fields)} fields.")
            rows.append((fields[0], fields[1].strip()))
    return rows


def gsm8k_exemplars(train_file: str | os.PathLike | None = None, num_shots: int = MGSM_NUM_SHOTS) -> list[tuple[str, str, str]]:
    """The first `num_shots` GSM8K train problems as (question, rationale, answer).

    "Natalia sold 48/2 = <<48/2=24>>24 clips ...\\n#### 72" -> rationale "Natalia sold 48/2 = 24
    clips ...", answer "72".
    """
    path = data_file(train_file, GSM8K_TRAIN_FILE_ENV, "train.jsonl", "GSM8K train file (MGSM's exemplars)")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(out) == num_shots:
                break
            record = json.loads(line)
            rationale, _, answer = record["answer"].partition("####")
            rationale = " ".join(_CALCULATOR.sub("", rationale).split())
            out.append((record["question"], rationale, answer.strip()))
    if len(out) < num_shots:
        raise DataError(f"{path} has {len(out)} problems; {num_shots} exemplars are needed.")
    return out


def mgsm_prefix(exemplars: Sequence[tuple[str, str, str]]) -> str:
    """The 8 CoT exemplars: "Q: ...\\nA: Let's think step by step. <rationale> So the answer is N."."""
    return "\n\n".join(f"Q: {q}\nA: {COT_TRIGGER} {r} So the answer is {a}." for q, r, a in exemplars)


def mgsm_examples(
    language: str,
    directory: str | os.PathLike | None = None,
    *,
    gsm8k_train_file: str | os.PathLike | None = None,
) -> list[Example]:
    """A language's problems as 8-shot CoT prompts (English GSM8K exemplars)."""
    prefix = mgsm_prefix(gsm8k_exemplars(gsm8k_train_file))
    return [
        Example(language, index, f"{prefix}\n\nQ: {question}\nA: {COT_TRIGGER}", f"So the answer is {answer}.", (answer,))
        for index, (question, answer) in enumerate(mgsm_problems(language, directory))
    ]


# ------------------------------------------------------------------------------ one interface


def subtasks(benchmark: str, directory: str | os.PathLike | None = None) -> list[str]:
    """The subtask names of a benchmark as its files name them."""
    if benchmark in ("mmlu", "mmlu_cot"):
        return mmlu_subjects(directory)
    if benchmark in ("bbh", "bbh_cot"):
        return bbh_tasks(directory)
    if benchmark == "tydiqa":
        return sorted(tydiqa_files(directory))
    if benchmark == "mgsm":
        return sorted(mgsm_files(directory))
    raise DataError(f"Unknown benchmark {benchmark!r}; expected one of {metrics.BENCHMARKS}.")


def gold_answers(benchmark: str, subtask: str, directory: str | os.PathLike | None = None) -> list[tuple[str, ...]]:
    """The accepted answers of each test example of a subtask, in index order (no prompts needed)."""
    if benchmark in ("mmlu", "mmlu_cot"):
        return [(q.answer,) for q in _mmlu_split(data_dir("mmlu", directory), "test", subtask)]
    if benchmark in ("bbh", "bbh_cot"):
        return [(e["target"],) for e in bbh_raw_examples(subtask, directory)]
    if benchmark == "tydiqa":
        return [q.answers for q in tydiqa_questions(subtask, directory)]
    if benchmark == "mgsm":
        return [(answer,) for _, answer in mgsm_problems(subtask, directory)]
    raise DataError(f"Unknown benchmark {benchmark!r}; expected one of {metrics.BENCHMARKS}.")


def examples(
    benchmark: str,
    subtask: str,
    directory: str | os.PathLike | None = None,
    *,
    mmlu_cot_file: str | os.PathLike | None = None,
    gsm8k_train_file: str | os.PathLike | None = None,
) -> list[Example]:
    """A subtask's prompts, in index order."""
    if benchmark in ("mmlu", "mmlu_cot"):
        return mmlu_examples(subtask, directory, cot=benchmark == "mmlu_cot", cot_file=mmlu_cot_file)
    if benchmark in ("bbh", "bbh_cot"):
        return bbh_examples(subtask, directory, cot=benchmark == "bbh_cot")
    if benchmark == "tydiqa":
        return tydiqa_examples(subtask, directory)
    if benchmark == "mgsm":
        return mgsm_examples(subtask, directory, gsm8k_train_file=gsm8k_train_file)
    raise DataError(f"Unknown benchmark {benchmark!r}; expected one of {metrics.BENCHMARKS}.")


def iter_examples(benchmark: str, directory: str | os.PathLike | None = None, **kwargs) -> Iterator[Example]:
    """Every example of every subtask, subtask by subtask."""
    for subtask in subtasks(benchmark, directory):
        yield from examples(benchmark, subtask, directory, **kwargs)


def random_score(benchmark: str, directory: str | os.PathLike | None = None,
                 subtask_names: Sequence[str] | None = None) -> float:
    """The random-guess percent used by the normalised average (Table 5).

    MMLU 25 (four options); BBH the mean over its tasks (`subtask_names`, default all) of each
    task's chance accuracy (`bbh_random_score`, computed from the data); TyDiQA and MGSM 0
    (free-form answers).
    """
    if benchmark in ("mmlu", "mmlu_cot"):
        return 25.0
    if benchmark in ("bbh", "bbh_cot"):
        tasks = list(subtask_names) if subtask_names else bbh_tasks(directory)
        return sum(bbh_random_score(t, directory) for t in tasks) / len(tasks)
    if benchmark in ("tydiqa", "mgsm"):
        return 0.0
    raise DataError(f"Unknown benchmark {benchmark!r}; expected one of {metrics.BENCHMARKS}.")


def mmlu_category_averages(subject_scores: Mapping[str, float]) -> dict[str, float]:
    """Macro average per MMLU category over the subjects present (unknown subjects: "other" is not assumed)."""
    unknown = sorted(set(subject_scores) - set(MMLU_CATEGORIES))
    if unknown:
        raise DataError(f"MMLU subjects without a category: {unknown}; add them to MMLU_CATEGORIES.")
    out = {}
    for category in MMLU_CATEGORY_NAMES:
        scores = [s for subject, s in subject_scores.items() if MMLU_CATEGORIES[subject] == category]
        if scores:
            out[category] = sum(scores) / len(scores)
    return out
