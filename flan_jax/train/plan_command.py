"""`flan-jax plan`: memory per device of the train step on a mesh, before launching it.

    flan-jax plan --gin_file=gin/models/t5_1_1/xxl.gin --mesh 8x8 --batch 64 --lengths 2048/512 \\
      --partitioning fsdp --remat full --scan_layers [--json]

Parses gin/runs/plan.gin (finetune.gin's train step), the given gin files, then
gin/partitioning/<--partitioning>.gin, then the flags' bindings; makes DATA x MODEL fake CPU
devices (`--xla_force_host_platform_device_count`, set before JAX starts) and compiles the step
for that mesh on abstract shapes (`flan_jax.train.plan`), allocating no parameter. `--mesh N`
takes NUM_PARTITIONS from the gin files; `--mesh DATAxMODEL` sets it to MODEL.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Sequence

from flan_jax import gin_flags

PROG = "flan-jax plan"
PARTITIONING_DIR = gin_flags.REPO_GIN_DIR / "partitioning"


def parse_flags(argv: Sequence[str]) -> argparse.Namespace:
    parser = gin_flags.make_parser(PROG, __doc__.split("\n\n")[0])
    parser.add_argument("--mesh", required=True, help="DATAxMODEL (e.g. 8x8) or a device count (NUM_PARTITIONS from gin)")
    parser.add_argument("--batch", type=int, default=None, help="global BATCH_SIZE (default: the gin files')")
    parser.add_argument("--lengths", default=None, help="INPUTS/TARGETS lengths, e.g. 2048/512 (default: TASK_FEATURE_LENGTHS)")
    parser.add_argument(
        "--partitioning", default=None, choices=sorted(p.stem for p in PARTITIONING_DIR.glob("*.gin")),
        help="a gin/partitioning/*.gin preset (fsdp also shards weights and optimizer state over 'data')",
    )
    parser.add_argument("--remat", default=None, help="REMAT_POLICY: none, minimal or full")
    parser.add_argument("--scan_layers", action="store_true", help="SCAN_LAYERS = True")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    flags = gin_flags.parse(parser, argv)
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", flags.mesh)
    if not match or int(match.group(1)) < 1 or (match.group(2) and int(match.group(2)) < 1):
        parser.error(f"--mesh {flags.mesh!r}: expected DATAxMODEL such as 8x8, or a device count such as 64")
    data, model = int(match.group(1)), match.group(2) and int(match.group(2))
    flags.devices, flags.model_parallel = data * (model or 1), model
    if flags.lengths is not None and not re.fullmatch(r"\d+/\d+", flags.lengths):
        parser.error(f"--lengths {flags.lengths!r}: expected INPUTS/TARGETS such as 2048/512")
    return flags


def use_fake_cpu_devices(count: int) -> None:
    """`count` CPU devices for JAX, which must not have started yet (this command's module
    imports nothing of JAX before this)."""
    if "jax" in sys.modules:
        import jax

        if jax.device_count() < count:
            raise ValueError(f"JAX already started with {jax.device_count()} devices, fewer than --mesh's {count}: "
                             "run flan-jax plan in a fresh process")
        return
    flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "", os.environ.get("XLA_FLAGS", ""))
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    os.environ["JAX_PLATFORMS"] = "cpu"


def _bindings(flags: argparse.Namespace) -> list[str]:
    """The flags as gin bindings, applied after every file and --gin binding."""
    bindings = []
    if flags.batch is not None:
        bindings.append(f"BATCH_SIZE = {flags.batch}")
    if flags.lengths is not None:
        inputs, targets = flags.lengths.split("/")
        bindings.append(f"TASK_FEATURE_LENGTHS = {{'inputs': {int(inputs)}, 'targets': {int(targets)}}}")
    if flags.model_parallel is not None:
        bindings += [f"NUM_PARTITIONS = {flags.model_parallel}", "MODEL_PARALLEL_SUBMESH = None"]
    if flags.scan_layers:
        bindings.append("SCAN_LAYERS = True")
    if flags.remat is not None:
        bindings.append(f"REMAT_POLICY = {flags.remat!r}")
    return bindings


def run(flags: argparse.Namespace) -> dict:
    """Parses gin, compiles the step for the mesh and prints the plan; returns its JSON object."""
    import gin
    import jax

    preset = [f"partitioning/{flags.partitioning}.gin"] if flags.partitioning else []
    gin_flags.parse_gin(["runs/plan.gin", *flags.gin_file, *preset], flags.gin_bindings, flags.gin_search_paths)
    preset_partitions = gin_flags.macro("NUM_PARTITIONS", 1) or 1
    if flags.model_parallel is not None and preset_partitions not in (1, flags.model_parallel):
        raise ValueError(
            f"--partitioning {flags.partitioning} puts {preset_partitions} devices on the 'model' axis but --mesh "
            f"{flags.mesh} says {flags.model_parallel}: use --mesh {flags.devices // preset_partitions}x{preset_partitions}"
        )
    gin.parse_config(_bindings(flags))
    from flan_jax import gin_configurables
    from flan_jax.train import plan as plan_lib

    partitioner = gin_configurables.Partitioner(devices=jax.devices()[: flags.devices])
    result = gin_configurables.plan(partitioner=partitioner)
    rules = "fsdp" if gin.query_parameter("partitioning.standard_logical_axis_rules.fsdp") else "standard"
    lengths = gin_flags.macro("TASK_FEATURE_LENGTHS")
    setting = {
        "gin_files": list(flags.gin_file), "batch_size": gin_flags.macro("BATCH_SIZE"),
        "lengths": f"{lengths['inputs']}/{lengths['targets']}", "rules": rules,
        "remat_policy": gin_flags.macro("REMAT_POLICY", "none"), "scan_layers": bool(gin_flags.macro("SCAN_LAYERS", False)),
    }
    summary = {**result.to_json(), **setting}
    if flags.json:
        print(json.dumps(summary))
    else:
        title = (f"plan: {' '.join(flags.gin_file)}, batch {setting['batch_size']} x {setting['lengths']}, {rules} rules, "
                 f"remat {setting['remat_policy']}, {'scanned' if setting['scan_layers'] else 'unrolled'} layers")
        print(plan_lib.format_plan(result, title))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    flags = parse_flags(list(sys.argv[1:] if argv is None else argv))
    use_fake_cpu_devices(flags.devices)
    return gin_flags.run_command(PROG, lambda: run(flags))
