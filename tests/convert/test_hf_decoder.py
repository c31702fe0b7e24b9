"""Hugging Face parity for decoder-only models: random small LlamaForCausalLM and
Qwen2ForCausalLM (grouped-query attention, heads * head_dim != hidden_size), scored, decoded and
written back; both config conventions; tokenizers beside the weights; refused options."""
import json
import shutil

import jax
import numpy as np
import pytest
import seqio

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from flan_jax.convert import hf, hf_decoder  # noqa: E402
from flan_jax.data import vocabularies  # noqa: E402
from flan_jax.models import decoder, model  # noqa: E402

BOS, EOS = 1, 2
COMMON = dict(vocab_size=300, num_hidden_layers=2, num_attention_heads=4, bos_token_id=BOS, eos_token_id=EOS,
              pad_token_id=0, attention_dropout=0.0)
FAMILIES = {
    # Llama 3: 2 key/value heads, 4 x 16 != 48, rope base 500 with llama3 scaling, untied.
    "llama": lambda: transformers.LlamaConfig(
        **COMMON, hidden_size=48, intermediate_size=72, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
        rope_theta=500.0, rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
        tie_word_embeddings=False),
    # Qwen2: q/k/v biases, 1 key/value head for 4 query heads, 4 x 12 != 32, tied embeddings.
    "qwen2": lambda: transformers.Qwen2Config(
        **COMMON, hidden_size=32, intermediate_size=56, num_key_value_heads=1, head_dim=12, rms_norm_eps=1e-6,
        rope_theta=10000.0, tie_word_embeddings=True, use_sliding_window=False),
}
CAUSAL_LM = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def checkpoint(request, tmp_path_factory):
    """(family, directory of the saved model, the torch model, our model, our params)."""
    family = request.param
    torch.manual_seed(0)
    reference = getattr(transformers, CAUSAL_LM[family])(FAMILIES[family]()).eval()
    with torch.no_grad():  # HF's init gives near-identity norms and zero biases: perturb everything
        for p in reference.parameters():
            p.add_(0.1 * torch.randn_like(p))
    path = tmp_path_factory.mktemp(family)
    reference.save_pretrained(str(path))
    ours, params = hf.from_hf(str(path))
    return family, path, reference, ours, params


def _sequences() -> np.ndarray:
    """Right-padded rows that start with BOS, of 12, 8 and 5 tokens."""
    rng = np.random.RandomState(0)
    sequences = rng.randint(3, 300, (3, 12)).astype(np.int32)
    sequences[:, 0] = BOS
    sequences[1, 8:] = 0
    sequences[2, 5:] = 0
    return sequences


def _torch_log_likelihoods(reference, sequences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(summed log p(s[t+1] | s[:t+1]) over real tokens, logits) as transformers computes them."""
    inputs = torch.tensor(sequences[:, :-1], dtype=torch.long)
    with torch.no_grad():
        logits = reference(input_ids=inputs, attention_mask=(inputs > 0).long()).logits.double()
    log_probs = torch.log_softmax(logits, -1).numpy()
    targets = sequences[:, 1:]
    token = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    return (token * (targets > 0)).sum(-1), logits.numpy()


def test_score_batch_equals_transformers_log_likelihoods(checkpoint):
    family, _, reference, ours, params = checkpoint
    assert isinstance(ours, model.DecoderOnlyModel) and ours.module.config.qkv_bias == (family == "qwen2")
    sequences = _sequences()
    batch = {"decoder_input_tokens": sequences[:, :-1], "decoder_target_tokens": sequences[:, 1:],
             "decoder_loss_weights": (sequences[:, 1:] > 0).astype(np.float32)}
    expected, _ = _torch_log_likelihoods(reference, sequences)
    scores = np.asarray(jax.jit(ours.score_batch)(params, batch))
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-4)


def test_greedy_predictions_equal_generate(checkpoint):
    """Prompts of 3, 6 and 9 tokens in one batch, each continued to the end of its row (or EOS)."""
    _, _, reference, ours, params = checkpoint
    rng = np.random.RandomState(1)
    length, prompt_lengths = 14, (3, 6, 9)
    tokens = rng.randint(3, 300, (3, length)).astype(np.int32)
    tokens[:, 0] = BOS
    causal_attention = (np.arange(length)[None] < np.array(prompt_lengths)[:, None]).astype(np.int32)
    predictions = np.asarray(jax.jit(ours.predict_batch)(
        params, {"decoder_input_tokens": tokens, "decoder_causal_attention": causal_attention}))
    for row, prompt_length in enumerate(prompt_lengths):
        prompt = torch.tensor(tokens[row:row + 1, :prompt_length], dtype=torch.long)
        generated = reference.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                       max_new_tokens=length - prompt_length + 1, eos_token_id=EOS, pad_token_id=0)
        expected = generated[0, prompt_length:].numpy()
        np.testing.assert_array_equal(predictions[row, :len(expected)], expected, err_msg=f"row {row}")
        assert not predictions[row, len(expected):].any()


def test_to_hf_round_trip_loads_in_transformers(checkpoint, tmp_path):
    family, _, reference, ours, params = checkpoint
    hf.to_hf(ours, params, str(tmp_path))
    written = json.loads((tmp_path / hf.CONFIG_FILE).read_text())
    assert written["model_type"] == family and ("lm_head.weight" in hf.read_tensors(str(tmp_path))) == (family == "llama")
    reloaded = getattr(transformers, CAUSAL_LM[family]).from_pretrained(str(tmp_path)).eval()
    sequences = _sequences()
    _, expected_logits = _torch_log_likelihoods(reference, sequences)
    _, logits = _torch_log_likelihoods(reloaded, sequences)
    np.testing.assert_allclose(logits, expected_logits, atol=1e-5)
    again, params_again = hf.from_hf(str(tmp_path))
    assert again.module.config == ours.module.config
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, params_again)


def test_transformers4_and_5_rope_conventions_read_alike(checkpoint):
    """5.x writes `rope_parameters`; 4.x wrote `rope_theta` beside `rope_scaling` (or null)."""
    _, path, _, ours, _ = checkpoint
    config5 = json.loads((path / hf.CONFIG_FILE).read_text())
    rope = dict(config5.pop("rope_parameters"))
    config4 = dict(config5, rope_theta=rope.pop("rope_theta"))
    config4["rope_scaling"] = rope if rope["rope_type"] != "default" else None
    assert hf_decoder.decoder_config(config4, "config.json") == ours.module.config
    legacy = dict(config4, rope_scaling=config4["rope_scaling"] and {**rope, "type": rope["rope_type"]})
    if legacy["rope_scaling"]:
        del legacy["rope_scaling"]["rope_type"]
    assert hf_decoder.decoder_config(legacy, "config.json") == ours.module.config


def test_weights_only_directory_scores_token_ids(checkpoint):
    _, _, _, ours, _ = checkpoint
    assert isinstance(ours.output_vocabulary, seqio.PassThroughVocabulary)
    assert ours.output_vocabulary.eos_id == EOS and ours.output_vocabulary.vocab_size == 300


def test_tokenizer_beside_the_weights_is_the_vocabulary(checkpoint, make_hf_tokenizer, tmp_path):
    family, path, _, _, _ = checkpoint
    directory = tmp_path / "with_tokenizer"
    shutil.copytree(path, directory)
    make_hf_tokenizer(directory, vocab_size=280)
    ours, params = hf.from_hf(str(directory))
    assert isinstance(ours.output_vocabulary, vocabularies.TokenizerVocabulary)
    assert ours.output_vocabulary.eos_id == 1 and ours.output_vocabulary.vocab_size == 280
    exported = tmp_path / "exported"
    hf.to_hf(ours, params, str(exported))
    assert (exported / "tokenizer.json").exists() and json.loads((exported / hf.CONFIG_FILE).read_text())["eos_token_id"] == 1
    # A tokenizer with more ids than the embedding has rows fails at load time.
    make_hf_tokenizer(directory, vocab_size=320)
    with pytest.raises(ValueError, match="vocabulary has 320 ids but DecoderConfig.vocab_size is 300"):
        hf.from_hf(str(directory))


@pytest.mark.parametrize("change, field", [
    ({"model_type": "mistral"}, "model_type is 'mistral'; flan-jax reads 't5'"),
    ({"use_sliding_window": True}, "use_sliding_window is True"),
    ({"layer_types": ["full_attention", "sliding_attention"]}, "layer_types is"),
    ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0}}, "rope_parameters.rope_type is 'yarn'"),
    ({"rope_parameters": None, "rope_scaling": {"type": "linear", "factor": 2.0}}, "rope_scaling.rope_type is 'linear'"),
    ({"partial_rotary_factor": 0.5}, "partial_rotary_factor is 0.5"),
    ({"hidden_act": "gelu"}, "hidden_act is 'gelu'"),
    ({"num_experts": 8}, "num_experts is 8"),
    ({"attention_bias": True, "model_type": "llama"}, "attention_bias is True"),
])
def test_unsupported_options_name_the_field(change, field, tmp_path):
    config = {"model_type": "qwen2", "vocab_size": 300, "hidden_size": 32, "intermediate_size": 56, "num_hidden_layers": 2,
              "num_attention_heads": 4, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}, **change}
    (tmp_path / hf.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=field):
        hf.from_hf(str(tmp_path))


def test_missing_or_misshapen_tensors_are_named(checkpoint):
    family, path, _, ours, _ = checkpoint
    tensors = hf.read_tensors(str(path))
    name = "model.layers.1.self_attn.k_proj.weight"
    with pytest.raises(ValueError, match=f"tensor '{name}' has shape"):
        hf_decoder.params_from_hf({**tensors, name: tensors[name][:-1]}, ours.module.config)
    del tensors[name]
    with pytest.raises(KeyError, match=name):
        hf_decoder.params_from_hf(tensors, ours.module.config)
    assert isinstance(ours.module, decoder.Decoder)


def test_convert_prints_gin_bindings_that_rebuild_the_config(checkpoint, fresh_gin):
    import gin

    from flan_jax.convert import main as convert_main

    _, _, _, ours, _ = checkpoint
    gin.parse_config(convert_main.gin_bindings(ours.module.config))
    assert gin.get_configurable("network.DecoderConfig")() == ours.module.config


def test_convert_commands_round_trip_with_a_model_gin_file(checkpoint, fresh_gin, tmp_path, capsys):
    """`flan-jax convert from-hf` prints the network's bindings; a model gin file made of them
    is what `convert to-hf --gin_file` writes the checkpoint back with."""
    from flan_jax import cli

    family, path, reference, _, _ = checkpoint
    assert cli.main(["convert", "from-hf", str(path), "--output", str(tmp_path / "ckpt")]) == 0
    bindings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("network.")]
    model_gin = tmp_path / "model.gin"
    model_gin.write_text("\n".join([
        "MODEL = @models.DecoderOnlyModel()",
        "models.DecoderOnlyModel.module = @network.Decoder()",
        "models.DecoderOnlyModel.vocabulary = @vocabularies.byte_vocabulary()",  # 259 ids fit the 300 of the embedding
        "network.Decoder.config = @network.DecoderConfig()",
        *bindings,
    ]) + "\n")
    assert cli.main(["convert", "to-hf", str(tmp_path / "ckpt"), "--output", str(tmp_path / "back"),
                     f"--gin_file={model_gin}"]) == 0
    reloaded = getattr(transformers, CAUSAL_LM[family]).from_pretrained(str(tmp_path / "back")).eval()
    sequences = _sequences()
    np.testing.assert_allclose(_torch_log_likelihoods(reloaded, sequences)[1],
                               _torch_log_likelihoods(reference, sequences)[1], atol=1e-5)
