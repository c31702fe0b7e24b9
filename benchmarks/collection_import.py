"""How long importing the whole collection takes with NIv2 at full size.

Generates a natural-instructions-format checkout of `--num-tasks` task files (default 1,616, the
size of the real task directory) in a temporary directory, points FLAN_JAX_NIV2_DIR at it (and
FLAN_JAX_COT_DIR at the CoT files when given), then times, in a fresh Python process:

  1. `import seqio, tensorflow` (the floor every run pays), and
  2. `import flan_jax_tasks.all` after that (registration of every collection + mixtures).

Usage:
    python benchmarks/collection_import.py [--num-tasks 1616] [--instances 200] [--cot-dir DIR] [--repeats 3]

Registration must stay lazy: the budget is under 10 s for the whole import. On a shared machine
the TensorFlow import alone varies by 2x with load, so each figure is the median of `--repeats`
fresh processes (all runs are printed too).
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = """
import time
t0 = time.perf_counter()
import seqio, tensorflow
t1 = time.perf_counter()
import flan_jax_tasks.niv2
t2 = time.perf_counter()
import flan_jax_tasks.all
from flan_jax.data import registry
t3 = time.perf_counter()
import collections
counts = collections.Counter(i.collection for i in registry.all_infos())
print(f"{time.time():.3f} {t1 - t0:.2f} {t2 - t1:.2f} {t3 - t1:.2f} {len(seqio.TaskRegistry.names())} {dict(counts)}")
"""


def write_checkout(root: pathlib.Path, num_tasks: int, instances: int) -> None:
    """NIv2-format task files: the real key order, `instances` instances each; 90% in the train
    list, 5% in the test list, the rest unlisted, as in the real split files."""
    (root / "tasks").mkdir(parents=True)
    (root / "splits" / "default").mkdir(parents=True)
    train, test = [], []
    for i in range(num_tasks):
        name = f"task{i:04d}_synthetic_benchmark_{i % 37}"
        (train if i % 20 < 18 else test if i % 20 == 18 else []).append(name)
        task = {
            "Contributors": ["benchmark"], "Source": [f"source_{i % 50}"], "URL": ["https://example.org"],
            "Categories": [["Question Answering", "Classification", "Text Generation"][i % 3]],
            "Reasoning": [], "Definition": [f"Task {i}: given a sentence, answer the question about it. " * 4],
            "Input_language": ["English"], "Output_language": ["English"], "Instruction_language": ["English"],
            "Domains": ["Wikipedia"],
            "Positive Examples": [{"input": f"Example {k} of task {i}.", "output": str(k), "explanation": "."}
                                  for k in range(3)],
            "Negative Examples": [],
            "Instances": [{"id": f"task{i}-{k}", "input": f"Sentence {k} of task {i}, with some words. " * 5,
                           "output": [str(k % 7)]} for k in range(instances)],
            "Instance License": ["Apache 2.0"],
        }
        (root / "tasks" / f"{name}.json").write_text(json.dumps(task, indent=4))
    (root / "splits" / "default" / "train_tasks.txt").write_text("\n".join(train) + "\n")
    (root / "splits" / "default" / "test_tasks.txt").write_text("\n".join(test) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-tasks", type=int, default=1616)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--cot-dir", default=None, help="folder of {dataset}_train.tsv files")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes to time (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "natural-instructions"
        start = time.perf_counter()
        write_checkout(root, args.num_tasks, args.instances)
        size = sum(p.stat().st_size for p in (root / "tasks").iterdir()) / 2**20
        print(f"generated {args.num_tasks} NIv2 task files ({size:.0f} MiB) in {time.perf_counter() - start:.1f} s")
        env = dict(os.environ, FLAN_JAX_NIV2_DIR=str(root), TF_CPP_MIN_LOG_LEVEL="3")
        if args.cot_dir:
            env["FLAN_JAX_COT_DIR"] = args.cot_dir
        runs = []
        for _ in range(args.repeats):
            start, start_epoch = time.perf_counter(), time.time()
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return out.returncode
            done, tf_s, niv2_s, collection_s, num_tasks, counts = out.stdout.strip().splitlines()[-1].split(" ", 5)
            # Interpreter start to collection imported; the process exit (TensorFlow teardown)
            # that follows is not part of importing.
            imported = float(done) - start_epoch
            runs.append((float(tf_s), float(niv2_s), float(collection_s), imported, wall))
            print(f"  run {len(runs)}: tf {runs[-1][0]:.2f} s, NIv2 {runs[-1][1]:.2f} s, "
                  f"collection {runs[-1][2]:.2f} s, start to imported {imported:.2f} s, with exit {wall:.2f} s")
    tf_s, niv2_s, collection_s, imported, wall = (statistics.median(column) for column in zip(*runs))
    print(f"import seqio+tensorflow:           {tf_s:6.2f} s  (median of {len(runs)})")
    print(f"import flan_jax_tasks.all after:   {collection_s:6.2f} s  ({num_tasks} tasks: {counts})")
    print(f"  of which NIv2 registration:      {niv2_s:6.2f} s")
    print(f"process start to all imported:     {imported:6.2f} s  (budget: < 10 s)")
    print(f"whole child process with exit:     {wall:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
