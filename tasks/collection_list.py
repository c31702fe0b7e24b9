"""The Flan 2022 collection's own task list, read against the tasks registered here.

The list is `flan/v2/flan_collection_info.csv` of github.com/google-research/FLAN: one row per
task of the collection (Source, Dataset, Specific Task Category, Generic Task Category,
Languages), 1,945 rows over the sources FLAN, FLAN/T0, T0, NIv2, CoT, Dialog and Program
Synthesis. Files of that repository are not shipped with flan-jax; `info_path` finds a copy:
the path given, else $FLAN_JAX_COLLECTION_INFO, else a copy of the file at a pinned commit that
it downloads once into ~/.cache/flan_jax/ (checked against its SHA-256).

How a row maps to seqio tasks (`cover`):
  FLAN, FLAN/T0      the dataset's family in flan2021; an "Inverted ..." row
                     is its `_inv` task, the other row its prompted formats
  T0                 the third column names a promptsource prompt ("social_i_qa_Generate_answer");
                     our templates are our own, so the row maps to every task of that dataset
  NIv2               the third column names the task file ("task067_abductivenli_answer_generation"):
                     the tasks registered from that file
  CoT, Dialog,       the dataset's family; generation-from-the-answer categories (Question
  Program Synthesis  Generation, Dialog Context Generation, Code Error Generation, ...) are its
                     `_inv` task, the others its prompted (CoT: chain-of-thought) formats

and what each row's status is:
  mapped            registered tasks implement it
  data_not_here     flan-jax implements it, but the data it registers from is not configured on
                    this machine (an NIv2 task file the checkout lacks, FLAN_JAX_COT_DIR unset, ...);
                    counted apart from what the project lacks
  not_implemented   deliberately not registered; `reason` says why
  missing           none of the above: a gap in flan-jax
"""
import collections
import csv
import dataclasses
import hashlib
import os
import pathlib
import re
import tempfile
import urllib.request
from typing import Iterable, Sequence

import seqio

from flan_jax.data import registry, sources
from flan_jax_tasks import cot, dialog, niv2, program_synthesis

INFO_ENV = "FLAN_JAX_COLLECTION_INFO"
INFO_COMMIT = "e9e4ec6e2701182c7a91af176f705310da541277"
INFO_URL = f"https://raw.githubusercontent.com/google-research/FLAN/{INFO_COMMIT}/flan/v2/flan_collection_info.csv"
INFO_SHA256 = "c0076d686c7c574d1597f1942d2f77763c754e632712f7bf023638dc044fdf16"
COLUMNS = ("Source", "Dataset", "Specific Task Category", "Generic Task Category", "Languages")
SOURCES = ("FLAN", "FLAN/T0", "T0", "NIv2", "CoT", "Dialog", "Program Synthesis")
# The collections of the Flan 2022 mixture, and the paper's count of its tasks (Chung et al. 2022,
# Sec. 2.1: 1,836 finetuning tasks; a task there is a dataset and task category, like a row here).
COLLECTIONS = ("flan2021", "t0sf", "niv2", "cot", "dialog")
PAPER_TASKS = 1836

MAPPED, DATA_NOT_HERE, NOT_IMPLEMENTED, MISSING = "mapped", "data_not_here", "not_implemented", "missing"
STATUSES = (MAPPED, DATA_NOT_HERE, NOT_IMPLEMENTED, MISSING)


class CollectionInfoError(ValueError):
    """The task list cannot be found or read; the message names the file and the fix."""


# --------------------------------------------------------------------------- the list
def cache_dir() -> pathlib.Path:
    """Where the downloaded list is kept: $XDG_CACHE_HOME/flan_jax, else ~/.cache/flan_jax."""
    return pathlib.Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "flan_jax"


def info_path(given: str | os.PathLike | None = None) -> pathlib.Path:
    """The task list: `given`, else $FLAN_JAX_COLLECTION_INFO, else the pinned copy (downloaded once).

    Raises:
      CollectionInfoError: a named file does not exist, or the download fails (offline): the
        message names --info and the environment variable.
    """
    chosen = given if given is not None else os.environ.get(INFO_ENV)
    if chosen:
        path = pathlib.Path(chosen).expanduser()
        if not path.is_file():
            origin = "--info" if given is not None else INFO_ENV
            raise CollectionInfoError(f"The Flan collection's task list {str(path)!r} (from {origin}) does not exist.")
        return path
    cached = cache_dir() / f"flan_collection_info-{INFO_COMMIT[:12]}.csv"
    if cached.is_file():
        return cached
    try:
        with urllib.request.urlopen(INFO_URL, timeout=30) as response:
            data = response.read()
    except OSError as e:
        raise CollectionInfoError(
            f"The Flan collection's task list is not cached ({cached}) and downloading {INFO_URL} failed ({e}). "
            f"Pass --info FILE or set {INFO_ENV}=FILE, a copy of flan/v2/flan_collection_info.csv of "
            "github.com/google-research/FLAN.") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != INFO_SHA256:
        raise CollectionInfoError(f"{INFO_URL} has SHA-256 {digest}, not the pinned {INFO_SHA256}; not cached. "
                                  f"Pass --info FILE or set {INFO_ENV}=FILE.")
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the cache entry and renamed into place: an interrupted download leaves no half file.
    with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, cached)
    return cached


@dataclasses.dataclass(frozen=True)
class Row:
    """One task of the list.

    Attributes:
      source: "FLAN", "FLAN/T0", "T0", "NIv2", "CoT", "Dialog" or "Program Synthesis".
      dataset: the list's dataset name ("bool_q", "quarel_choose", "abductive_nli", ...).
      specific: the third column: a category, a T0 prompt name, or an NIv2 task file name.
      category: the generic task category (the fourth column).
      languages: as the list writes them ("English", "['English', 'French']").
    """

    source: str
    dataset: str
    specific: str
    category: str
    languages: str


def read_rows(path: str | os.PathLike) -> list[Row]:
    """The list's rows, in file order.

    Raises:
      CollectionInfoError: naming the file, when its header is not the list's.
    """
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = tuple(next(reader, ()))
        if header != COLUMNS:
            raise CollectionInfoError(f"{str(path)!r} is not the Flan collection's task list: its header is "
                                      f"{list(header)}, expected {list(COLUMNS)}.")
        return [Row(*(value.strip() for value in row)) for row in reader if row]


# --------------------------------------------------------------------------- rows -> tasks
@dataclasses.dataclass(frozen=True)
class Coverage:
    """How one row is covered: the tasks implementing it, its status, and why where not mapped."""

    row: Row
    tasks: tuple[str, ...]
    status: str
    reason: str | None = None
    # `reason` without the row's own name, to group rows in the report.
    group: str | None = None


# The list's FLAN and FLAN/T0 names where our families are named otherwise ("flan2021_{name}").
FLAN_FAMILIES = {
    "ag_news_subset": ("flan2021_ag_news",),
    "bool_q": ("flan2021_boolq",),
    "definite_pronoun_resolution": ("flan2021_dpr",),
    "e2e_nlg": ("flan2021_e2e",),
    "glue_mrpc": ("flan2021_mrpc",),
    "glue_qqp": ("flan2021_qqp",),
    "imdb_reviews": ("flan2021_imdb",),
    "paws_wiki": ("flan2021_paws",),
    "web_nlg_en": ("flan2021_web_nlg",),
    "yelp_polarity_reviews": ("flan2021_yelp",),
    "para_crawl_enes": ("flan2021_para_crawl_en_es", "flan2021_para_crawl_es_en"),
    "wmt14_enfr": ("flan2021_wmt14_en_fr", "flan2021_wmt14_fr_en"),
}
WMT16 = re.compile(r"wmt16_translate_([a-z]{2})en")
# T0 prompt-name prefixes naming a dataset whose family is named otherwise ("t0_{prefix}").
T0_PREFIXES = {
    "cos_e_v1.11": "t0_cos_e",
    "duorc_SelfRC": "t0_duorc",
    "duorc_ParaphraseRC": "t0_duorc_paraphrase_rc",
    "wiki_hop_original": "t0_wiki_hop",
}
DIALOG_FAMILIES = {
    "qrecc": ("dialog_qrecc",),
    "task_master": ("dialog_taskmaster1", "dialog_taskmaster2", "dialog_taskmaster3"),
    "wiki_dialog": ("dialog_wiki_dialog",),
}
# Categories of generation from the answer back to its input: the `_inv` task of their dataset.
INVERSE_CATEGORIES = frozenset({
    "Question Generation", "Generate Question and Answer from Explanation", "Dialog Context Generation",
    "Coding Instruction Generation", "Code Error Generation",
})


def is_inversion(row: Row) -> bool:
    """Whether the row is its dataset's input-inversion task (T0 and NIv2 rows never are: they map
    to every task of their dataset)."""
    if row.source in ("T0", "NIv2"):
        return False
    return row.category.startswith("Inverted ") or row.category in INVERSE_CATEGORIES


def families_of(row: Row, t0_families: Iterable[str]) -> tuple[str, ...]:
    """The family names (registered or not) that implement `row`; () when none is known."""
    if row.source in ("FLAN", "FLAN/T0"):
        if match := WMT16.fullmatch(row.dataset):
            lang = match.group(1)
            return (f"flan2021_wmt16_{lang}_en", f"flan2021_wmt16_en_{lang}")
        return FLAN_FAMILIES.get(row.dataset, (f"flan2021_{row.dataset}",))
    if row.source == "T0":
        prefixes = dict(T0_PREFIXES)
        prefixes.update({family[len("t0_"):]: family for family in t0_families})
        matches = [p for p in prefixes if row.specific.startswith(p + "_")]
        return (prefixes[max(matches, key=len)],) if matches else ()
    if row.source == "NIv2":
        return (niv2.task_family(row.specific),)
    if row.source == "CoT":
        return (cot.PREFIX + row.dataset.split("_", 1)[1],)
    if row.source == "Dialog":
        return DIALOG_FAMILIES.get(row.dataset, (dialog.PREFIX + row.dataset,))
    if row.source == "Program Synthesis":
        return (program_synthesis.PREFIX + row.dataset,)
    return ()


def _release_reason(release: sources.Release, name: str) -> str:
    directory = os.environ.get(release.env)
    if not directory:
        return f"{release.env} is not set: it registers from the release at {release.url}"
    return release.problem(pathlib.Path(directory), name) or f"{release.env} is set, but registration skipped it"


def data_not_here_reason(family: str) -> str | None:
    """Why `family`, which flan-jax implements from files, is not registered here (None: it is not
    one of those). NIv2 is `niv2_reasons`' business."""
    if family.startswith(cot.PREFIX) and family[len(cot.PREFIX):] in cot.DATASETS:
        directory = os.environ.get(sources.COT_ENV)
        if not directory:
            return f"{sources.COT_ENV} is not set: the CoT tasks register from the Flan CoT files ({sources.COT_URL})"
        return f"{family[len(cot.PREFIX):]}_train.tsv is not in {sources.COT_ENV}={directory}"
    for prefix, datasets in ((dialog.PREFIX, dialog.DATASETS), (program_synthesis.PREFIX, program_synthesis.DATASETS)):
        for dataset in datasets:
            if family == prefix + dataset.name and dataset.release is not None:
                return _release_reason(dataset.release, dataset.name)
    return None


def niv2_reasons(data_dir: str | os.PathLike | None = None) -> tuple[dict[str, str], str]:
    """(family -> why niv2.register skipped its task file, the reason for any file the checkout lacks).

    Keyed by family: the list writes a file's "-" as "_" ("task352_coda_19_classification" for
    task352_coda-19_classification.json), as the family name does.
    """
    try:
        _, skipped = niv2.task_entries(data_dir)
        skipped = {niv2.task_family(name): reason for name, reason in skipped.items()}
    except sources.DataSourceError:
        return {}, (f"{sources.NIV2_ENV} is not set to a natural-instructions checkout ({sources.NIV2_URL}): "
                    "NIv2 tasks register from its task files")
    root = data_dir or os.environ[sources.NIV2_ENV]
    return skipped, f"the task file is not in the NIv2 checkout at {root} ({sources.NIV2_ENV})"


def cover(rows: Sequence[Row], niv2_dir: str | os.PathLike | None = None) -> list[Coverage]:
    """Each row with the registered tasks that implement it and its status (see the module docstring).

    Args:
      rows: the list's rows.
      niv2_dir: the NIv2 checkout to judge NIv2 rows by (default $FLAN_JAX_NIV2_DIR).
    """
    by_family: dict[str, list[registry.TaskInfo]] = collections.defaultdict(list)
    for info in registry.all_infos():
        by_family[info.family].append(info)
    t0_families = [f for f, infos in by_family.items() if infos[0].collection == "t0sf"]
    niv2_skipped, niv2_absent = niv2_reasons(niv2_dir) if any(r.source == "NIv2" for r in rows) else ({}, "")
    out = []
    for row in rows:
        families = families_of(row, t0_families)
        inversion = is_inversion(row)
        tasks = tuple(sorted(
            info.task for family in families for info in by_family.get(family, ())
            if row.source in ("T0", "NIv2") or (info.format == "inv") == inversion))
        if tasks:
            out.append(Coverage(row, tasks, MAPPED))
        elif row.source == "NIv2" and families[0] in niv2_skipped:
            reason = f"niv2.register skips it: {niv2_skipped[families[0]]}"
            out.append(Coverage(row, (), NOT_IMPLEMENTED, reason, reason))
        elif row.source == "NIv2":
            out.append(Coverage(row, (), DATA_NOT_HERE, f"{row.specific}: {niv2_absent}", niv2_absent))
        elif reasons := [r for r in map(data_not_here_reason, families) if r]:
            out.append(Coverage(row, (), DATA_NOT_HERE, "; ".join(dict.fromkeys(reasons)), reasons[0]))
        else:
            what = "its input-inversion task" if inversion and any(by_family.get(f) for f in families) else None
            reason = f"{', '.join(families) or row.dataset} registers no {what}" if what else None
            out.append(Coverage(row, (), MISSING, reason))
    return out


# --------------------------------------------------------------------------- the report
def flan2022_leaf_tasks() -> list[str]:
    """The registered tasks of the Flan 2022 collections (what the flan2022 mixture can mix)."""
    return [task for collection in COLLECTIONS for task in registry.tasks_in(collection)]


def summary(coverage: Sequence[Coverage]) -> dict[str, dict[str, int]]:
    """source -> {"rows", "datasets", and a count per status}, in SOURCES order, plus "total"."""
    table: dict[str, dict[str, int]] = {}
    for source in [*SOURCES, *sorted({c.row.source for c in coverage} - set(SOURCES))]:
        members = [c for c in coverage if c.row.source == source]
        if members:
            counts = collections.Counter(c.status for c in members)
            table[source] = {"rows": len(members), "datasets": len({c.row.dataset for c in members}),
                             **{status: counts.get(status, 0) for status in STATUSES}}
    table["total"] = {key: sum(t[key] for t in table.values()) for key in ("rows", "datasets", *STATUSES)}
    return table


def to_json(c: Coverage) -> dict:
    """One row of `--json`."""
    out = {"source": c.row.source, "dataset": c.row.dataset, "specific": c.row.specific,
           "category": c.row.category, "tasks": list(c.tasks), "status": c.status}
    if c.reason:
        out["reason"] = c.reason
    return out


@dataclasses.dataclass(frozen=True)
class Availability:
    """How many of the list's rows can be trained on here."""

    rows: int
    with_data: int  # mapped, and at least one of its tasks has its data on this machine
    without_data: int  # mapped, but none of its tasks' data is here (TFDS not prepared, ...)
    not_registered: int  # no registered task (data_not_here, not_implemented, missing)


def availability(coverage: Sequence[Coverage]) -> Availability:
    """Counts rows by whether their tasks' data is here (`sources.data_available`: files only, no
    download, no network)."""
    known: dict[str, bool] = {}

    def here(task: str) -> bool:
        if task not in known:
            known[task] = sources.data_available(seqio.TaskRegistry.get(task).source)
        return known[task]

    mapped = [c for c in coverage if c.status == MAPPED]
    with_data = sum(any(map(here, c.tasks)) for c in mapped)
    return Availability(len(coverage), with_data, len(mapped) - with_data, len(coverage) - len(mapped))
