"""`flan-jax tasks list|show|stats|coverage`: what the collection registers, what its examples look
like, and how much of the Flan 2022 collection's own task list it covers.

    flan-jax tasks list [--collection synthetic]        one task name per line
    flan-jax tasks show NAME [-n 3] [--split train]     rendered inputs / targets as text
    flan-jax tasks show NAME --json                     one JSON object per line
    flan-jax tasks stats                                tasks per collection and format, clusters
    flan-jax tasks coverage [--info FILE] [--json]      the list's rows per source: mapped / missing

Tasks are registered by importing `--module` (repeatable; default `flan_jax_tasks.all`, the
whole collection), as t5x does with MIXTURE_OR_TASK_MODULE.
"""
import argparse
import collections
import importlib
import itertools
import json
import sys
from typing import Any, Iterator, Sequence, TextIO

import seqio

from flan_jax.data import epochs, registry, sources

DEFAULT_MODULES = ("flan_jax_tasks.all",)


def import_modules(modules: Sequence[str], prog: str = "flan-jax tasks") -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                raise SystemExit(f"{prog}: cannot import --module {module!r} ({e}).") from e
            raise


def list_tasks(collection: str | None = None) -> list[str]:
    """Registered task names, sorted; only those recorded under `collection` when given."""
    if collection is None:
        return sorted(seqio.TaskRegistry.names())
    return registry.tasks_in(collection)


def examples(name: str, num: int | None, split: str) -> Iterator[dict[str, Any]]:
    """The first `num` examples (all of them when None) of task `name`, untrimmed and unshuffled.

    A task whose registration declares that it only tokenizes what its Python source renders
    (`registry.TaskInfo.tokenize_in_python`: the collection's templated tasks) is read from its
    source, as the input pipeline does, with no tf.data pipeline to build (measured on NIv2 tasks:
    ~0.04 s a task instead of ~3 s); any other task through its seqio pipeline.
    """
    task = registry.get_mixture_or_task(name)
    if not isinstance(task, seqio.Task):
        raise ValueError(f"{name!r} is a mixture; `flan-jax mixture show {name}` lists its tasks.")
    reason = sources.unavailable_reason(task.source)
    if reason:
        raise ValueError(f"Task {name!r} is registered but its data is not here: {reason}.")
    sources.check_split("Task", name, split, task.splits)
    if epochs.reads_in_python(task):
        for example in itertools.islice(sources.iter_examples(task.source, split), num):
            yield {"task": name, **{k: v for k, v in example.items() if k not in ("inputs", "targets")},
                   "inputs": example["inputs"], "targets": example["targets"]}
        return
    dataset = task.get_dataset(sequence_length=None, split=split, shuffle=False, num_epochs=1)
    for example in (dataset if num is None else dataset.take(num)).as_numpy_iterator():
        out = {"task": name}
        for key, value in example.items():
            if key in ("inputs", "targets"):
                continue  # token ids; the strings follow
            out[key] = sources.to_python(value)
        out["inputs"] = out.pop("inputs_pretokenized", None) or _decode(task, "inputs", example)
        out["targets"] = out.pop("targets_pretokenized", None) or _decode(task, "targets", example)
        yield out


def _decode(task: seqio.Task, feature: str, example: dict) -> str:
    return task.output_features[feature].vocabulary.decode(example[feature].tolist())


def show(name: str, num: int, split: str, as_json: bool, out: TextIO) -> None:
    for i, example in enumerate(examples(name, num, split)):
        if as_json:
            out.write(json.dumps(example, ensure_ascii=False) + "\n")
            continue
        meta = ", ".join(f"{k}={v}" for k, v in example.items() if k.startswith("_"))
        print(f"=== {name} [{split}] #{i}" + (f" ({meta})" if meta else ""), file=out)
        print(f"--- inputs\n{example['inputs']}\n--- targets\n{example['targets']}\n", file=out)


def stats(out: TextIO) -> None:
    """Tasks per collection and format, families, train examples where known, clusters."""
    infos = registry.all_infos()
    by_collection: dict[str, list[registry.TaskInfo]] = collections.defaultdict(list)
    for info in infos:
        by_collection[info.collection].append(info)
    unrecorded = sorted(set(seqio.TaskRegistry.names()) - {i.task for i in infos})
    formats = sorted({i.format or "-" for i in infos})
    print(f"{len(seqio.TaskRegistry.names())} tasks, {len(seqio.MixtureRegistry.names())} mixtures", file=out)
    header = f"{'collection':<12} {'tasks':>6} {'families':>8} {'train examples':>15}  " + " ".join(
        f"{f:>8}" for f in formats)
    print(header, file=out)
    for collection in sorted(by_collection):
        rows = by_collection[collection]
        per_format = collections.Counter(i.format or "-" for i in rows)
        families = {i.family for i in rows}
        known = _train_examples(rows)
        print(f"{collection:<12} {len(rows):>6} {len(families):>8} {known:>15}  "
              + " ".join(f"{per_format.get(f, 0):>8}" for f in formats), file=out)
    if unrecorded:
        print(f"{'(unrecorded)':<12} {len(unrecorded):>6}", file=out)
    print("\nclusters (collection/cluster: families)", file=out)
    for collection in sorted(by_collection):
        families_by_cluster: dict[str, set[str]] = collections.defaultdict(set)
        for info in by_collection[collection]:
            if info.cluster:
                families_by_cluster[info.cluster].add(info.family)
        for cluster, families in sorted(families_by_cluster.items()):
            print(f"  {collection}/{cluster}: {len(families)}", file=out)


def _train_examples(rows: Sequence[registry.TaskInfo]) -> str:
    """Sum over families of train examples, counting each family once; "?" parts unknown."""
    total, unknown, seen = 0, 0, set()
    for info in rows:
        if info.family in seen:
            continue
        seen.add(info.family)
        source = seqio.TaskRegistry.get(info.task).source
        base = getattr(source, "base", source)
        count = None
        # Counted only from data that is here: TFDS would read its builder's metadata (possibly
        # remotely) and a Hugging Face dataset would be loaded whole, or downloaded, to count it.
        local = not isinstance(base, (seqio.TfdsDataSource, sources.HfDatasetSource))
        if "train" in source.splits and local and sources.unavailable_reason(base) is None:
            count = base.num_input_examples("train")
        if count is None:
            unknown += 1
        else:
            total += count
    if unknown == len(seen):
        return "?"
    return f"{total:,}" + (f" (+{unknown}?)" if unknown else "")


def coverage(info: str | None, as_json: bool, out: TextIO) -> None:
    """Prints how the Flan 2022 list's rows map to registered tasks (`collection_list.cover`).

    Raises:
      collection_list.CollectionInfoError: the list cannot be found (offline, no --info).
    """
    from flan_jax_tasks import collection_list  # the CLI sits above the task collection

    path = collection_list.info_path(info)
    covered = collection_list.cover(collection_list.read_rows(path))
    if as_json:
        for c in covered:
            out.write(json.dumps(collection_list.to_json(c), ensure_ascii=False) + "\n")
        return
    table = collection_list.summary(covered)
    print(f"Flan 2022 task list: {path} ({len(covered):,} rows)", file=out)
    columns = ("rows", "datasets", *collection_list.STATUSES)
    print(f"{'source':<18}" + "".join(f"{c:>16}" for c in columns), file=out)
    for source, counts in table.items():
        print(f"{source:<18}" + "".join(f"{counts[c]:>16,}" for c in columns), file=out)
    leaves = collection_list.flan2022_leaf_tasks()
    families = {registry.info(t).family for t in leaves}
    print(f"\nregistered leaf tasks of the Flan 2022 collections ({', '.join(collection_list.COLLECTIONS)}): "
          f"{len(leaves):,} seqio tasks (dataset x format) over {len(families):,} datasets; the paper's collection: "
          f"{collection_list.PAPER_TASKS:,} tasks (dataset x task category, as the list's rows)", file=out)
    headings = {
        collection_list.MISSING: "missing from flan-jax",
        collection_list.DATA_NOT_HERE: "implemented, but the data is not on this machine (counted apart)",
        collection_list.NOT_IMPLEMENTED: "not implemented, with the reason",
    }
    for status, heading in headings.items():
        rows = [c for c in covered if c.status == status]
        if not rows:
            continue
        print(f"\n{heading}:", file=out)
        groups: dict[tuple[str, str | None], list[str]] = collections.defaultdict(list)
        for c in rows:
            name = c.row.specific if c.row.source == "NIv2" else c.row.dataset
            groups[(c.row.source, c.group)].append(name)
        for (source, group), names in groups.items():
            unique = list(dict.fromkeys(names))
            shown = ", ".join(unique if status == collection_list.MISSING else unique[:6])
            more = "" if len(shown.split(", ")) == len(unique) else f", ... ({len(unique) - 6} more; --json lists all)"
            print(f"  {source} ({len(names):,} rows){': ' + group if group else ''}\n    {shown}{more}", file=out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flan-jax tasks", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--module", action="append", default=None,
                        help="module that registers tasks (repeatable); default flan_jax_tasks.all")
    commands = parser.add_subparsers(dest="command", required=True)
    list_ = commands.add_parser("list", parents=[common], help="task names, one per line")
    list_.add_argument("--collection", help=f"one of {', '.join(registry.COLLECTIONS)} (or any recorded)")
    show_ = commands.add_parser("show", parents=[common], help="rendered examples of a task")
    show_.add_argument("name")
    show_.add_argument("-n", type=int, default=3, help="number of examples")
    show_.add_argument("--split", default="train")
    show_.add_argument("--json", action="store_true", help="one JSON object per line")
    commands.add_parser("stats", parents=[common], help="tasks per collection and format, clusters")
    coverage_ = commands.add_parser("coverage", parents=[common],
                                    help="the Flan 2022 task list's rows against the registered tasks")
    coverage_.add_argument("--info", help="flan_collection_info.csv (default: $FLAN_JAX_COLLECTION_INFO, else "
                                          "the pinned copy of github.com/google-research/FLAN, downloaded once)")
    coverage_.add_argument("--json", action="store_true", help="one JSON object per row")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    import_modules(args.module or DEFAULT_MODULES)
    out = sys.stdout
    if args.command == "list":
        known = set(registry.COLLECTIONS) | {i.collection for i in registry.all_infos()}
        if args.collection is not None and args.collection not in known:
            print(f"flan-jax tasks list: unknown collection {args.collection!r}; known: "
                  f"{', '.join(sorted(known))}.", file=sys.stderr)
            return 2
        try:
            for name in list_tasks(args.collection):
                print(name, file=out)
        except BrokenPipeError:  # `flan-jax tasks list | head`
            sys.stderr.close()
    elif args.command == "show":
        try:
            show(args.name, args.n, args.split, args.json, out)
        except ValueError as e:
            print(f"flan-jax tasks show: {e}", file=sys.stderr)
            return 1
    elif args.command == "coverage":
        from flan_jax_tasks import collection_list

        try:
            coverage(args.info, args.json, out)
        except collection_list.CollectionInfoError as e:
            print(f"flan-jax tasks coverage: {e}", file=sys.stderr)
            return 1
    else:
        stats(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
