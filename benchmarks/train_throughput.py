"""Training throughput: our jitted train step vs Hugging Face T5 (PyTorch eager), same setup.

Both sides train the same T5 v1.1 architecture (dimensions from gin/models/t5_1_1/<model>.gin)
on the same random full-length batches with Adafactor (ours: optax with t5x settings; peer:
`transformers.optimization.Adafactor` with parameter scaling and a fixed learning rate), no
dropout, float32. Prints tokens/s (input + target tokens) of each, their ratio, and our
achieved GFLOP/s (XLA's cost analysis of the compiled step).

    python benchmarks/train_throughput.py --model tiny --batch 32 --input_len 128 --target_len 32
    python benchmarks/train_throughput.py --model small --batch 8 --input_len 256 --target_len 64
"""
import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def parse_flags(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "small", "base"], default="tiny")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--input_len", type=int, default=128)
    parser.add_argument("--target_len", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation, allocator warm-up)")
    parser.add_argument(
        "--devices", type=int, default=None,
        help="host CPU devices for our step (data parallel); default: the largest divisor of --batch "
        "up to 2 x cores (XLA CPU runs one device per thread, so one device leaves cores idle)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads for the peer")
    parser.add_argument("--no_peer", action="store_true", help="skip the PyTorch peer")
    return parser.parse_args(argv)


def t5_config(model: str):
    """Our T5Config from the model gin file (so the benchmark measures what training uses)."""
    import gin

    from flan_jax import gin_configurables

    gin.clear_config()
    gin.add_config_file_search_path(str(REPO / "gin"))
    gin.parse_config_file(str(REPO / "gin" / "models" / "t5_1_1" / f"{model}.gin"), skip_unknown=True)
    return gin_configurables.T5Config(dropout_rate=0.0, dtype="float32")


def random_batch(config, batch: int, input_len: int, target_len: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    high = min(config.vocab_size, 32000)
    inputs = rng.integers(2, high, size=(batch, input_len), dtype=np.int32)
    targets = rng.integers(2, high, size=(batch, target_len), dtype=np.int32)
    decoder_inputs = np.concatenate([np.zeros((batch, 1), np.int32), targets[:, :-1]], axis=1)
    return {
        "encoder_input_tokens": inputs,
        "decoder_input_tokens": decoder_inputs,
        "decoder_target_tokens": targets,
        "decoder_loss_weights": np.ones_like(targets),
    }


def ours(config, batch, flags):
    """(tokens/s, GFLOP/s, seconds per step) of `trainer.jit_train_step`."""
    import jax

    from flan_jax.data import vocabularies
    from flan_jax.models import model as models_lib
    from flan_jax.models import t5
    from flan_jax.train import optimizers, partitioning, trainer

    vocabulary = vocabularies.byte_vocabulary()
    model = models_lib.EncoderDecoderModel(t5.Transformer(config=config), vocabulary, vocabulary)
    partitioner = partitioning.Partitioner(num_partitions=1, devices=jax.devices()[: flags.devices])
    schedule = optimizers.constant_schedule(1e-3)
    optimizer = optimizers.adafactor(schedule)
    shapes = {k: (1, v.shape[1]) for k, v in batch.items()}
    layout = trainer.state_layout(model, optimizer, partitioner, shapes)
    state = trainer.init_state(model, optimizer, layout, shapes, jax.random.PRNGKey(0))
    step = trainer.jit_train_step(model, optimizer, schedule, layout, partitioner)
    device_batch = partitioner.host_local_to_global(batch)
    rng = jax.random.PRNGKey(1)
    cost = step.lower(state, device_batch, rng).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    # The cost analysis of an SPMD program counts one device's share.
    flops = float((cost or {}).get("flops", 0.0)) * flags.devices
    for _ in range(flags.warmup):
        state, metrics = step(state, device_batch, rng)
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(flags.steps):
        state, metrics = step(state, device_batch, rng)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / flags.steps
    tokens = batch["encoder_input_tokens"].size + batch["decoder_target_tokens"].size
    return tokens / seconds, flops / seconds / 1e9, seconds


def peer(config, batch, flags):
    """(tokens/s, seconds per step) of transformers' T5ForConditionalGeneration, eager PyTorch."""
    import torch
    import transformers
    from transformers.optimization import Adafactor

    torch.set_num_threads(flags.threads)
    torch.manual_seed(0)
    hf_config = transformers.T5Config(
        vocab_size=config.vocab_size, d_model=config.emb_dim, d_kv=config.head_dim, d_ff=config.mlp_dim,
        num_layers=config.num_encoder_layers, num_decoder_layers=config.num_decoder_layers,
        num_heads=config.num_heads, relative_attention_num_buckets=config.relative_attention_num_buckets,
        relative_attention_max_distance=config.relative_attention_max_distance, dropout_rate=0.0,
        layer_norm_epsilon=config.layer_norm_epsilon, feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0,
    )
    model = transformers.T5ForConditionalGeneration(hf_config).train()
    optimizer = Adafactor(model.parameters(), lr=1e-3, scale_parameter=True, relative_step=False, warmup_init=False)
    inputs = torch.from_numpy(batch["encoder_input_tokens"]).long()
    labels = torch.from_numpy(batch["decoder_target_tokens"]).long()
    decoder_inputs = torch.from_numpy(batch["decoder_input_tokens"]).long()

    def one_step():
        loss = model(input_ids=inputs, decoder_input_ids=decoder_inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(flags.warmup):
        one_step()
    start = time.perf_counter()
    for _ in range(flags.steps):
        one_step()
    seconds = (time.perf_counter() - start) / flags.steps
    tokens = inputs.numel() + labels.numel()
    return tokens / seconds, seconds


def main(argv=None) -> int:
    flags = parse_flags(sys.argv[1:] if argv is None else argv)
    if flags.devices is None:
        flags.devices = max(d for d in range(1, 2 * (os.cpu_count() or 1) + 1) if flags.batch % d == 0)
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={flags.devices}"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    config = t5_config(flags.model)
    batch = random_batch(config, flags.batch, flags.input_len, flags.target_len)
    setup = (
        f"T5 1.1 {flags.model} (emb {config.emb_dim}, {config.num_encoder_layers}+{config.num_decoder_layers} layers, "
        f"vocab {config.vocab_size}), batch {flags.batch}, lengths {flags.input_len}/{flags.target_len}, "
        f"{flags.steps} timed steps, {os.cpu_count()} CPU cores"
    )
    print(setup)
    our_tps, gflops, our_s = ours(config, batch, flags)
    print(f"flan-jax  (jax.jit, {flags.devices} device(s)): {our_tps:10.0f} tokens/s  {our_s * 1e3:8.1f} ms/step  {gflops:7.1f} GFLOP/s")
    if not flags.no_peer:
        peer_tps, peer_s = peer(config, batch, flags)
        print(f"HF T5 (PyTorch eager, {flags.threads} threads): {peer_tps:10.0f} tokens/s  {peer_s * 1e3:8.1f} ms/step")
        print(f"ratio flan-jax / HF: {our_tps / peer_tps:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
