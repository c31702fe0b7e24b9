"""Training throughput: our jitted train step vs Hugging Face (PyTorch eager), same setup.

Both sides train the same architecture, T5 v1.1 (`--family t5`, the default: dimensions from
gin/models/t5_1_1/<model>.gin, peer `T5ForConditionalGeneration`) or a Llama / Qwen2 decoder
(`--family decoder`: gin/models/decoder/<model>.gin, or `--model 100m`, a ~100M Llama defined
here; peer `LlamaForCausalLM`, `Qwen2ForCausalLM` for q/k/v biases, with transformers' default
attention), on the same random full-length batches with Adafactor (ours: optax with t5x settings, the exact
`flan_jax.train.steps.jit_train_step` that training runs; peer:
`transformers.optimization.Adafactor` with parameter scaling and a fixed learning rate), no
dropout. `--dtype bfloat16` runs activations in bfloat16 with float32 parameters on both sides
(ours: T5Config.dtype; peer: torch.autocast). float32 matrix products on a GPU use TF32 on
both sides by default (JAX's default precision; torch's "high"), `--matmul_precision highest`
makes both exact float32. On a shared machine the two sides' steps are
timed alternately (one of ours, one of theirs, repeated) and the medians compared, so a load
change hits both. Prints tokens/s (input + target tokens) of each, their ratio, our model
TFLOP/s per device and MFU (the analytic count of `flan_jax.train.utilization.t5_train_flops`
or `decoder_train_flops` over the device's peak in `utilization.ACCELERATORS`, as the trainer logs them; XLA's own cost
analysis is printed beside it, but on a GPU it leaves out the library (cuBLAS) matrix products,
most of the work), and a last `RESULT {json}` line. `--profile DIR` writes a `jax.profiler`
trace of our timed steps there.
`--breakdown` also times each side's forward, forward + backward and optimizer update on their
own, to show where a difference comes from; `--products` times every matrix product of our
compiled step alone (XLA and torch, benchmarks/matmul_rate.py), the floor under our step.

A decoder row holds a prefix-LM example, inputs then targets (input_len + target_len tokens),
with the loss on the targets only (both sides), so a row is as many tokens as a T5 example. MFU
is printed for both sides: analytic model FLOPs (for decoders 6 x matrix parameters per token,
the output projection included, plus 12 x layers x heads x head_dim x length per token for
attention, as PaLM's Appendix B counts them) over step time, against the devices' peak: the
trainer's table on accelerators, on a CPU the best rate of one large XLA matrix product measured
here (`--peak_tflops` overrides either).

Needs jax, flax, optax (and torch + transformers for the peer), not seqio or TensorFlow, so it
also runs on accelerator machines without them (see benchmarks/gpu_suite.py).

    python benchmarks/train_throughput.py --model tiny --batch 32 --input_len 128 --target_len 32
    python benchmarks/train_throughput.py --model small --batch 8 --input_len 256 --target_len 64 --steps 3
    python benchmarks/train_throughput.py --family decoder --model 100m --batch 8 --input_len 192 --target_len 64
"""
import argparse
import ast
import json
import os
import pathlib
import re
import statistics
import sys
import time
import types

REPO = pathlib.Path(__file__).resolve().parent.parent


def cpu_devices() -> int:
    """Host devices when XLA_FLAGS does not say: launch/local_cpu.sh's default (the largest power
    of two up to the core count, at most 8), so the benchmark measures what a user's CPU run gets
    (set XLA_FLAGS or --devices to compare others)."""
    devices = 1
    while devices * 2 <= (os.cpu_count() or 1) and devices < 8:
        devices *= 2
    return devices


def parse_flags(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=["t5", "decoder"], default="t5", help="T5 v1.1 or a Llama / Qwen2 decoder")
    parser.add_argument("--model", default="tiny", help=f"t5: {', '.join(T5_MODELS)}; decoder: {', '.join(DECODER_MODELS)}")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--input_len", type=int, default=128)
    parser.add_argument("--target_len", type=int, default=32)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="activation dtype (params stay float32)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per side (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side (compilation, allocator warm-up)")
    parser.add_argument(
        "--devices", type=int, default=None,
        help="devices for our step; default: all devices (on CPU the host devices of XLA_FLAGS, else as many as "
        "launch/local_cpu.sh makes) or the largest divisor of --batch below that",
    )
    parser.add_argument(
        "--partitioning", choices=["data_parallel", "fsdp"], default="data_parallel",
        help="gin/partitioning/<name>.gin's rules: fsdp also shards parameters and optimizer state over the devices",
    )
    parser.add_argument(
        "--matmul_precision", choices=["default", "highest"], default="default",
        help="float32 matrix products on GPUs: default = TF32 on both sides, highest = full float32 on both",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads for the peer (CPU)")
    parser.add_argument("--side", choices=["both", "ours", "peer"], default="both", help="run one side only (its own process)")
    parser.add_argument(
        "--breakdown", action="store_true",
        help="also time each side's forward, forward + backward and optimizer update on their own",
    )
    parser.add_argument("--profile", default=None, help="write a jax.profiler trace of our timed steps to this directory")
    parser.add_argument(
        "--products", action="store_true",
        help="also time every matrix product of our compiled step alone, in XLA and in torch (matmul_rate.py): "
        "what the step would take if nothing but its products cost time",
    )
    parser.add_argument(
        "--peak_tflops", type=float, default=None,
        help="the device's peak TFLOP/s for MFU (decoder); default: a table for known GPUs, on a CPU the measured rate "
        "of one large XLA matrix product",
    )
    flags = parser.parse_args(argv)
    models = T5_MODELS if flags.family == "t5" else DECODER_MODELS
    if flags.model not in models:
        parser.error(f"--model {flags.model!r} is not a {flags.family} model: choose one of {', '.join(models)}")
    return flags


T5_MODELS = ("tiny", "small", "base", "large")
DECODER_MODELS = ("tiny", "100m", "llama3_2_1b", "qwen2_5_0_5b", "qwen2_5_1_5b")
# A ~100M-parameter Llama (100,092,672 with its tied 32,000-row embedding), sized like the small
# open models (SmolLM-135M, Pythia-160M): 12 layers of 768, 12 query / 4 key-value heads.
DECODER_100M = dict(vocab_size=32000, emb_dim=768, num_heads=12, num_kv_heads=4, num_layers=12, head_dim=64,
                    mlp_dim=2048, rope_theta=10000.0, tie_word_embeddings=True, layer_norm_epsilon=1e-5)


def gin_dims(path: pathlib.Path, configurable: str) -> dict:
    """The literal bindings of `configurable`'s block in a gin file (so the benchmark measures what
    training uses), read without gin: macros such as the dtype are left to the flags, and a
    reference `@network.X()` is read from X's own block."""
    text = path.read_text()
    block = re.search(rf"^{re.escape(configurable)}:\n((?:[ \t]+.*\n?)+)", text, re.M)
    if block is None:
        raise ValueError(f"{path} has no '{configurable}:' block")
    dims = {}
    for line in block.group(1).splitlines():
        name, _, value = line.split("#")[0].partition("=")
        name, value = name.strip(), value.strip()
        if value.startswith("@"):
            dims[name] = gin_dims(path, value[1:].removesuffix("()"))
        elif value and not value.startswith("%"):
            dims[name] = ast.literal_eval(value)
    return dims


def t5_dims(model: str) -> dict:
    """The `network.T5Config` bindings of gin/models/t5_1_1/<model>.gin."""
    return gin_dims(REPO / "gin" / "models" / "t5_1_1" / f"{model}.gin", "network.T5Config")


def decoder_dims(model: str) -> dict:
    """The `network.DecoderConfig` bindings of gin/models/decoder/<model>.gin, or DECODER_100M."""
    if model == "100m":
        return dict(DECODER_100M)
    return gin_dims(REPO / "gin" / "models" / "decoder" / f"{model}.gin", "network.DecoderConfig")


def random_batch(vocab_size: int, batch: int, input_len: int, target_len: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    high = min(vocab_size, 32000)
    inputs = rng.integers(2, high, size=(batch, input_len), dtype=np.int32)
    targets = rng.integers(2, high, size=(batch, target_len), dtype=np.int32)
    decoder_inputs = np.concatenate([np.zeros((batch, 1), np.int32), targets[:, :-1]], axis=1)
    return {
        "encoder_input_tokens": inputs,
        "decoder_input_tokens": decoder_inputs,
        "decoder_target_tokens": targets,
        "decoder_loss_weights": np.ones_like(targets),
    }


def prefix_lm_batch(t5_batch: dict) -> dict:
    """The same examples as decoder-only rows (seqio.PrefixLMFeatureConverter's layout): inputs
    then targets, shifted right by one, the loss on the targets only."""
    import numpy as np

    inputs, targets = t5_batch["encoder_input_tokens"], t5_batch["decoder_target_tokens"]
    rows = np.concatenate([inputs, targets], axis=1)
    weights = np.concatenate([np.zeros_like(inputs), np.ones_like(targets)], axis=1)
    shifted = np.concatenate([np.zeros((rows.shape[0], 1), np.int32), rows[:, :-1]], axis=1)
    return {"decoder_input_tokens": shifted, "decoder_target_tokens": rows, "decoder_loss_weights": weights}


def decoder_config(dims: dict, dtype: str):
    from flan_jax.models import decoder

    rope_scaling = dims.get("rope_scaling")
    return decoder.DecoderConfig(**{**dims, "rope_scaling": rope_scaling and decoder.Llama3RopeScaling(**rope_scaling)},
                                 dropout_rate=0.0, dtype=dtype)


def our_model(dims: dict, flags):
    """EncoderDecoderModel or DecoderOnlyModel, as the gin files build them."""
    from flan_jax.models import model as models_lib

    # The model reads only the vocabularies' size and EOS id; seqio's would import TensorFlow.
    vocabulary = types.SimpleNamespace(vocab_size=dims["vocab_size"], eos_id=1)
    if flags.family == "decoder":
        from flan_jax.models import decoder

        return models_lib.DecoderOnlyModel(decoder.Decoder(decoder_config(dims, flags.dtype)), vocabulary)
    from flan_jax.models import t5

    config = t5.T5Config(**dims, dropout_rate=0.0, dtype=flags.dtype)
    return models_lib.EncoderDecoderModel(t5.Transformer(config=config), vocabulary, vocabulary)


def peak_flops(flags) -> tuple[float | None, str]:
    """(peak FLOP/s of the devices our step runs on, where it comes from) for MFU: the trainer's
    table (`utilization.ACCELERATORS`, dense bfloat16) on accelerators, on a CPU the best rate of
    one large XLA matrix product measured here (the fake host devices share it)."""
    import jax

    from flan_jax.train import utilization

    if flags.peak_tflops:
        return flags.peak_tflops * 1e12, "--peak_tflops"
    kind = jax.devices()[0].device_kind
    row = utilization.accelerator(kind)
    if row:
        return row.peak_flops * flags.devices, f"{flags.devices} x {row.name} dense bfloat16 peak"
    if jax.default_backend() != "cpu":
        return None, f"unknown peak for {kind} (pass --peak_tflops)"
    import jax.numpy as jnp

    # The best of a few runs of one large product (wall time, as the steps' MFU).
    n = 2048
    a = jnp.full((n, n), 0.5, flags.dtype)
    product = jax.jit(lambda a, b: jax.lax.dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=jnp.float32))
    jax.block_until_ready(product(a, a))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        jax.block_until_ready(product(a, a))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best, f"one {n}^3 {flags.dtype} XLA product on this CPU"


def our_step(dims: dict, batch, flags):
    """(run one step and wait, the compiled step, its pieces) for `steps.jit_train_step`."""
    import jax

    from flan_jax.train import optimizers, partitioning, steps

    model = our_model(dims, flags)
    partitioner = partitioning.Partitioner(
        num_partitions=1, devices=jax.devices()[: flags.devices],
        logical_axis_rules=partitioning.standard_logical_axis_rules(fsdp=flags.partitioning == "fsdp"),
    )
    schedule = optimizers.constant_schedule(1e-3)
    optimizer = optimizers.adafactor(schedule)
    shapes = {k: (1, v.shape[1]) for k, v in batch.items()}
    layout = steps.state_layout(model, optimizer, partitioner, shapes)
    state = steps.init_state(model, optimizer, layout, shapes, jax.random.PRNGKey(0))
    step = steps.jit_train_step(model, optimizer, schedule, layout, partitioner)
    device_batch = partitioner.host_local_to_global(batch)
    rng = jax.random.PRNGKey(1)
    start = time.perf_counter()
    # Run the compiled executable itself: calling `step` again would compile a second time.
    compiled = step.lower(state, device_batch, rng).compile()
    print(f"flan-jax step compiled in {time.perf_counter() - start:.1f} s", flush=True)
    holder = [state]

    def run():
        holder[0], metrics = compiled(holder[0], device_batch, rng)
        jax.block_until_ready(metrics)

    parts = our_parts(model, optimizer, state, device_batch) if flags.breakdown else {}
    return run, compiled, parts


def model_flops(dims: dict, flags) -> float:
    """The analytic FLOPs of one step (`utilization.t5_train_flops` / `decoder_train_flops`, as
    the trainer counts them): what MFU divides by."""
    from flan_jax.train import utilization

    if flags.family == "decoder":
        config = decoder_config(dims, flags.dtype)
        return utilization.decoder_train_flops(config, flags.batch, flags.input_len + flags.target_len)
    from flan_jax.models import t5

    config = t5.T5Config(**dims, dtype=flags.dtype)
    return utilization.t5_train_flops(config, flags.batch, flags.input_len, flags.target_len)


def compiled_gflop(compiled, devices: int) -> float:
    """XLA's count of a compiled step's floating point work (an SPMD program's counts one device's share)."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float((cost or {}).get("flops", 0.0)) * devices / 1e9


def print_products(compiled) -> dict:
    """Every matrix product of our compiled step (one device's share), each timed alone in XLA and
    torch: their sum is what the step would take if nothing else cost time."""
    import matmul_rate

    products = matmul_rate.products_in_hlo(compiled.as_text())
    totals = {"ours": 0.0, "torch": 0.0}
    for product, count in sorted(products.items(), key=lambda item: -item[0].flop * item[1]):
        seconds = {"ours": matmul_rate.xla_seconds(product, 3), "torch": matmul_rate.torch_seconds(product, 3)}
        for side in totals:
            totals[side] += count * seconds[side]
        print(f"  {count:3d} x {str(product):62s} XLA {product.flop / seconds['ours'] / 1e9:6.1f}  "
              f"torch {product.flop / seconds['torch'] / 1e9:6.1f} GFLOP/s")
    gflop = sum(product.flop * count for product, count in products.items()) / 1e9
    print(f"matrix products of our step ({sum(products.values())}, {gflop:.1f} GFLOP), each alone: "
          f"XLA {totals['ours'] * 1e3:.1f} ms, torch {totals['torch'] * 1e3:.1f} ms")
    return {side: seconds * 1e3 for side, seconds in totals.items()}


def our_parts(model, optimizer, state, batch) -> dict:
    """The step's pieces jitted on their own: loss, loss + gradients, optimizer update."""
    import jax
    import jax.numpy as jnp
    import optax

    # Copies: the train step donates (deletes) the state it is given.
    state = jax.tree.map(jnp.copy, state)
    forward = jax.jit(lambda params: model.loss_fn(params, batch, None)[0])
    gradients = jax.jit(jax.grad(lambda params: model.loss_fn(params, batch, None)[0]))
    update = jax.jit(
        lambda params, opt_state, grads: optax.apply_updates(params, optimizer.update(grads, opt_state, params)[0]),
    )
    grads = gradients(state.params)
    return {
        "forward": lambda: jax.block_until_ready(forward(state.params)),
        "forward + backward": lambda: jax.block_until_ready(gradients(state.params)),
        "optimizer update": lambda: jax.block_until_ready(update(state.params, state.opt_state, grads)),
    }


def hf_t5_config(dims: dict):
    """transformers' T5Config with the dimensions of gin/models/t5_1_1/<model>.gin (v1.1: gated
    GELU, untied logits), no dropout, seqio's ids (pad 0 = decoder start, EOS 1)."""
    import transformers

    return transformers.T5Config(
        vocab_size=dims["vocab_size"], d_model=dims["emb_dim"], d_kv=dims["head_dim"], d_ff=dims["mlp_dim"],
        num_layers=dims["num_encoder_layers"], num_decoder_layers=dims["num_decoder_layers"],
        num_heads=dims["num_heads"], relative_attention_num_buckets=dims.get("relative_attention_num_buckets", 32),
        relative_attention_max_distance=dims.get("relative_attention_max_distance", 128), dropout_rate=0.0,
        layer_norm_epsilon=dims.get("layer_norm_epsilon", 1e-6), feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )


def peer_model_and_loss(dims: dict, batch, flags, device):
    """(transformers model, its loss closure) for our architecture and batch."""
    import torch
    import transformers

    tensor = lambda key: torch.from_numpy(batch[key]).long().to(device)  # noqa: E731
    if flags.family == "decoder":
        from flan_jax.convert import hf_decoder

        config = dict(hf_decoder.hf_config(decoder_config(dims, flags.dtype)), attention_dropout=0.0)
        del config["architectures"]
        model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**config))
        inputs = tensor("decoder_input_tokens")
        # transformers predicts labels[t + 1] at position t: ours predicts targets[t] there.
        targets = torch.where(tensor("decoder_loss_weights") > 0, tensor("decoder_target_tokens"), -100)
        labels = torch.cat([torch.full_like(targets[:, :1], -100), targets[:, :-1]], dim=1)
        return model, lambda: model(input_ids=inputs, labels=labels).loss
    hf_config = hf_t5_config(dims)
    model = transformers.T5ForConditionalGeneration(hf_config)
    inputs, labels, decoder_inputs = tensor("encoder_input_tokens"), tensor("decoder_target_tokens"), tensor("decoder_input_tokens")
    return model, lambda: model(input_ids=inputs, decoder_input_ids=decoder_inputs, labels=labels).loss


def peer_device(threads: int | None, matmul_precision: str = "default"):
    """The peer's torch device: the GPU when there is one, else the CPU with `threads` intra-op
    threads (None: torch's default). Float32 products as JAX's on that device: its GPU default is
    TF32 ("high" in torch's words), or full float32 on both with "highest"."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and threads is not None:
        torch.set_num_threads(threads)
    torch.set_float32_matmul_precision("high" if matmul_precision == "default" else "highest")
    return device


def peer_step(dims: dict, batch, flags):
    """Run one step of the transformers model (eager PyTorch) and wait."""
    import contextlib

    import torch
    from transformers.optimization import Adafactor

    device = peer_device(flags.threads, flags.matmul_precision)
    torch.manual_seed(0)
    model, loss = peer_model_and_loss(dims, batch, flags, device)
    model = model.to(device).train()
    optimizer = Adafactor(model.parameters(), lr=1e-3, scale_parameter=True, relative_step=False, warmup_init=False)
    autocast = (
        (lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16))
        if flags.dtype == "bfloat16" else contextlib.nullcontext
    )

    def forward():
        with autocast():
            return loss()

    def wait(loss):
        if device.type == "cuda":
            torch.cuda.synchronize()
        else:
            loss.item()

    def run():
        loss = forward()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        wait(loss)

    def forward_backward():
        loss = forward()
        loss.backward()
        wait(loss)
        optimizer.zero_grad(set_to_none=True)

    def update():
        if next(model.parameters()).grad is None:  # gradients to apply, kept between calls
            forward().backward()
        optimizer.step()
        wait(next(model.parameters()).sum())

    parts = {"forward": lambda: wait(forward()), "forward + backward": forward_backward, "optimizer update": update}
    name = f"{type(model).__name__}" + (f", {model.config._attn_implementation} attention" if flags.family == "decoder" else "")
    return run, (device, name), (parts if flags.breakdown else {})


def time_alternately(runs: dict, steps: int, warmup: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(wall, process CPU) seconds of each call, the sides taking turns so that load changes
    reach all of them. CPU time (all threads of this process) moves much less than wall time
    with the load of other processes on a shared machine."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times, cpu = {name: [] for name in runs}, {name: [] for name in runs}
    for _ in range(steps):
        for name, run in runs.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
    return times, cpu


def print_breakdown(ours: dict, peer: dict, flags) -> dict:
    """Median ms of each piece of the step, the sides taking turns; returns {piece: {side: ms}}."""
    table = {}
    for piece in ours or peer:
        runs = {side: pieces[piece] for side, pieces in (("ours", ours), ("peer", peer)) if pieces}
        times, _ = time_alternately(runs, flags.steps, flags.warmup)
        table[piece] = {side: statistics.median(values) * 1e3 for side, values in times.items()}
        cells = "  ".join(f"{side} {ms:8.1f} ms" for side, ms in table[piece].items())
        print(f"  {piece:20s} {cells}")
    return table


def default_devices(batch: int) -> int:
    """All devices (on CPU: as many host devices as XLA_FLAGS makes, like launch/local_cpu.sh),
    or the largest count below that which divides the batch."""
    import jax

    return max(d for d in range(1, jax.device_count() + 1) if batch % d == 0)


def main(argv=None) -> int:
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    # Host devices must be requested before jax starts; on an accelerator machine this flag
    # only affects the (unused) host platform.
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={cpu_devices()}")
    # torch's OpenMP threads sleep rather than spin while they wait: on a shared, loaded machine
    # spinning threads slowed the peer 2-3x (a tiny train step: 11 s against 4 s at load 18).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import jax

    if flags.matmul_precision == "highest":
        jax.config.update("jax_default_matmul_precision", "highest")
    if flags.devices is None:
        flags.devices = default_devices(flags.batch)
    dims = t5_dims(flags.model) if flags.family == "t5" else decoder_dims(flags.model)
    batch = random_batch(dims["vocab_size"], flags.batch, flags.input_len, flags.target_len)
    tokens = batch["encoder_input_tokens"].size + batch["decoder_target_tokens"].size
    if flags.family == "t5":
        described = (f"T5 1.1 {flags.model} (emb {dims['emb_dim']}, {dims['num_encoder_layers']}+{dims['num_decoder_layers']} "
                     f"layers, vocab {dims['vocab_size']})")
    else:
        batch = prefix_lm_batch(batch)
        described = (f"Decoder {flags.model} (emb {dims['emb_dim']}, {dims['num_layers']} layers, {dims['num_heads']}/"
                     f"{dims['num_kv_heads']} heads, vocab {dims['vocab_size']}, rows of inputs + targets)")
    print(
        f"{described}, {flags.dtype}, batch {flags.batch}, lengths {flags.input_len}/{flags.target_len}, "
        f"{flags.steps} timed steps per side, jax {jax.__version__} on {jax.devices()[0].device_kind}, "
        f"{os.cpu_count()} CPU cores",
        flush=True,
    )
    runs, result = {}, {"family": flags.family, "model": flags.model, "dtype": flags.dtype, "batch": flags.batch,
                        "input_len": flags.input_len, "target_len": flags.target_len, "tokens_per_step": tokens}
    if flags.side in ("both", "ours"):
        runs["ours"], compiled, our_pieces = our_step(dims, batch, flags)
        result["gflop_per_step"] = gflop = compiled_gflop(compiled, flags.devices)
    if flags.side in ("both", "peer"):
        runs["peer"], peer_device, peer_pieces = peer_step(dims, batch, flags)
    if flags.profile and "ours" in runs:
        jax.profiler.start_trace(flags.profile)
    times, cpu = time_alternately(runs, flags.steps, flags.warmup)
    if flags.profile and "ours" in runs:
        jax.profiler.stop_trace()
    seconds = {name: statistics.median(values) for name, values in times.items()}
    flop = model_flops(dims, flags)
    peak, peak_source = peak_flops(flags)
    result.update(model_tflop_per_step=flop / 1e12, peak_tflops=peak and peak / 1e12, peak_source=peak_source)
    if "ours" in seconds:
        result.update(ours_tokens_per_s=tokens / seconds["ours"], ours_ms=seconds["ours"] * 1e3, devices=flags.devices,
                      partitioning=flags.partitioning)
        result["model_tflops_per_device"] = flop / 1e12 / seconds["ours"] / flags.devices
        print(
            f"flan-jax  (jax.jit, {flags.devices} {jax.default_backend()} device(s), {flags.partitioning}): "
            f"{result['ours_tokens_per_s']:10.0f} tokens/s  {result['ours_ms']:8.1f} ms/step  "
            f"model {result['model_tflops_per_device']:.3g} TFLOP/s per device  "
            f"(XLA-counted {gflop / seconds['ours'] / 1e3:.3g} TFLOP/s)"
        )
    if "peer" in seconds:
        result.update(peer_tokens_per_s=tokens / seconds["peer"], peer_ms=seconds["peer"] * 1e3)
        peer_device, peer_name = peer_device
        where = f"{flags.threads} threads" if peer_device.type == "cpu" else peer_device.type
        print(f"HF {peer_name} (PyTorch eager, {where}): {result['peer_tokens_per_s']:10.0f} tokens/s  "
              f"{result['peer_ms']:8.1f} ms/step")
    if len(seconds) == 2:
        result["ratio"] = seconds["peer"] / seconds["ours"]
        per_step = [p / o for o, p in zip(times["ours"], times["peer"])]
        result["cpu_ratio"] = statistics.median(cpu["peer"]) / statistics.median(cpu["ours"])
        print(f"ratio flan-jax / HF: {result['ratio']:.2f}x (median steps; per-step pairs {min(per_step):.2f}-{max(per_step):.2f}x); "
              f"by process CPU time per step {result['cpu_ratio']:.2f}x ({statistics.median(cpu['ours']) * 1e3:.0f} vs "
              f"{statistics.median(cpu['peer']) * 1e3:.0f} ms)")
    result["spread_ms"] = {name: [min(values) * 1e3, max(values) * 1e3] for name, values in times.items()}
    for name, step_seconds in seconds.items():  # "mfu" is ours (benchmarks/gpu_suite.py reads it)
        result["mfu" if name == "ours" else f"{name}_mfu"] = mfu = peak and flop / step_seconds / peak
        print(f"MFU {name}: {flop / step_seconds / 1e9:8.1f} GFLOP/s analytic ({flop / 1e9:.1f} GFLOP/step)"
              + (f" = {100 * mfu:.1f}% of {peak / 1e9:.0f} GFLOP/s ({peak_source})" if peak else f"; {peak_source}"))
    if flags.breakdown:
        result["breakdown_ms"] = print_breakdown(
            our_pieces if "ours" in runs else {}, peer_pieces if "peer" in runs else {}, flags
        )
    if flags.products and "ours" in runs:
        result["products_alone_ms"] = print_products(compiled)
        if "peer" in seconds and flags.devices == 1:  # with more, each device's share runs beside the others
            result["ratio_if_only_products"] = seconds["peer"] * 1e3 / result["products_alone_ms"]["ours"]
            print(f"ratio flan-jax / HF if our step took only its products' time: {result['ratio_if_only_products']:.2f}x")
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
