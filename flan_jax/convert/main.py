"""`flan-jax convert from-hf | to-hf | from-t5x`: Hugging Face and t5x checkpoints <-> orbax parameter checkpoints.

  flan-jax convert from-hf google/flan-t5-small-dir --output ckpts/flan_t5_small
      writes ckpts/flan_t5_small/params (orbax; use it as INITIAL_CHECKPOINT_PATH) and prints the
      `network.T5Config` gin bindings that match it (`network.DecoderConfig` for Llama / Qwen2).
  flan-jax convert from-t5x gs://t5-data/pretrained_models/t5x/flan_t5_small/checkpoint_1198000 --output ckpts/flan_t5_small
      the same from a t5x checkpoint directory (msgpack `checkpoint` + zarr arrays); the
      optimizer state is left out.
  flan-jax convert to-hf runs/my_run/checkpoints/2000 --output hf_out [--spm spiece.model]
      writes config.json + model.safetensors that `T5ForConditionalGeneration.from_pretrained`
      loads; the network sizes are read from the parameter shapes.
  flan-jax convert to-hf runs/my_run --output hf_out --gin_file=models/decoder/tiny.gin
      the network is the gin file's MODEL (any family; a decoder-only model is written as Llama
      or Qwen2 with its tokenizer files, for `AutoModelForCausalLM.from_pretrained`).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Sequence

import orbax.checkpoint as ocp

from flan_jax import gin_flags
from flan_jax.convert import hf, t5x
from flan_jax.models import decoder, t5
from flan_jax.train import checkpoints


def gin_bindings(config: t5.T5Config | decoder.DecoderConfig) -> str:
    """`network.<Config>.<field> = <value>` lines for a config (paste into a gin file); a nested
    config (DecoderConfig.rope_scaling) is bound by reference, then its own fields."""
    lines, nested = [], []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            nested.append(gin_bindings(value))
            value = f"@network.{type(value).__name__}()"
        else:
            value = repr(value)
        lines.append(f"network.{type(config).__name__}.{field.name} = {value}")
    return "\n".join(lines + nested)


def from_hf_command(model_dir: str, output: str, dtype: str = "float32") -> t5.T5Config | decoder.DecoderConfig:
    """Converts `model_dir` into an orbax checkpoint at `output/params`; returns the config."""
    model, params = hf.from_hf(model_dir, dtype=dtype)
    checkpoints.save_params(os.path.abspath(output), params)
    return model.module.config


def from_t5x_command(directory: str, output: str, *, dtype: str = "float32", relative_attention_max_distance: int = 128,
                     layer_norm_epsilon: float = 1e-6) -> tuple[t5.T5Config, int | None]:
    """Converts the t5x checkpoint `directory` into an orbax checkpoint at `output/params`; returns (config, t5x step)."""
    config, params, step = t5x.from_t5x(
        directory, relative_attention_max_distance=relative_attention_max_distance, layer_norm_epsilon=layer_norm_epsilon, dtype=dtype
    )
    checkpoints.save_params(os.path.abspath(output), params)
    return config, step


def model_from_gin(gin_files: Sequence[str], gin_bindings: Sequence[str] = ()):
    """The MODEL of model gin files (resolved against '.' and the repository's gin/)."""
    gin_flags.parse_gin(gin_files, gin_bindings, [".", str(gin_flags.REPO_GIN_DIR)])
    model = gin_flags.macro("MODEL")
    if model is None:
        raise ValueError(f"--gin_file {list(gin_files)} defines no MODEL: pass a model gin file, e.g. models/decoder/tiny.gin")
    return model.scoped_configurable_fn()


def to_hf_command(checkpoint: str, output: str, *, spm: str | None = None,
                  relative_attention_max_distance: int = 128, layer_norm_epsilon: float = 1e-6,
                  model=None) -> t5.T5Config | decoder.DecoderConfig:
    """Writes the parameters of an orbax checkpoint as a Hugging Face directory; returns the config.

    Without `model` the checkpoint is T5, its sizes read from the parameter shapes.
    """
    params_dir = checkpoints.find_params_directory(os.path.abspath(checkpoint), "the CHECKPOINT argument of to-hf")
    with ocp.StandardCheckpointer() as checkpointer:
        params = checkpointer.restore(params_dir)
    if model is not None:
        hf.to_hf(model, params, output)
        return model.module.config
    config = hf.infer_config(
        params, relative_attention_max_distance=relative_attention_max_distance, layer_norm_epsilon=layer_norm_epsilon
    )
    hf.write_hf(params, config, output, spm)
    return config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flan-jax convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    from_hf = commands.add_parser("from-hf", help="Hugging Face directory -> orbax params checkpoint")
    from_hf.add_argument("model_dir", help="holds config.json, model.safetensors (or shards), maybe spiece.model")
    from_hf.add_argument("--output", required=True, help="checkpoint directory to create (params go to OUTPUT/params)")
    from_hf.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="activation dtype in the printed bindings")
    from_t5x = commands.add_parser("from-t5x", help="t5x checkpoint directory -> orbax params checkpoint")
    from_t5x.add_argument("directory", help="a t5x checkpoint_<step> directory (local or gs://) holding the msgpack 'checkpoint' file")
    from_t5x.add_argument("--output", required=True, help="checkpoint directory to create (params go to OUTPUT/params)")
    from_t5x.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="activation dtype in the printed bindings")
    from_t5x.add_argument("--relative_attention_max_distance", type=int, default=128, help="not recorded in t5x checkpoints")
    from_t5x.add_argument("--layer_norm_epsilon", type=float, default=1e-6, help="not recorded in t5x checkpoints")
    to_hf = commands.add_parser("to-hf", help="orbax params checkpoint -> Hugging Face directory")
    to_hf.add_argument("checkpoint", help="a step directory, a checkpoints directory or a MODEL_DIR")
    to_hf.add_argument("--output", required=True, help="directory for config.json and model.safetensors")
    to_hf.add_argument("--spm", default=None, help="SentencePiece model to copy beside the weights as spiece.model")
    to_hf.add_argument("--relative_attention_max_distance", type=int, default=128)
    to_hf.add_argument("--layer_norm_epsilon", type=float, default=1e-6)
    to_hf.add_argument("--gin_file", action="append", default=[],
                       help="model gin file(s) defining MODEL (required for decoder-only checkpoints)")
    to_hf.add_argument("--gin_bindings", action="append", default=[], help="gin binding (repeatable)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if args.command == "from-hf":
        config = from_hf_command(args.model_dir, args.output, args.dtype)
        print(f"wrote {os.path.join(args.output, checkpoints.PARAMS_ITEM)}; gin bindings for this network:")
        print(gin_bindings(config))
    elif args.command == "from-t5x":
        config, step = from_t5x_command(
            args.directory, args.output, dtype=args.dtype,
            relative_attention_max_distance=args.relative_attention_max_distance, layer_norm_epsilon=args.layer_norm_epsilon,
        )
        print(f"wrote {os.path.join(args.output, checkpoints.PARAMS_ITEM)} (t5x step {step}); gin bindings for this network:")
        print(gin_bindings(config))
    else:
        model = model_from_gin(args.gin_file, args.gin_bindings) if args.gin_file else None
        config = to_hf_command(
            args.checkpoint, args.output, spm=args.spm,
            relative_attention_max_distance=args.relative_attention_max_distance, layer_norm_epsilon=args.layer_norm_epsilon,
            model=model,
        )
        layers = (f"{config.num_encoder_layers}+{config.num_decoder_layers}" if isinstance(config, t5.T5Config)
                  else config.num_layers)
        print(f"wrote {args.output} ({layers} layers, d_model {config.emb_dim})")
    return 0
