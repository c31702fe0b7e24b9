"""Hugging Face Llama / Qwen2 configs and tensors <-> flan-jax `DecoderConfig` and parameters.

Pure mappings (no file access; `flan_jax.convert.hf` reads and writes the files). Both config
conventions are read:
- transformers 4.x: `rope_theta` beside a `rope_scaling` dict (or null), whose type is named by
  `rope_type` (or the older `type`);
- transformers 5.x: one `rope_parameters` dict holding `rope_theta`, `rope_type` and the
  scaling factors.
Exports use the 4.x convention, which 5.x also reads. Options flan-jax does not compute
(sliding-window attention, biases beyond Qwen2's q/k/v, rope types other than default and
llama3, partial rotary, mixture of experts) are refused, naming the field.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from flan_jax.models import decoder

MODEL_TYPES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}


def _get(config: Mapping[str, Any], key: str, path: str, default: Any = None) -> Any:
    if config.get(key) is not None:
        return config[key]
    if default is None:
        raise KeyError(f"{path} lacks the key {key!r}, which a {config.get('model_type')} config needs")
    return default


def _refuse(path: str, field: str, value: Any, supported: str) -> None:
    raise ValueError(f"{path}: {field} is {value!r}; flan-jax supports {supported}")


def _rope(config: Mapping[str, Any], path: str) -> tuple[float, Optional[decoder.Llama3RopeScaling]]:
    """(rope_theta, scaling) from either convention."""
    parameters = config.get("rope_parameters")
    field = "rope_parameters"
    if parameters is None:
        parameters, field = config.get("rope_scaling") or {}, "rope_scaling"
    if not isinstance(parameters, Mapping):
        _refuse(path, field, parameters, "one dict of rope parameters (not one per layer type)")
    theta = parameters.get("rope_theta", config.get("rope_theta", 10000.0))
    partial = parameters.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0))
    if partial not in (None, 1, 1.0):
        _refuse(path, "partial_rotary_factor", partial, "rotary embeddings over the whole head (1.0)")
    rope_type = parameters.get("rope_type", parameters.get("type", "default"))
    if rope_type == "default":
        return float(theta), None
    if rope_type != "llama3":
        _refuse(path, f"{field}.rope_type", rope_type, "'default' and 'llama3'")
    original = parameters.get("original_max_position_embeddings", config.get("max_position_embeddings"))
    try:
        scaling = decoder.Llama3RopeScaling(
            factor=float(parameters["factor"]), low_freq_factor=float(parameters["low_freq_factor"]),
            high_freq_factor=float(parameters["high_freq_factor"]), original_max_position_embeddings=int(original),
        )
    except (KeyError, TypeError) as e:
        raise KeyError(f"{path}: {field} of rope_type 'llama3' lacks {e}") from e
    return float(theta), scaling


def _check_supported(config: Mapping[str, Any], path: str) -> None:
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        _refuse(path, "model_type", model_type, f"{sorted(MODEL_TYPES)} decoder-only models (and 't5')")
    if config.get("hidden_act", "silu") != "silu":
        _refuse(path, "hidden_act", config["hidden_act"], "'silu' (SwiGLU feed-forward)")
    for key in ("num_experts", "num_local_experts", "n_routed_experts"):
        if config.get(key):
            _refuse(path, key, config[key], "dense feed-forward layers, not mixtures of experts")
    if model_type == "llama":
        for key, supported in (("attention_bias", "no attention biases (Qwen2's q/k/v biases: model_type 'qwen2')"),
                               ("mlp_bias", "no feed-forward biases")):
            if config.get(key):
                _refuse(path, key, config[key], supported)
    if config.get("use_sliding_window"):
        _refuse(path, "use_sliding_window", True, "full attention in every layer (use_sliding_window: false)")
    layer_types = config.get("layer_types") or []
    if any(kind != "full_attention" for kind in layer_types):
        _refuse(path, "layer_types", sorted(set(layer_types)), "'full_attention' layers only")


def decoder_config(config: Mapping[str, Any], path: str, dtype: str = "float32") -> decoder.DecoderConfig:
    """Our DecoderConfig from a Hugging Face `llama` / `qwen2` config.json (already parsed)."""
    _check_supported(config, path)
    num_heads = _get(config, "num_attention_heads", path)
    emb_dim = _get(config, "hidden_size", path)
    theta, scaling = _rope(config, path)
    return decoder.DecoderConfig(
        vocab_size=_get(config, "vocab_size", path),
        emb_dim=emb_dim,
        num_heads=num_heads,
        num_kv_heads=_get(config, "num_key_value_heads", path, num_heads),
        num_layers=_get(config, "num_hidden_layers", path),
        head_dim=_get(config, "head_dim", path, emb_dim // num_heads),
        mlp_dim=_get(config, "intermediate_size", path),
        rope_theta=theta,
        rope_scaling=scaling,
        qkv_bias=config["model_type"] == "qwen2",
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        layer_norm_epsilon=float(_get(config, "rms_norm_eps", path, 1e-6)),
        dtype=dtype,
    )


def model_type(config: decoder.DecoderConfig) -> str:
    """The Hugging Face family that computes this config: Qwen2 is Llama with q/k/v biases."""
    return "qwen2" if config.qkv_bias else "llama"


def hf_config(config: decoder.DecoderConfig, *, bos_token_id: Optional[int] = None,
              eos_token_id: Optional[int] = None) -> dict:
    """A transformers config.json for our config (transformers 4.x's rope keys, which 5.x reads)."""
    family = model_type(config)
    scaling = None
    if config.rope_scaling is not None:
        scaling = {"rope_type": "llama3", "factor": config.rope_scaling.factor,
                   "low_freq_factor": config.rope_scaling.low_freq_factor,
                   "high_freq_factor": config.rope_scaling.high_freq_factor,
                   "original_max_position_embeddings": config.rope_scaling.original_max_position_embeddings}
    out = {
        "architectures": [MODEL_TYPES[family]],
        "model_type": family,
        "vocab_size": config.vocab_size,
        "hidden_size": config.emb_dim,
        "intermediate_size": config.mlp_dim,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "head_dim": config.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": config.layer_norm_epsilon,
        "rope_theta": config.rope_theta,
        "rope_scaling": scaling,
        "tie_word_embeddings": config.tie_word_embeddings,
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
        "torch_dtype": "float32",
        "use_cache": True,
    }
    if family == "llama":
        out.update(attention_bias=False, mlp_bias=False)
    else:
        out.update(use_sliding_window=False)
    return out


# --- Tensors. Hugging Face Linear weights are [out, in]; our kernels are [in, ...out].
_PROJECTIONS = {"query": "q_proj", "key": "k_proj", "value": "v_proj"}
_MLP = {"wi_0": "gate_proj", "wi_1": "up_proj", "wo": "down_proj"}
_NORMS = {"pre_attention_layer_norm": "input_layernorm", "pre_mlp_layer_norm": "post_attention_layernorm"}


def params_from_hf(tensors: Mapping[str, np.ndarray], config: decoder.DecoderConfig, source: str = "checkpoint") -> dict:
    """Our float32 parameter tree from `LlamaForCausalLM` / `Qwen2ForCausalLM` tensor names."""

    def get(name: str, *shape: int) -> np.ndarray:
        if name not in tensors:
            raise KeyError(f"{source} lacks the tensor {name!r} (a {MODEL_TYPES[model_type(config)]} weight)")
        if tuple(np.shape(tensors[name])) != shape:
            raise ValueError(f"{source}: tensor {name!r} has shape {tuple(np.shape(tensors[name]))} but its config.json "
                             f"implies {shape}")
        return np.asarray(tensors[name], np.float32)

    emb, head_dim, mlp = config.emb_dim, config.head_dim, config.mlp_dim
    heads = {"query": config.num_heads, "key": config.num_kv_heads, "value": config.num_kv_heads}
    params: dict[str, Any] = {"token_embedder": {"embedding": get("model.embed_tokens.weight", config.vocab_size, emb)}}
    for i in range(config.num_layers):
        prefix = f"model.layers.{i}"
        attention = {}
        for ours, hf in _PROJECTIONS.items():
            width = heads[ours] * head_dim
            attention[ours] = {"kernel": get(f"{prefix}.self_attn.{hf}.weight", width, emb).T.reshape(emb, -1, head_dim)}
            if config.qkv_bias:
                attention[ours]["bias"] = get(f"{prefix}.self_attn.{hf}.bias", width).reshape(-1, head_dim)
        attention["out"] = {"kernel": get(f"{prefix}.self_attn.o_proj.weight", emb, config.num_heads * head_dim)
                            .T.reshape(-1, head_dim, emb)}
        shapes = {"wi_0": (mlp, emb), "wi_1": (mlp, emb), "wo": (emb, mlp)}
        layer = {"attention": attention,
                 "mlp": {ours: {"kernel": get(f"{prefix}.mlp.{hf}.weight", *shapes[ours]).T} for ours, hf in _MLP.items()}}
        layer.update({ours: {"scale": get(f"{prefix}.{hf}.weight", emb)} for ours, hf in _NORMS.items()})
        params[f"layers_{i}"] = layer
    params["decoder_norm"] = {"scale": get("model.norm.weight", emb)}
    if not config.tie_word_embeddings:
        params["logits_dense"] = {"kernel": get("lm_head.weight", config.vocab_size, emb).T}
    return _contiguous(params)


def params_to_hf(params: Mapping[str, Any], config: decoder.DecoderConfig) -> dict[str, np.ndarray]:
    """Hugging Face tensor names -> float32 arrays (no lm_head when the embeddings are tied)."""
    array = lambda x: np.asarray(x, np.float32)  # noqa: E731
    emb = config.emb_dim
    tensors = {"model.embed_tokens.weight": array(params["token_embedder"]["embedding"])}
    for i in range(config.num_layers):
        prefix, layer = f"model.layers.{i}", params[f"layers_{i}"]
        for ours, hf in _PROJECTIONS.items():
            tensors[f"{prefix}.self_attn.{hf}.weight"] = array(layer["attention"][ours]["kernel"]).reshape(emb, -1).T
            if config.qkv_bias:
                tensors[f"{prefix}.self_attn.{hf}.bias"] = array(layer["attention"][ours]["bias"]).reshape(-1)
        tensors[f"{prefix}.self_attn.o_proj.weight"] = array(layer["attention"]["out"]["kernel"]).reshape(-1, emb).T
        for ours, hf in _MLP.items():
            tensors[f"{prefix}.mlp.{hf}.weight"] = array(layer["mlp"][ours]["kernel"]).T
        for ours, hf in _NORMS.items():
            tensors[f"{prefix}.{hf}.weight"] = array(layer[ours]["scale"])
    tensors["model.norm.weight"] = array(params["decoder_norm"]["scale"])
    if not config.tie_word_embeddings:
        tensors["lm_head.weight"] = array(params["logits_dense"]["kernel"]).T
    return _contiguous(tensors)


def _contiguous(tree):
    if isinstance(tree, Mapping):
        return {k: _contiguous(v) for k, v in tree.items()}
    return np.ascontiguousarray(tree)
