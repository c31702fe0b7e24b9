"""Program synthesis (Flan 2022): code generation from problem statements, and compiler-error repair.

The Flan Collection's list (flan_collection_info.csv, source "Program Synthesis") names five
datasets, each with a task and its inversion:

  dmcc_python                DeepMind CodeContests, Python solutions: Code Generation (statement ->
                             program) and Coding Instruction Generation (program -> statement, `_inv`)
  dr_repair_{plain_code,     DrRepair: Code Repair (broken program -> fixed program) and Code Error
   error_comments,           Generation (fixed program -> the broken one, `_inv`), in four prompt
   line_numbers, no_errors}  layouts: the compiler message given below the code, written as a comment
                             on the line it names, with numbered lines (the target is the corrected
                             lines), or no message at all

The public Flan code ships neither dataset (google-research/FLAN flan/v2/README.md, "NB #2": legal
constraints), so both are read from their own public releases, with our templates:

  * CodeContests (Li et al. 2022; github.com/deepmind/code_contests): the Hugging Face copy
    `deepmind/code_contests` (Parquet, CC BY 4.0; splits train / valid), only the columns used here.
    A problem becomes one example with its first Python 3 solution (else Python 2); problems
    without a Python solution are dropped.
  * DrRepair (Yasunaga & Liang 2020; github.com/michiyasunaga/DrRepair, MIT): the preprocessed
    program-repair data its `download_preprocessed_data.sh` fetches from
    nlp.stanford.edu/projects/myasu/DrRepair/data/; unzip err-data-compiler--orig-spoc.zip and
    err-data-compiler--auto-corrupt--orig-deepfix.zip into one directory and pass it as
    `register(dr_repair_dir=...)` or set FLAN_JAX_DRREPAIR_DIR. Each program file holds the
    correct program and compiler errors of broken variants; an example is one variant (at most
    `MAX_VARIANTS` per program, in file order, so a split fits in memory). Programs under SPoC's
    `s5/` and DeepFix's `bin4/` (DrRepair's own held-out parts) are the validation split.

Collection: Chung et al. 2022 (Sec. 2.1) add program synthesis (DrRepair, CodeContests) to the
"Muffin" collection, i.e. Flan 2021 extended; the FLAN repository's mixtures define no weight of
their own for it (they leave it out). So these tasks are recorded in the "flan2021" collection
(cluster "program_synthesis") and mixed under Flan 2021's weight and per-dataset cap: no new number.
"""
import dataclasses
import json
import os
import pathlib
from typing import Any, Callable, Mapping, Sequence

import seqio

from flan_jax.data import registry, sources
from flan_jax.data.templates import TemplateSet
from flan_jax_tasks.families import t

COLLECTION = "flan2021"
PREFIX = "program_synthesis_"
CLUSTER = "program_synthesis"
FORMATS = ("zs_noopt", "fs_noopt", "inv")

# --------------------------------------------------------------------------- CodeContests
CODE_GENERATION = TemplateSet(t(
    ("Write a Python program to solve the following problem.\n\n{description}", "{solution}"),
    ("{description}\n\nSolve this problem in Python. Read the input from stdin and print the answer.", "{solution}"),
    ("Problem:\n{description}\n\nPython solution:", "{solution}"),
    ("Here is a programming contest problem.\n\n{description}\n\nGive a complete Python program that solves it.",
     "{solution}"),
), inversion_templates=t(
    ("{solution}\n\nWrite the programming problem statement that this Python program solves.", "{description}"),
    ("Here is a solution to a programming contest problem:\n\n{solution}\n\nWhat was the problem?", "{description}"),
    ("Python program:\n{solution}\n\nDescribe the task it performs, as a contest problem with input and output "
     "format.", "{description}"),
))

# CodeContests' `solutions.language` values (its Problem proto): PYTHON is Python 2.
PYTHON3, PYTHON2 = 3, 1
CODE_CONTESTS_COLUMNS = ["name", "description", "solutions"]


def code_contests_fields(ex: Mapping[str, Any]) -> dict[str, str] | None:
    """A CodeContests problem -> {description, solution}: its first Python 3 (else Python 2) solution."""
    solutions = ex["solutions"]
    by_language = {}
    for language, code in zip(solutions["language"], solutions["solution"]):
        if code.strip():
            by_language.setdefault(language, code.strip())
    solution = by_language.get(PYTHON3) or by_language.get(PYTHON2)
    description = ex["description"].strip()
    return {"description": description, "solution": solution} if description and solution else None


# --------------------------------------------------------------------------- DrRepair
DRREPAIR_ENV = "FLAN_JAX_DRREPAIR_DIR"
DRREPAIR_URL = ("https://github.com/michiyasunaga/DrRepair (download_preprocessed_data.sh: "
                "err-data-compiler--orig-spoc.zip and err-data-compiler--auto-corrupt--orig-deepfix.zip, unzipped)")
DRREPAIR_GLOBS = ("err-data-compiler--orig-spoc/s*/*.json", "err-data-compiler--auto-corrupt--orig-deepfix/bin*/*/*.json")
# DrRepair's own held-out parts: SPoC's fifth subset and DeepFix's fifth bin.
DRREPAIR_VALIDATION_PARTS = ("s5", "bin4")
MAX_VARIANTS = 3

REPAIR_FIELDS = ("program", "fixed", "error", "commented", "numbered", "fixed_numbered", "fix", "broken")


def _render(lines: Sequence[Mapping[str, Any]], code: Mapping[int, str]) -> list[str]:
    """Program lines as text, indented as the release records them, with `code` overriding lines."""
    return ["    " * int(line["indent"]) + code.get(line["line"], line["code"]) for line in lines]


def repair_fields(program: Mapping[str, Any], error: Mapping[str, Any]) -> dict[str, str] | None:
    """One broken variant of a DrRepair program file -> the fields of every prompt layout.

    Example: lines [{"line": 0, "code": "int x = 1", "indent": 0}], error {"mod_line": [0],
    "mod_code": ["int x = 1 ;"] ...} renders the broken line from mod_code and the fixed one from
    the file's lines; `fix` reads "line 0: int x = 1" and `broken` "line 0: <the broken code>".
    """
    lines = program["lines"]
    numbers = [line["line"] for line in lines]
    broken = dict(zip(error["mod_line"], error["mod_code"]))
    if not lines or not broken or not set(broken) <= set(numbers):
        return None
    gold = {line["line"]: line["code"] for line in lines}
    message = " ".join(str(error["err_msg"]).split())
    fixed_lines, broken_lines = _render(lines, {}), _render(lines, broken)
    commented = [f"{text}  // error: {message}" if number == error["err_line"] else text
                 for number, text in zip(numbers, broken_lines)]
    if error["err_line"] not in numbers:
        commented.insert(0, f"// error: {message}")
    return {
        "program": "\n".join(broken_lines),
        "fixed": "\n".join(fixed_lines),
        "error": f"line {error['err_line']}: {message}",
        "commented": "\n".join(commented),
        "numbered": "\n".join(f"{n} {text}" for n, text in zip(numbers, broken_lines)),
        "fixed_numbered": "\n".join(f"{n} {text}" for n, text in zip(numbers, fixed_lines)),
        "fix": "\n".join(f"line {n}: {gold[n]}" for n in sorted(broken)),
        "broken": "\n".join(f"line {n}: {broken[n]}" for n in sorted(broken)),
    }


def _split_of(path: pathlib.Path) -> str:
    return "validation" if set(path.parts) & set(DRREPAIR_VALIDATION_PARTS) else "train"


def read_dr_repair(directory: pathlib.Path, split: str) -> list[dict[str, str]]:
    """The broken variants of the release's programs in `split`, as fields (see `repair_fields`)."""
    examples = []
    for pattern in DRREPAIR_GLOBS:
        for path in sorted(directory.glob(pattern)):
            if _split_of(path.relative_to(directory)) != split:
                continue
            try:
                program = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise sources.DataSourceError(f"DrRepair file {str(path)!r} is not valid JSON ({e}); re-download "
                                              f"it ({DRREPAIR_URL}).") from e
            if not isinstance(program, dict) or not {"lines", "errors"} <= set(program):
                raise sources.DataSourceError(f"DrRepair file {str(path)!r} lacks 'lines' or 'errors'; it should be "
                                              f"a program file of {DRREPAIR_URL}.")
            variants = (repair_fields(program, error) for error in program["errors"])
            examples += [fields for fields in variants if fields is not None][:MAX_VARIANTS]
    return examples


DRREPAIR_RELEASE = sources.Release(
    DRREPAIR_ENV, DRREPAIR_URL, "err-data-compiler--orig-spoc/ and err-data-compiler--auto-corrupt--orig-deepfix/",
    DRREPAIR_GLOBS, read_dr_repair, argument="dr_repair_dir")

REPAIR_INSTRUCTION = "Fix the compile error in this C++ program."
DR_REPAIR_LAYOUTS = {
    "dr_repair_plain_code": TemplateSet(t(
        ("{program}\n\nThe compiler reports: {error}\n" + REPAIR_INSTRUCTION, "{fixed}"),
        ("This C++ code does not compile ({error}).\n\n{program}\n\nWrite the corrected program.", "{fixed}"),
        ("Code:\n{program}\nCompiler error: {error}\nCorrected code:", "{fixed}"),
    ), inversion_templates=t(
        ("{fixed}\n\nIntroduce a bug into this C++ program so that the compiler reports: {error}", "{program}"),
        ("Working program:\n{fixed}\nWrite a broken version that fails with \"{error}\".", "{program}"),
    )),
    "dr_repair_error_comments": TemplateSet(t(
        ("{commented}\n\nThe comment marks where compilation fails. " + REPAIR_INSTRUCTION, "{fixed}"),
        ("Repair the C++ program below; the compiler error is noted as a comment.\n\n{commented}", "{fixed}"),
        ("Broken code (error in the comment):\n{commented}\nFixed code:", "{fixed}"),
    ), inversion_templates=t(
        ("{fixed}\n\nBreak this program so that it fails with \"{error}\", and mark the error with a comment.",
         "{commented}"),
        ("Correct program:\n{fixed}\nWrite a version with a compile error, noted as a comment on its line.",
         "{commented}"),
    )),
    "dr_repair_line_numbers": TemplateSet(t(
        ("{numbered}\n\nCompiler error at {error}\nWhich lines must change, and to what?", "{fix}"),
        ("The numbered C++ program below fails to compile ({error}). Give the corrected lines.\n\n{numbered}",
         "{fix}"),
        ("Program:\n{numbered}\nError: {error}\nCorrected lines:", "{fix}"),
    ), inversion_templates=t(
        ("{fixed_numbered}\n\nChange some lines of this program so that the compiler reports {error}. Give the "
         "changed lines.", "{broken}"),
        ("Working program:\n{fixed_numbered}\nWhich edited lines would cause the error \"{error}\"?", "{broken}"),
    )),
    "dr_repair_no_errors": TemplateSet(t(
        ("{program}\n\nThis C++ program does not compile. Fix it.", "{fixed}"),
        ("Find and fix the bug that stops this code from compiling:\n\n{program}", "{fixed}"),
        ("Broken code:\n{program}\nFixed code:", "{fixed}"),
    ), inversion_templates=t(
        ("{fixed}\n\nWrite a version of this C++ program with a compile error.", "{program}"),
        ("Correct code:\n{fixed}\nBroken code:", "{program}"),
    )),
}


# --------------------------------------------------------------------------- the datasets
@dataclasses.dataclass(frozen=True)
class Dataset:
    """One program-synthesis dataset: a Hub dataset (`hf_path`) or the DrRepair `release`."""

    name: str
    templates: TemplateSet
    fields: tuple[str, ...]
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    hf_path: str | None = None
    release: sources.Release | None = None
    cluster: str = CLUSTER


DATASETS = (
    Dataset("dmcc_python", CODE_GENERATION, ("description", "solution"), code_contests_fields,
            hf_path="deepmind/code_contests"),
    *(Dataset(name, templates, REPAIR_FIELDS, release=DRREPAIR_RELEASE) for name, templates in DR_REPAIR_LAYOUTS.items()),
)
DATASETS_BY_NAME = {d.name: d for d in DATASETS}
REPAIR_SIGNATURE = sources.signature(**dict.fromkeys(REPAIR_FIELDS, str))


def register(
    datasets: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
    vocabulary: seqio.Vocabulary | None = None,
    dr_repair_dir: str | os.PathLike | None = None,
    data_files: Mapping[str, Mapping[str, str]] | None = None,
    on_missing: str = "error",
    seed: int = 0,
) -> list[str]:
    """Registers `program_synthesis_{dataset}_{format}` (nothing is read now but file names).

    Args:
      datasets: names from DATASETS. Default: dmcc_python, plus the DrRepair layouts when their
        directory is given here or by FLAN_JAX_DRREPAIR_DIR.
      formats: "zs_noopt", "fs_noopt", "inv".
      vocabulary: default the byte vocabulary.
      dr_repair_dir: the unzipped DrRepair data (default $FLAN_JAX_DRREPAIR_DIR).
      data_files: {"dmcc_python": {split: JSON-lines path}} read instead of the Hub (tests,
        offline copies; the same fields as the Hub dataset).
      on_missing: the DrRepair directory or its files absent: "error" (the message says what to
        download and where to point) or "warn" (log it, skip the layouts).
      seed: rendering seed.

    Returns:
      The registered task names.
    """
    if on_missing not in ("error", "warn"):
        raise ValueError(f"on_missing must be 'error' or 'warn', got {on_missing!r}.")
    if datasets is None:
        configured = dr_repair_dir is not None or os.environ.get(DRREPAIR_ENV)
        datasets = [d.name for d in DATASETS if d.release is None or configured]
    chosen = registry.select(DATASETS, datasets, "program synthesis")
    release_source = None
    if any(d.release is not None for d in chosen):
        try:
            directory = DRREPAIR_RELEASE.directory(dr_repair_dir, "DrRepair")
            # One source for the four layouts: the release is read once, whichever is asked first.
            release_source = sources.ReleaseSource("dr_repair", directory, DRREPAIR_RELEASE, REPAIR_SIGNATURE)
        except sources.DataSourceError as e:
            registry.handle_missing_data(e, on_missing, "DrRepair (program synthesis)")
            chosen = [d for d in chosen if d.release is None]
    data_files = dict(data_files or {})

    def make_source(dataset: Dataset) -> seqio.DataSource:
        if dataset.release is not None:
            return release_source
        if dataset.name in data_files:
            files = dict(data_files[dataset.name])
            return sources.HfDatasetSource("json", splits={s: s for s in files}, data_files=files)
        return sources.HfDatasetSource(dataset.hf_path, splits={"train": "train", "validation": "valid"},
                                       load_kwargs={"columns": CODE_CONTESTS_COLUMNS})

    return registry.register_datasets(
        chosen, None, collection=COLLECTION, prefix=PREFIX, formats=formats, vocabulary=vocabulary, seed=seed,
        make_source=make_source,
    )


TASKS = register(on_missing="warn")
