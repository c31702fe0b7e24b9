"""Greedy decoding throughput: flan-jax's cached decoder vs Hugging Face `generate` (PyTorch).

Both sides run the SAME random T5 v1.1 network (the Hugging Face weights are converted with
flan_jax.convert.hf), the same batch of inputs, and generate exactly `--new_tokens` tokens
(EOS is disabled on our side and held back with min_new_tokens on theirs). Compile time is
excluded: each side gets warm-up calls, then `--repeats` timed calls; the median is reported.
PyTorch runs on the GPU when it sees one. Where seqio (which flan_jax.convert imports) is not
installed, e.g. on a GPU box, our side gets its own random weights: the throughput is the
same, only the token agreement is not reported. The last line is `RESULT {json}`.

  python benchmarks/decode_throughput.py --size tiny
  python benchmarks/decode_throughput.py --size small --batch 8 --input_length 64 --new_tokens 32
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import types

import jax
import numpy as np

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


def _time(fn, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


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


def run(size: str, batch: int, input_length: int, new_tokens: int, repeats: int) -> dict[str, float]:
    import torch

    from flan_jax.models import model as model_lib
    from flan_jax.models import t5

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    hf_model = _hf_model(size)
    config, params, same_weights = _our_params(hf_model, size)
    hf_model = hf_model.to(device)
    params = jax.device_put(params)
    # An EOS id no token can take, so our loop runs the full length like min_new_tokens does.
    no_eos = types.SimpleNamespace(vocab_size=config.vocab_size, eos_id=-1)
    model = model_lib.EncoderDecoderModel(t5.Transformer(config), no_eos, no_eos)

    rng = np.random.RandomState(0)
    inputs = rng.randint(2, config.vocab_size, (batch, input_length)).astype(np.int32)
    ours_batch = {"encoder_input_tokens": inputs, "decoder_input_tokens": np.zeros((batch, new_tokens), np.int32)}
    predict = jax.jit(model.predict_batch)
    ours_out = None

    def ours():
        nonlocal ours_out
        ours_out = jax.block_until_ready(predict(params, ours_batch))

    input_ids = torch.tensor(inputs, dtype=torch.long, device=device)
    attention_mask = torch.ones_like(input_ids)
    theirs_out = None

    def theirs():
        nonlocal theirs_out
        with torch.no_grad():
            theirs_out = hf_model.generate(
                input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                do_sample=False, num_beams=1, use_cache=True,
            )
            theirs_out = theirs_out.cpu()

    ours_times = _time(ours, repeats)
    theirs_times = _time(theirs, repeats)
    generated = batch * new_tokens
    ours_tps = generated / statistics.median(ours_times)
    theirs_tps = generated / statistics.median(theirs_times)
    theirs_tokens = theirs_out[:, 1:].numpy()  # drop the decoder start token
    assert ours_out.shape == theirs_tokens.shape == (batch, new_tokens), (ours_out.shape, theirs_tokens.shape)
    agree = float(np.mean(np.asarray(ours_out) == theirs_tokens)) if same_weights else None
    return {"ours": ours_tps, "theirs": theirs_tps, "agree": agree, "torch_device": device.type}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--input_length", type=int, default=64)
    parser.add_argument("--new_tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.size, args.batch, args.input_length, args.new_tokens, args.repeats)
    print(f"T5 v1.1 {args.size}: batch {args.batch}, {args.input_length} input tokens, {args.new_tokens} new tokens, "
          f"greedy, median of {args.repeats} (compile excluded), jax {jax.devices()[0].device_kind} / "
          f"torch {result['torch_device']}, {os.cpu_count()} cores")
    print(f"{'':<28}{'generated tokens/s':>20}")
    print(f"{'flan-jax (jit, KV cache)':<28}{result['ours']:>20.1f}")
    print(f"{'HF generate (use_cache)':<28}{result['theirs']:>20.1f}")
    agree = "n/a (different weights)" if result["agree"] is None else f"{100 * result['agree']:.1f}%"
    print(f"ratio flan-jax / HF: {result['ours'] / result['theirs']:.2f}x; same tokens: {agree}")
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
