"""Decoding throughput: flan-jax's cached decoder vs Hugging Face `generate` (PyTorch).

Both sides run the SAME random T5 v1.1 network (the Hugging Face weights are converted with
flan_jax.convert.hf), the same batch of inputs, greedy or beam search (`--method beam`: 4
beams), and generate exactly `--new_tokens` tokens (EOS is disabled on our side and held back
with min_new_tokens on theirs, so beams cannot end early and the length penalties of the two
agree on the ranking). Float32 matrix products match: on a GPU both use TF32 by default (JAX's
default precision, torch's "high"), `--matmul_precision highest` makes both exact float32.
Compile time is excluded: each side gets warm-up calls, then the two take turns for
`--repeats` timed calls each (one of ours, one of theirs, ...), so a load change on a shared
machine hits both; the median is reported. Each timed call does the same work on both sides:
from token ids on the device to generated ids on the device, waited for (JAX
`block_until_ready`, torch `cuda.synchronize` where the peer is on a GPU); the copies to the
host for the agreement check happen after timing. PyTorch runs on the GPU when it sees one.
Where seqio (which flan_jax.convert imports) is not installed, e.g. on a GPU box, our side gets
its own random weights: the throughput is the same, only the token agreement is not
reported. The last line is `RESULT {json}`. `--profile N` also traces N more of our calls
(`jax.profiler`) and prints where our decode spends its time: each compiled op's time, summed by
the model code it comes from (layers folded together), and the share of the matrix products.

  python benchmarks/decode_throughput.py --size tiny
  python benchmarks/decode_throughput.py --size small --batch 8 --input_length 64 --new_tokens 32 [--method beam] [--profile 3]
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import statistics
import sys
import tempfile
import types

import jax
import numpy as np
from train_throughput import peer_device, time_alternately  # benchmarks/: torch's device; the sides taking turns

# (d_model, encoder layers, decoder layers, heads, d_kv, d_ff, vocab): gin/models/t5_1_1/{tiny,small}.gin
SIZES = {
    "tiny": (64, 2, 2, 4, 16, 128, 384),
    "small": (512, 8, 8, 6, 64, 1024, 32128),
}


def _hf_model(size: str):
    import torch
    import transformers

    d_model, enc, dec, heads, d_kv, d_ff, vocab = SIZES[size]
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=vocab, d_model=d_model, num_layers=enc, num_decoder_layers=dec, num_heads=heads, d_kv=d_kv,
        d_ff=d_ff, feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.0,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )
    return transformers.T5ForConditionalGeneration(config).eval()


def _our_params(hf_model, size: str):
    """(T5Config, params, same weights?): the Hugging Face weights converted, or our own random
    ones where flan_jax.convert cannot be imported (no seqio)."""
    import flax.linen as nn

    from flan_jax.models import model as model_lib
    from flan_jax.models import t5

    try:
        from flan_jax.convert import hf
    except ImportError as error:  # seqio/TensorFlow missing: same shapes, other weights
        print(f"flan_jax.convert unavailable ({error}); our side uses its own random weights")
        d_model, enc, dec, heads, d_kv, d_ff, vocab = SIZES[size]
        config = t5.T5Config(vocab, d_model, heads, enc, dec, d_kv, d_ff)
        vocabulary = types.SimpleNamespace(vocab_size=vocab, eos_id=1)
        model = model_lib.EncoderDecoderModel(t5.Transformer(config), vocabulary, vocabulary)
        shapes = {"encoder_input_tokens": (1, 8), "decoder_input_tokens": (1, 8)}
        params = jax.jit(lambda rng: nn.meta.unbox(model.get_initial_variables(rng, shapes)["params"]))(jax.random.PRNGKey(0))
        return config, params, False
    with tempfile.TemporaryDirectory() as tmp:
        hf_model.save_pretrained(tmp)
        config = hf.load_config(tmp)
        return config, hf.params_from_hf(hf.read_tensors(tmp), config, scale_decoder_outputs=False), True


def op_times(hlo_text: str, profile_dir: str, calls: int) -> tuple[collections.Counter, float]:
    """({op: seconds per call}, share of the matrix products) from a jax.profiler trace of `calls`
    calls of the compiled program `hlo_text`. Events are XLA:CPU's thunks, named by their HLO
    instruction; an op is the model code the instruction comes from (its op_name), with
    `layers_3` folded into `layers_N`. Products are dots and the YNNPACK fusions built around them
    (named after the op that ends them, e.g. the logits' `log_softmax/reduce_max` in beam search).
    Loops and calls are left out (their bodies' thunks are counted). Times are thunks' wall times,
    so several threads' overlap and a loaded machine inflate them alike; compare shares."""
    origin, is_product = {}, {}
    for line in re.finditer(r'^\s*(?:ROOT )?%([\w.\-]+) = .*?(\w[\w-]*)\(.*?op_name="([^"]+)".*$', hlo_text, re.M):
        name, opcode, op_name = line.groups()
        if opcode in ("while", "conditional", "call"):  # spans enclosing their bodies' thunks
            continue
        origin[name] = re.sub(r"layers_\d+", "layers_N", op_name.split("/", 1)[-1])
        is_product[name] = opcode == "dot" or "__ynn_fusion" in line.group(0)
    (path,) = glob.glob(os.path.join(profile_dir, "**", "*.xplane.pb"), recursive=True)
    times, products = collections.Counter(), 0.0
    for plane in jax.profiler.ProfileData.from_file(path).planes:
        for line in plane.lines:
            for event in line.events:
                if event.name in origin:  # an HLO instruction (not the executor's own spans)
                    seconds = event.duration_ns * 1e-9 / calls
                    times[origin[event.name]] += seconds
                    products += seconds if is_product[event.name] else 0.0
    return times, products / max(sum(times.values()), 1e-12)


def profile_ours(predict, params, batch, calls: int, top: int = 15) -> dict:
    """Prints and returns our decode's time by op (see `op_times`)."""
    hlo = predict.lower(params, batch).compile().as_text()
    with tempfile.TemporaryDirectory() as directory:
        jax.profiler.start_trace(directory)
        for _ in range(calls):
            jax.block_until_ready(predict(params, batch))
        jax.profiler.stop_trace()
        times, product_share = op_times(hlo, directory, calls)
    total = sum(times.values())
    print(f"our decode by op ({calls} traced calls, thunk time {1e3 * total:.0f} ms per call, "
          f"{100 * product_share:.0f}% in matrix products):")
    for op, seconds in times.most_common(top):
        print(f"  {1e3 * seconds:9.1f} ms {100 * seconds / total:5.1f}%  {op}")
    return {"product_share": product_share, "top_ms": {op: 1e3 * s for op, s in times.most_common(top)}}


def run(size: str, batch: int, input_length: int, new_tokens: int, repeats: int, method: str = "greedy",
        num_beams: int = 4, matmul_precision: str = "default", profile_calls: int = 0) -> dict:
    import torch

    from flan_jax.models import model as model_lib
    from flan_jax.models import t5

    device = peer_device(None, matmul_precision)
    if matmul_precision == "highest":
        jax.config.update("jax_default_matmul_precision", "highest")
    hf_model = _hf_model(size)
    config, params, same_weights = _our_params(hf_model, size)
    hf_model = hf_model.to(device)
    params = jax.device_put(params)
    # An EOS id no token can take, so our loop runs the full length like min_new_tokens does.
    no_eos = types.SimpleNamespace(vocab_size=config.vocab_size, eos_id=-1)
    model = model_lib.EncoderDecoderModel(t5.Transformer(config), no_eos, no_eos)

    rng = np.random.RandomState(0)
    inputs = rng.randint(2, config.vocab_size, (batch, input_length)).astype(np.int32)
    ours_batch = jax.device_put(
        {"encoder_input_tokens": inputs, "decoder_input_tokens": np.zeros((batch, new_tokens), np.int32)}
    )
    beams = num_beams if method == "beam" else 1
    predict = jax.jit(lambda params, batch: model.predict_batch(
        params, batch, method="beam_search" if method == "beam" else "greedy", num_beams=num_beams, alpha=0.6))
    outputs = {}

    def ours():
        outputs["ours"] = jax.block_until_ready(predict(params, ours_batch))

    input_ids = torch.tensor(inputs, dtype=torch.long, device=device)
    attention_mask = torch.ones_like(input_ids)

    def theirs():
        with torch.no_grad():
            outputs["theirs"] = hf_model.generate(
                input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                do_sample=False, num_beams=beams, length_penalty=0.6, use_cache=True,
            )
        if device.type == "cuda":
            torch.cuda.synchronize()

    times, cpu = time_alternately({"ours": ours, "theirs": theirs}, repeats, warmup=2)
    generated = batch * new_tokens
    ours_tps = generated / statistics.median(times["ours"])
    theirs_tps = generated / statistics.median(times["theirs"])
    ours_tokens = np.asarray(outputs["ours"])
    theirs_tokens = outputs["theirs"][:, 1:].cpu().numpy()  # drop the decoder start token
    assert ours_tokens.shape == theirs_tokens.shape == (batch, new_tokens), (ours_tokens.shape, theirs_tokens.shape)
    agree = float(np.mean(ours_tokens == theirs_tokens)) if same_weights else None
    per_call = [o / t for o, t in zip(times["theirs"], times["ours"])]
    profile = profile_ours(predict, params, ours_batch, profile_calls) if profile_calls else None
    return {"profile": profile, "ours": ours_tps, "theirs": theirs_tps, "agree": agree, "torch_device": device.type, "method": method,
            "beams": beams, "ours_s": times["ours"], "theirs_s": times["theirs"], "ours_cpu_s": cpu["ours"],
            "theirs_cpu_s": cpu["theirs"], "cpu_ratio": statistics.median(cpu["theirs"]) / statistics.median(cpu["ours"]),
            "ratio_range": [min(per_call), max(per_call)]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--input_length", type=int, default=64)
    parser.add_argument("--new_tokens", type=int, default=32)
    parser.add_argument("--method", choices=["greedy", "beam"], default="greedy")
    parser.add_argument("--num_beams", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also trace N of our calls and print our decode's time by op")
    parser.add_argument("--matmul_precision", choices=["default", "highest"], default="default",
                        help="float32 matrix products on GPUs: default = TF32 on both sides, highest = full float32 on both")
    args = parser.parse_args(argv)
    # torch's OpenMP threads sleep rather than spin while they wait: on a shared, loaded machine
    # spinning threads slowed the peer 2-3x (a tiny train step: 11 s against 4 s at load 18).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    result = run(args.size, args.batch, args.input_length, args.new_tokens, args.repeats, args.method, args.num_beams,
                 args.matmul_precision, args.profile)
    what = "greedy" if args.method == "greedy" else f"beam search ({args.num_beams} beams)"
    print(f"T5 v1.1 {args.size}: batch {args.batch}, {args.input_length} input tokens, {args.new_tokens} new tokens, "
          f"{what}, median of {args.repeats} alternating calls (compile excluded), jax {jax.devices()[0].device_kind} / "
          f"torch {result['torch_device']}, {os.cpu_count()} cores")
    print(f"{'':<28}{'generated tokens/s':>20}")
    print(f"{'flan-jax (jit, KV cache)':<28}{result['ours']:>20.1f}")
    print(f"{'HF generate (use_cache)':<28}{result['theirs']:>20.1f}")
    agree = "n/a (different weights)" if result["agree"] is None else f"{100 * result['agree']:.1f}%"
    low, high = result["ratio_range"]
    print(f"ratio flan-jax / HF: {result['ours'] / result['theirs']:.2f}x (per turn {low:.2f}-{high:.2f}x); "
          f"by process CPU time {result['cpu_ratio']:.2f}x; same tokens: {agree}")
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
