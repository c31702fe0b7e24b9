"""Hugging Face checkpoints <-> flan-jax parameters, without PyTorch: T5 v1.1 / FLAN-T5 here,
Llama and Qwen2 through `hf_decoder` (`from_hf` and `to_hf` pick the family).

Reads `config.json` and `model.safetensors` (or the shards listed in
`model.safetensors.index.json`) with the safetensors numpy API; writes the same two files so
`transformers.T5ForConditionalGeneration.from_pretrained` loads them.

Two config conventions exist for the output projection:
- published FLAN-T5 / T5 v1.1 files: `tie_word_embeddings: false` and a separate `lm_head.weight`;
- transformers >= 5 always writes `tie_word_embeddings: true` and says with
  `scale_decoder_outputs` whether the decoder output is multiplied by d_model**-0.5 before the
  projection (original T5's tied embedding), storing `lm_head.weight` only when it differs from
  `shared.weight`.
Both map onto our untied `logits_dense`: the projection is `lm_head.weight` if present, else
`shared.weight`, with the d_model**-0.5 factor folded into it when the config scales. Exports are
always written untied and unscaled (`tie_word_embeddings: false`), which both conventions read.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
from typing import Any, Mapping

import ml_dtypes
import numpy as np
from safetensors.numpy import load_file, save_file

from flan_jax.convert import hf_decoder
from flan_jax.data import vocabularies
from flan_jax.models import decoder, layer_stacking, t5
from flan_jax.models import model as model_lib

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
SPM_FILE = "spiece.model"

_ATTENTION = {"q": "query", "k": "key", "v": "value"}


# --- Config.
def _read_json(path: str) -> dict:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist: a Hugging Face checkpoint directory holds {CONFIG_FILE}")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e


def _config_value(config: Mapping[str, Any], key: str, path: str, default: Any = None) -> Any:
    if key in config and config[key] is not None:
        return config[key]
    if default is None:
        raise KeyError(f"{path} lacks the key {key!r}, which a T5 config needs")
    return default


def load_config(model_dir: str, dtype: str = "float32") -> t5.T5Config:
    """Our T5Config from a Hugging Face `config.json` (T5 v1.1 / FLAN-T5, gated-GELU only)."""
    path = os.path.join(model_dir, CONFIG_FILE)
    config = _read_json(path)
    return _t5_config(config, path, dtype)


def _t5_config(config: Mapping[str, Any], path: str, dtype: str) -> t5.T5Config:
    projection = config.get("feed_forward_proj", "relu")
    if projection not in ("gated-gelu", "gated-gelu_new"):
        raise ValueError(
            f"{path}: feed_forward_proj is {projection!r}; flan-jax implements T5 v1.1 / FLAN-T5 "
            "(feed_forward_proj 'gated-gelu'), not the original T5's ReLU feed-forward"
        )
    num_layers = _config_value(config, "num_layers", path)
    return t5.T5Config(
        vocab_size=_config_value(config, "vocab_size", path),
        emb_dim=_config_value(config, "d_model", path),
        num_heads=_config_value(config, "num_heads", path),
        num_encoder_layers=num_layers,
        num_decoder_layers=_config_value(config, "num_decoder_layers", path, num_layers),
        head_dim=_config_value(config, "d_kv", path),
        mlp_dim=_config_value(config, "d_ff", path),
        dropout_rate=float(config.get("dropout_rate", 0.0) or 0.0),
        dtype=dtype,
        relative_attention_num_buckets=_config_value(config, "relative_attention_num_buckets", path, 32),
        relative_attention_max_distance=_config_value(config, "relative_attention_max_distance", path, 128),
        layer_norm_epsilon=float(_config_value(config, "layer_norm_epsilon", path, 1e-6)),
    )


def scales_decoder_outputs(config: Mapping[str, Any]) -> bool:
    """Whether logits are computed from d_model**-0.5 * decoder output (transformers' rule)."""
    if "scale_decoder_outputs" in config:
        return bool(config["scale_decoder_outputs"])
    return config.get("tie_word_embeddings", True) is not False


# --- Tensors.
_SAFETENSORS_DTYPES = {"BF16": ml_dtypes.bfloat16, "F16": np.float16, "F32": np.float32, "F64": np.float64}


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    """All tensors of one file; bfloat16 (which numpy lacks) is read through ml_dtypes."""
    try:
        return load_file(path)
    except Exception:  # numpy cannot hold bfloat16: read the raw layout below
        pass
    with open(path, "rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {info['dtype']}, expected a float type")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], _SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


def read_tensors(model_dir: str) -> dict[str, np.ndarray]:
    """Every tensor of `model.safetensors` or of the shards its index lists."""
    single = os.path.join(model_dir, WEIGHTS_FILE)
    index = os.path.join(model_dir, WEIGHTS_INDEX_FILE)
    if os.path.exists(single):
        return _read_safetensors(single)
    if os.path.exists(index):
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise KeyError(f"{index} lacks a 'weight_map' object")
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            tensors.update(_read_safetensors(os.path.join(model_dir, shard)))
        return tensors
    raise FileNotFoundError(
        f"{model_dir} holds neither {WEIGHTS_FILE} nor {WEIGHTS_INDEX_FILE} (PyTorch .bin checkpoints are not read: "
        "re-save with save_pretrained(safe_serialization=True))"
    )


def _hf_layer_names(stack: str, layer: int) -> dict[str, str]:
    """Our sub-module name -> HF prefix, for one block."""
    prefix = f"{stack}.block.{layer}.layer"
    if stack == "encoder":
        return {
            "attention": f"{prefix}.0.SelfAttention", "pre_attention_layer_norm": f"{prefix}.0.layer_norm",
            "mlp": f"{prefix}.1.DenseReluDense", "pre_mlp_layer_norm": f"{prefix}.1.layer_norm",
        }
    return {
        "self_attention": f"{prefix}.0.SelfAttention", "pre_self_attention_layer_norm": f"{prefix}.0.layer_norm",
        "encoder_decoder_attention": f"{prefix}.1.EncDecAttention", "pre_cross_attention_layer_norm": f"{prefix}.1.layer_norm",
        "mlp": f"{prefix}.2.DenseReluDense", "pre_mlp_layer_norm": f"{prefix}.2.layer_norm",
    }


def params_from_hf(tensors: Mapping[str, np.ndarray], config: t5.T5Config, *, scale_decoder_outputs: bool,
                   source: str = "checkpoint") -> dict:
    """Our float32 parameter tree from HF tensor names (see the module docstring for lm_head)."""

    def get(name: str) -> np.ndarray:
        if name not in tensors:
            raise KeyError(f"{source} lacks the tensor {name!r} (a T5ForConditionalGeneration weight)")
        return np.asarray(tensors[name], np.float32)

    heads, head_dim, emb = config.num_heads, config.head_dim, config.emb_dim

    def attention(prefix: str) -> dict:
        out = {ours: {"kernel": get(f"{prefix}.{hf}.weight").T.reshape(emb, heads, head_dim)} for hf, ours in _ATTENTION.items()}
        out["out"] = {"kernel": get(f"{prefix}.o.weight").T.reshape(heads, head_dim, emb)}
        return out

    def mlp(prefix: str) -> dict:
        return {name: {"kernel": get(f"{prefix}.{name}.weight").T} for name in ("wi_0", "wi_1", "wo")}

    def stack(name: str, num_layers: int) -> dict:
        tree = {"relpos_bias": {"rel_embedding": get(f"{name}.block.0.layer.0.SelfAttention.relative_attention_bias.weight").T}}
        for i in range(num_layers):
            layer = {}
            for ours, hf in _hf_layer_names(name, i).items():
                if ours.endswith("attention"):
                    layer[ours] = attention(hf)
                elif ours == "mlp":
                    layer[ours] = mlp(hf)
                else:
                    layer[ours] = {"scale": get(f"{hf}.weight")}
            tree[f"layers_{i}"] = layer
        tree[f"{name}_norm"] = {"scale": get(f"{name}.final_layer_norm.weight")}
        return tree

    lm_head = get("lm_head.weight") if "lm_head.weight" in tensors else get("shared.weight")
    if scale_decoder_outputs:
        lm_head = lm_head * np.float32(emb**-0.5)
    decoder = stack("decoder", config.num_decoder_layers)
    decoder["logits_dense"] = {"kernel": lm_head.T.copy()}
    return {
        "token_embedder": {"embedding": get("shared.weight")},
        "encoder": stack("encoder", config.num_encoder_layers),
        "decoder": decoder,
    }


def params_to_hf(params: Mapping[str, Any], config: t5.T5Config) -> dict[str, np.ndarray]:
    """HF tensor names -> float32 arrays (untied: `lm_head.weight` is always written); scanned
    layer stacks are unrolled first."""
    params = layer_stacking.to_layout(params, scanned=False)
    emb = config.emb_dim
    tensors: dict[str, np.ndarray] = {}
    array = lambda x: np.ascontiguousarray(np.asarray(x, np.float32))  # noqa: E731

    for name, num_layers in (("encoder", config.num_encoder_layers), ("decoder", config.num_decoder_layers)):
        tree = params[name]
        tensors[f"{name}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = array(tree["relpos_bias"]["rel_embedding"]).T
        for i in range(num_layers):
            layer = tree[f"layers_{i}"]
            for ours, hf in _hf_layer_names(name, i).items():
                if ours.endswith("attention"):
                    for hf_name, our_name in _ATTENTION.items():
                        tensors[f"{hf}.{hf_name}.weight"] = array(layer[ours][our_name]["kernel"]).reshape(emb, -1).T
                    tensors[f"{hf}.o.weight"] = array(layer[ours]["out"]["kernel"]).reshape(-1, emb).T
                elif ours == "mlp":
                    for w in ("wi_0", "wi_1", "wo"):
                        tensors[f"{hf}.{w}.weight"] = array(layer[ours][w]["kernel"]).T
                else:
                    tensors[f"{hf}.weight"] = array(layer[ours]["scale"])
        tensors[f"{name}.final_layer_norm.weight"] = array(tree[f"{name}_norm"]["scale"])
    tensors["shared.weight"] = array(params["token_embedder"]["embedding"])
    tensors["lm_head.weight"] = array(params["decoder"]["logits_dense"]["kernel"]).T
    return {k: np.ascontiguousarray(v) for k, v in tensors.items()}


def hf_config(config: t5.T5Config) -> dict:
    """A transformers `config.json` for our config (untied, unscaled: T5 v1.1)."""
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "vocab_size": config.vocab_size,
        "d_model": config.emb_dim,
        "d_kv": config.head_dim,
        "d_ff": config.mlp_dim,
        "num_layers": config.num_encoder_layers,
        "num_decoder_layers": config.num_decoder_layers,
        "num_heads": config.num_heads,
        "relative_attention_num_buckets": config.relative_attention_num_buckets,
        "relative_attention_max_distance": config.relative_attention_max_distance,
        "dropout_rate": config.dropout_rate,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "feed_forward_proj": "gated-gelu",
        "is_encoder_decoder": True,
        "tie_word_embeddings": False,
        "scale_decoder_outputs": False,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
        "use_cache": True,
    }


# --- Whole checkpoints.
class MissingVocabulary:
    """Stands in for the tokenizer a weights-only checkpoint came without: the weights convert and
    load; encoding or decoding text raises a FileNotFoundError that says which file to add."""

    sentencepiece_model_file = None  # not a remote SentencePiece file (models check that)

    def __init__(self, vocab_size: int, error: str):
        self.vocab_size = vocab_size
        self._error = error

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy, pickle and friends: no such attribute
            raise AttributeError(name)
        raise FileNotFoundError(self._error)


def vocabulary_for(model_dir: str, vocab_size: int):
    """The SentencePiece vocabulary beside the checkpoint, else the byte vocabulary if it fits, else
    a `MissingVocabulary` (text in or out needs `spiece.model`; the weights do not)."""
    spm = os.path.join(model_dir, SPM_FILE)
    if os.path.exists(spm):
        return vocabularies.sentencepiece_vocabulary(spm)
    byte_vocabulary = vocabularies.byte_vocabulary()
    if vocab_size >= byte_vocabulary.vocab_size:
        return byte_vocabulary
    return MissingVocabulary(vocab_size, (
        f"{model_dir} has no {SPM_FILE} and its vocab_size {vocab_size} is smaller than the byte vocabulary's "
        f"{byte_vocabulary.vocab_size} ids, so text cannot be encoded or decoded: copy the checkpoint's {SPM_FILE} "
        f"into {model_dir}"))


def from_hf(model_dir: str, dtype: str = "float32", scan_layers: bool = False) -> tuple[model_lib.EncoderDecoderModel | model_lib.DecoderOnlyModel, dict]:
    """(model, float32 params) from a Hugging Face T5 v1.1 / FLAN-T5, Llama or Qwen2 directory.

    The family is config.json's `model_type`: 't5' (or absent, as in old T5 files) gives an
    EncoderDecoderModel, 'llama' and 'qwen2' a DecoderOnlyModel (see `hf_decoder`).

    Args:
      model_dir: holds config.json, model.safetensors (or an index and shards), maybe spiece.model
        (T5) or tokenizer.json (Llama / Qwen2).
      dtype: activation dtype of the returned model ("float32" or "bfloat16").
      scan_layers: a T5 comes back as a scanned network (`T5Config.scan_layers`) with stacked parameters.
    Returns:
      the model and its plain parameter tree. T5's vocabulary is spiece.model, else bytes, else
      weights only (text in or out raises, naming spiece.model); a decoder-only model's is the
      tokenizer files beside the weights, else token ids as they are.
    """
    config_path = os.path.join(model_dir, CONFIG_FILE)
    raw_config = _read_json(config_path)
    model_type = raw_config.get("model_type", "t5")
    if model_type in hf_decoder.MODEL_TYPES:
        return _decoder_from_hf(model_dir, raw_config, config_path, dtype)
    if model_type != "t5":
        raise ValueError(
            f"{config_path}: model_type is {model_type!r}; flan-jax reads 't5' (T5 v1.1 / FLAN-T5) and the "
            f"decoder-only {sorted(hf_decoder.MODEL_TYPES)}"
        )
    config = dataclasses.replace(_t5_config(raw_config, config_path, dtype), scan_layers=scan_layers)
    params = params_from_hf(
        read_tensors(model_dir), config, scale_decoder_outputs=scales_decoder_outputs(raw_config), source=model_dir
    )
    params = layer_stacking.to_layout(params, scanned=scan_layers)
    vocabulary = vocabulary_for(model_dir, config.vocab_size)
    model = model_lib.EncoderDecoderModel(t5.Transformer(config), vocabulary, vocabulary)
    return model, params


def write_hf(params: Mapping[str, Any], config: t5.T5Config, out_dir: str, spm_path: str | None = None) -> None:
    """Writes config.json and model.safetensors (float32, untied), plus spiece.model if given."""
    os.makedirs(out_dir, exist_ok=True)
    save_file(params_to_hf(params, config), os.path.join(out_dir, WEIGHTS_FILE), metadata={"format": "pt"})
    with open(os.path.join(out_dir, CONFIG_FILE), "w") as f:
        json.dump(hf_config(config), f, indent=2)
    if spm_path is not None:
        with open(spm_path, "rb") as src, open(os.path.join(out_dir, SPM_FILE), "wb") as dst:
            dst.write(src.read())


def to_hf(model: model_lib.EncoderDecoderModel | model_lib.DecoderOnlyModel, params: Mapping[str, Any], out_dir: str) -> None:
    """Writes config.json and model.safetensors that transformers loads (float32).

    T5 is written untied, and a SentencePiece vocabulary's model file is copied as spiece.model
    when it is a local file; a decoder-only model's tokenizer files are copied beside it.
    """
    if isinstance(model, model_lib.DecoderOnlyModel):
        _decoder_to_hf(model, params, out_dir)
        return
    spm_path = getattr(model.output_vocabulary, "sentencepiece_model_file", None)
    if not (isinstance(spm_path, str) and os.path.exists(spm_path)):
        spm_path = None
    write_hf(params, model.module.config, out_dir, spm_path)


def infer_config(params: Mapping[str, Any], *, relative_attention_max_distance: int = 128,
                 layer_norm_epsilon: float = 1e-6, dtype: str = "float32") -> t5.T5Config:
    """The T5Config a parameter tree was built with, read from its shapes.

    The bucket reach and the norm epsilon leave no trace in the shapes, so they are arguments
    (T5 v1.1 / FLAN-T5 use 128 and 1e-6). Scanned stacks are read in their unrolled layout, and
    the config says `scan_layers=False`.
    """
    params = layer_stacking.to_layout(params, scanned=False)
    vocab_size, emb_dim = np.shape(params["token_embedder"]["embedding"])
    _, num_heads, head_dim = np.shape(params["encoder"]["layers_0"]["attention"]["query"]["kernel"])
    mlp_dim = np.shape(params["encoder"]["layers_0"]["mlp"]["wi_0"]["kernel"])[1]
    count = lambda tree: sum(1 for name in tree if name.startswith("layers_"))  # noqa: E731
    return t5.T5Config(
        vocab_size=int(vocab_size), emb_dim=int(emb_dim), num_heads=int(num_heads),
        num_encoder_layers=count(params["encoder"]), num_decoder_layers=count(params["decoder"]),
        head_dim=int(head_dim), mlp_dim=int(mlp_dim), dtype=dtype,
        relative_attention_num_buckets=int(np.shape(params["encoder"]["relpos_bias"]["rel_embedding"])[1]),
        relative_attention_max_distance=relative_attention_max_distance, layer_norm_epsilon=layer_norm_epsilon,
    )


# --- Decoder-only checkpoints (Llama, Qwen2): the mapping is in `hf_decoder`.
def decoder_vocabulary(model_dir: str, raw_config: Mapping[str, Any]):
    """The tokenizer.json beside the weights, else token ids as they are (enough for scoring)."""
    if os.path.exists(os.path.join(model_dir, vocabularies.TOKENIZER_FILE)):
        return vocabularies.hf_tokenizer_vocabulary(model_dir)
    import seqio

    eos = raw_config.get("eos_token_id")
    eos = eos[0] if isinstance(eos, list) and eos else eos
    return seqio.PassThroughVocabulary(size=int(raw_config["vocab_size"]), eos_id=eos)


def _decoder_from_hf(model_dir: str, raw_config: Mapping[str, Any], config_path: str,
                     dtype: str) -> tuple[model_lib.DecoderOnlyModel, dict]:
    config = hf_decoder.decoder_config(raw_config, config_path, dtype)
    params = hf_decoder.params_from_hf(read_tensors(model_dir), config, source=model_dir)
    model = model_lib.DecoderOnlyModel(decoder.Decoder(config), decoder_vocabulary(model_dir, raw_config))
    return model, params


def _bos_id(vocabulary) -> int | None:
    try:
        return vocabulary.bos_id
    except NotImplementedError:  # seqio's base Vocabulary (e.g. PassThroughVocabulary) has none
        return None


def _decoder_to_hf(model: model_lib.DecoderOnlyModel, params: Mapping[str, Any], out_dir: str) -> None:
    config = model.module.config
    vocabulary = model.output_vocabulary
    os.makedirs(out_dir, exist_ok=True)
    save_file(hf_decoder.params_to_hf(params, config), os.path.join(out_dir, WEIGHTS_FILE), metadata={"format": "pt"})
    with open(os.path.join(out_dir, CONFIG_FILE), "w") as f:
        json.dump(hf_decoder.hf_config(config, bos_token_id=_bos_id(vocabulary), eos_token_id=vocabulary.eos_id), f, indent=2)
    if isinstance(vocabulary, vocabularies.TokenizerVocabulary):
        source_dir = os.path.dirname(vocabulary.tokenizer_file)
        for name in (vocabularies.TOKENIZER_FILE, *vocabularies.TOKENIZER_CONFIG_FILES):
            if os.path.exists(os.path.join(source_dir, name)):
                shutil.copyfile(os.path.join(source_dir, name), os.path.join(out_dir, name))
