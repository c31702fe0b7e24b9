"""End to end: the same N examples of a real instruction mixture, trained flan-jax's way and the
way the Hugging Face docs teach, in one run.

The examples are the first packed batches of flan-jax's training stream over the Flan 2022
collection weights (`benchmarks/pipeline.py`'s mixture: the NIv2 and CoT files of
../shared/data, and the synthetic suite standing in for the collections whose data is not
here), byte vocabulary, truncated to `--lengths`. Every example is seen once by each side:

* flan-jax: the hierarchical pipeline packs them into `--rows` rows per step (its read-ahead
  thread beside the step) and `flan_jax.train.steps.jit_train_step` trains on them (optax
  Adafactor with t5x's settings, z-loss), as `python -m flan_jax.train` does;
* Hugging Face, as `Seq2SeqTrainer` runs it (its inner loop written out, since the Trainer
  needs `accelerate`): the same examples as token ids (unpacked from those batches, so same
  texts and same truncation) in a torch `DataLoader` of `--batch` examples per step with
  `DataCollatorForSeq2Seq` padding to the longest in each batch, shuffled (RandomSampler) or
  with `group_by_length` (transformers' `LengthGroupedSampler`), then
  `T5ForConditionalGeneration` forward, backward, `transformers.optimization.Adafactor` with
  t5x's settings (scale_parameter, no relative step, clip_threshold 1.0, decay -0.8, constant
  learning rate; `benchmarks/train_throughput.py`'s peer), no gradient-norm clipping (t5x has
  none; set `max_grad_norm=0` in Seq2SeqTrainingArguments for the same).

Both sides run the same T5 v1.1 dimensions (gin/models/t5_1_1/<model>.gin), float32, no dropout,
from their own random initialisation. Four runs take turns `--repeats` times so a load change on
a shared machine hits all of them, each from a fresh model and optimizer: flan-jax reading a
fresh stream (the clock starts with its first batch in hand: opening the stream stands for
the tokenization the Hugging Face side is given done), flan-jax's step alone on the same
batches from memory (what the live pipeline costs), and the two Hugging Face ways. Compilation
is timed apart. Prints, per run: wall time for the N examples, non-pad tokens/s, the share of
computed token slots that are padding; the ratio of wall times (flan-jax reading its stream
over the better Hugging Face way); how much of the gain is packing (fewer token slots computed
for the same examples) and how much the step (token slots per second); and `RESULT {json}`.

    python benchmarks/end_to_end.py                                   # tiny, 2048/512 bytes
    python benchmarks/end_to_end.py --model small --examples 32 --batch 4   # 2 rows on 2 devices
"""
import argparse
import json
import math
import os
import pathlib
import resource
import statistics
import sys
import time
import types

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
SIDES = ("flan-jax", "HF longest", "HF group_by_length")
IN_MEMORY = "flan-jax, step alone"  # the same batches from memory: what the live pipeline costs


def parse_flags(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "small", "base"], default="tiny")
    parser.add_argument("--examples", type=int, default=480, help="N: at least this many examples (whole packed batches)")
    parser.add_argument("--lengths", type=int, nargs=2, default=(2048, 512), metavar=("INPUTS", "TARGETS"),
                        help="maximum lengths in bytes (about 4 per SentencePiece token)")
    parser.add_argument("--batch", type=int, default=16, help="Hugging Face: examples per step")
    parser.add_argument("--rows", type=int, default=2, help="flan-jax: packed rows per step (about 7 examples each here)")
    parser.add_argument("--devices", type=int, default=None, help="flan-jax devices (default: all host devices)")
    parser.add_argument("--repeats", type=int, default=2, help="turns of the four runs")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- the examples
def training_stream(flags):
    """flan-jax's packed training stream over the benchmark mixture (a fresh one each call)."""
    import seqio

    from flan_jax.data import pipeline as data_pipeline

    config = data_pipeline.DatasetConfig(
        flags.mixture, {"inputs": flags.lengths[0], "targets": flags.lengths[1]}, batch_size=flags.rows, seed=flags.seed,
    )
    return data_pipeline.train_batches(config, seqio.EncDecFeatureConverter(pack=True), 0, seqio.ShardInfo(0, 1))


def unpack(batch) -> list[tuple[list[int], list[int]]]:
    """The (input ids, target ids) of every example packed into a batch, EOS included."""
    examples = []
    for row in range(batch["encoder_input_tokens"].shape[0]):
        for segment in range(1, int(batch["encoder_segment_ids"][row].max()) + 1):
            inputs = batch["encoder_input_tokens"][row][batch["encoder_segment_ids"][row] == segment]
            targets = batch["decoder_target_tokens"][row][batch["decoder_segment_ids"][row] == segment]
            examples.append((inputs.tolist(), targets.tolist()))
    return examples


def first_batches(flags) -> list[dict]:
    """The stream's first whole batches holding at least `--examples` examples."""
    stream, batches, count = training_stream(flags), [], 0
    while count < flags.examples:
        batches.append(next(stream))
        count += int(batches[-1]["encoder_segment_ids"].max(axis=1).sum())
    stream.close()
    return batches


def non_pad(batch) -> int:
    return int((batch["encoder_input_tokens"] != 0).sum() + (batch["decoder_target_tokens"] != 0).sum())


# --------------------------------------------------------------------------- flan-jax
def our_run(dims: dict, batches: list[dict], flags):
    """({side: run -> seconds}, compile seconds): a fresh state, then the batches through the compiled step."""
    import jax

    from flan_jax.models import model as models_lib
    from flan_jax.models import t5
    from flan_jax.train import optimizers, partitioning, steps

    config = t5.T5Config(**dims, dropout_rate=0.0, dtype="float32")
    vocabulary = types.SimpleNamespace(vocab_size=config.vocab_size, eos_id=1)
    model = models_lib.EncoderDecoderModel(t5.Transformer(config), vocabulary, vocabulary)
    partitioner = partitioning.Partitioner(
        num_partitions=1, devices=jax.devices()[: flags.devices],
        logical_axis_rules=partitioning.standard_logical_axis_rules(),
    )
    schedule = optimizers.constant_schedule(flags.learning_rate)
    optimizer = optimizers.adafactor(schedule)
    shapes = {k: (1, v.shape[1]) for k, v in batches[0].items()}
    layout = steps.state_layout(model, optimizer, partitioner, shapes)
    rng = jax.random.PRNGKey(1)
    start = time.perf_counter()
    step = steps.jit_train_step(model, optimizer, schedule, layout, partitioner).lower(
        layout.abstract_state, partitioner.host_local_to_global(batches[0]), rng
    ).compile()
    compile_s = time.perf_counter() - start
    expected = [non_pad(b) for b in batches]

    def run(live: bool) -> tuple[float, float]:
        """(wall, process CPU) seconds for the batches: read live from a fresh stream (its first
        batch in hand before the clock starts), or from memory (the step alone)."""
        state = steps.init_state(model, optimizer, layout, shapes, jax.random.PRNGKey(0))
        jax.block_until_ready(state)
        stream = training_stream(flags) if live else iter(batches)
        batch, seen = next(stream), []
        start, cpu_start = time.perf_counter(), time.process_time()
        for index in range(len(batches)):
            seen.append(non_pad(batch))
            state, _ = step(state, partitioner.host_local_to_global(batch), rng)
            if index + 1 < len(batches):
                batch = next(stream)
        jax.block_until_ready(state)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if live:
            stream.close()
        if seen != expected:
            raise RuntimeError("the training stream gave other batches than on its first pass: not the same examples")
        return seconds, cpu

    return {SIDES[0]: lambda: run(live=True), IN_MEMORY: lambda: run(live=False)}, compile_s


# --------------------------------------------------------------------------- Hugging Face
def peer_runs(dims: dict, examples: list[tuple[list[int], list[int]]], flags) -> dict:
    """{side: run -> (seconds, process CPU seconds, non-pad tokens, computed slots)} for the two Hugging Face ways."""
    import torch
    import transformers
    from torch.utils.data import DataLoader, RandomSampler
    from transformers.optimization import Adafactor
    from train_throughput import hf_t5_config, peer_device
    from transformers.trainer_pt_utils import LengthGroupedSampler

    # As Trainer: the model and each collated batch on the GPU when there is one (the collator pads on the host).
    device = peer_device(flags.threads)
    hf_config = hf_t5_config(dims)
    # ByT5's tokenizer is seqio's byte vocabulary (pad 0, EOS 1, byte b -> b + 3): the collator
    # pads with it; the ids themselves are flan-jax's, so the texts and truncation are the same.
    tokenizer = transformers.ByT5Tokenizer()
    dataset = [{"input_ids": inputs, "labels": targets} for inputs, targets in examples]

    def loader(grouped: bool, model) -> DataLoader:
        generator = torch.Generator().manual_seed(flags.seed)
        sampler = (
            LengthGroupedSampler(flags.batch, lengths=[len(e["input_ids"]) for e in dataset], generator=generator)
            if grouped else RandomSampler(dataset, generator=generator)
        )
        collator = transformers.DataCollatorForSeq2Seq(tokenizer, model=model, padding="longest")
        return DataLoader(dataset, batch_size=flags.batch, sampler=sampler, collate_fn=collator)

    def fresh():
        torch.manual_seed(flags.seed)
        model = transformers.T5ForConditionalGeneration(hf_config).to(device).train()
        optimizer = Adafactor(model.parameters(), lr=flags.learning_rate, scale_parameter=True, relative_step=False,
                              warmup_init=False)
        return model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)

    def train_step(model, optimizer, scheduler, inputs):  # Trainer.training_step + the loop's optimizer step
        loss = model(**{name: value.to(device) for name, value in inputs.items()}).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        model.zero_grad(set_to_none=True)
        return loss.detach()

    def make_run(grouped: bool):
        def run():
            model, optimizer, scheduler = fresh()
            tokens = slots = 0
            start, cpu_start = time.perf_counter(), time.process_time()
            total = torch.zeros((), device=device)
            for inputs in loader(grouped, model):
                tokens += int(inputs["attention_mask"].sum() + (inputs["labels"] != -100).sum())
                slots += inputs["input_ids"].numel() + inputs["labels"].numel()
                total += train_step(model, optimizer, scheduler, inputs)
            total.item()  # waits for the device
            return time.perf_counter() - start, time.process_time() - cpu_start, tokens, slots

        return run

    # Warm-up: one step on the longest examples (allocator and oneDNN kernels), model discarded.
    model, optimizer, scheduler = fresh()
    longest = sorted(dataset, key=lambda e: -len(e["input_ids"]))[: flags.batch]
    train_step(model, optimizer, scheduler, transformers.DataCollatorForSeq2Seq(tokenizer, model=model)(longest))
    return {SIDES[1]: make_run(False), SIDES[2]: make_run(True)}


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, str(HERE))
    from train_throughput import cpu_devices, t5_dims

    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={cpu_devices()}")
    # torch's OpenMP threads sleep rather than spin while they wait: on a shared, loaded machine
    # spinning threads slowed the peer 2-3x (a tiny train step: 11 s against 4 s at load 18).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Both sides share this process: on a GPU, JAX must not take 75% of its memory up front.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("FLAN_JAX_NIV2_DIR", str(SHARED / "natural-instructions"))
    os.environ.setdefault("FLAN_JAX_COT_DIR", str(SHARED / "flan_v2/flan/v2/cot_data"))
    import jax
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")  # as t5x: the tf.data pipeline stays off the GPU the two sides use

    from pipeline import register_flan_tasks  # benchmarks/pipeline.py: the Flan 2022-weighted mixture

    if flags.devices is None:
        flags.devices = max(d for d in range(1, jax.device_count() + 1) if flags.rows % d == 0)
    flags.mixture = register_flan_tasks()
    start = time.perf_counter()
    batches = first_batches(flags)
    first_pass_s = time.perf_counter() - start
    examples = [example for batch in batches for example in unpack(batch)]
    tokens = sum(non_pad(b) for b in batches)
    our_slots = sum(b["encoder_input_tokens"].size + b["decoder_target_tokens"].size for b in batches)
    dims = t5_dims(flags.model)
    print(
        f"T5 1.1 {flags.model} (emb {dims['emb_dim']}, vocab {dims['vocab_size']}), float32; {len(examples)} examples "
        f"of the Flan 2022-weighted mixture (NIv2 + CoT of ../shared/data + synthetic), byte vocabulary, "
        f"lengths {flags.lengths[0]}/{flags.lengths[1]}, {tokens} non-pad tokens; flan-jax {len(batches)} steps of "
        f"{flags.rows} packed rows on {flags.devices} device(s), HF {math.ceil(len(examples) / flags.batch)} steps of "
        f"{flags.batch} examples ({flags.threads} threads); jax {jax.__version__} on {jax.devices()[0].device_kind}, "
        f"{os.cpu_count()} CPU cores; "
        f"first pass of the stream {first_pass_s:.1f} s",
        flush=True,
    )
    ours, compile_s = our_run(dims, batches, flags)
    print(f"flan-jax step compiled in {compile_s:.1f} s", flush=True)
    runs = {**ours, **peer_runs(dims, examples, flags)}
    times = {side: [] for side in runs}
    # Process CPU time beside wall time: on a shared machine a run's wall time grows with the
    # load of other processes, its CPU time (all threads of this process) much less.
    cpu = {side: [] for side in runs}
    slots = {SIDES[0]: our_slots, IN_MEMORY: our_slots}
    for turn in range(flags.repeats):
        for side, run in runs.items():
            if side in (SIDES[0], IN_MEMORY):
                seconds, cpu_seconds = run()
            else:
                seconds, cpu_seconds, peer_tokens, slots[side] = run()
                if peer_tokens != tokens:
                    raise RuntimeError(f"{side} saw {peer_tokens} non-pad tokens, flan-jax {tokens}: not the same examples")
            times[side].append(seconds)
            cpu[side].append(cpu_seconds)
        print(f"turn {turn + 1}: " + ", ".join(f"{side} {times[side][-1]:.1f} s (CPU {cpu[side][-1]:.1f} s)" for side in runs),
              flush=True)

    median = {side: statistics.median(values) for side, values in times.items()}
    median_cpu = {side: statistics.median(values) for side, values in cpu.items()}
    print(f"{'':22s}{'wall s (median)':>16s}{'spread':>16s}{'CPU s (median)':>15s}{'non-pad tok/s':>15s}{'padding':>9s}"
          f"{'slots/s':>10s}")
    for side in runs:
        print(f"{side:22s}{median[side]:16.1f}{min(times[side]):8.1f}-{max(times[side]):<7.1f}{median_cpu[side]:15.1f}"
              f"{tokens / median[side]:15.0f}{1 - tokens / slots[side]:9.1%}{slots[side] / median[side]:10.0f}")
    best = min(SIDES[1:], key=median.get)
    ratio = median[best] / median[SIDES[0]]
    packing = slots[best] / our_slots  # fewer token slots computed for the same examples
    step = ratio / packing  # token slots per second
    share = math.log(packing) / math.log(ratio) if ratio > 1 and packing > 0 else float("nan")
    print(f"ratio flan-jax / {best} (the better HF way): {ratio:.2f}x by wall time for the same {len(examples)} examples "
          f"(per turn {min(times[best][i] / times[SIDES[0]][i] for i in range(flags.repeats)):.2f}-"
          f"{max(times[best][i] / times[SIDES[0]][i] for i in range(flags.repeats)):.2f}x); compile {compile_s:.1f} s "
          f"not counted; by process CPU time {median_cpu[best] / median_cpu[SIDES[0]]:.2f}x")
    print(f"of which packing {packing:.2f}x ({slots[best]} vs {our_slots} token slots computed) and the step "
          f"{step:.2f}x (token slots per second): packing {share:.0%} of the gain, the step {1 - share:.0%} (log shares)")
    result = {
        "model": flags.model, "examples": len(examples), "lengths": list(flags.lengths), "batch": flags.batch,
        "rows": flags.rows, "devices": flags.devices, "non_pad_tokens": tokens, "compile_s": compile_s,
        "seconds": times, "cpu_seconds": cpu, "cpu_ratio": median_cpu[best] / median_cpu[SIDES[0]], "slots": slots, "padding": {side: 1 - tokens / slots[side] for side in SIDES},
        "better_hf": best, "ratio": ratio, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "packing_factor": packing, "step_factor": step,
    }
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
