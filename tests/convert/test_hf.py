"""Hugging Face parity: a random T5ForConditionalGeneration scored in PyTorch and in flan-jax."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from flan_jax.convert import hf  # noqa: E402
from flan_jax.models import layer_stacking, t5  # noqa: E402

HF_CONFIG = dict(
    vocab_size=300, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=3, num_heads=4,
    relative_attention_num_buckets=8, relative_attention_max_distance=20, feed_forward_proj="gated-gelu",
    dropout_rate=0.0, decoder_start_token_id=0,
)


def _random_hf_model(tie_word_embeddings: bool, seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.T5Config(**HF_CONFIG, tie_word_embeddings=tie_word_embeddings)
    model = transformers.T5ForConditionalGeneration(config).eval()
    with torch.no_grad():  # HF's init gives tiny layer-norm spreads; perturb every tensor so parity means something
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def _padded_batch():
    rng = np.random.RandomState(0)
    enc = rng.randint(3, 259, (3, 11)).astype(np.int32)
    enc[1, 6:] = 0
    enc[2, 9:] = 0
    targets = rng.randint(3, 259, (3, 7)).astype(np.int32)
    targets[0, 4:] = 0
    targets[2, 6:] = 0
    targets[:, -1][targets[:, -1] > 0] = 1  # an EOS where the row is full
    dec_in = np.concatenate([np.zeros((3, 1), np.int32), targets[:, :-1]], axis=1)
    return {
        "encoder_input_tokens": enc, "decoder_input_tokens": dec_in, "decoder_target_tokens": targets,
        "decoder_loss_weights": (targets > 0).astype(np.float32),
    }


def _torch_scores(model, batch) -> np.ndarray:
    enc = torch.tensor(batch["encoder_input_tokens"], dtype=torch.long)
    dec_in = torch.tensor(batch["decoder_input_tokens"], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=enc, attention_mask=(enc > 0).long(), decoder_input_ids=dec_in).logits
    log_probs = torch.log_softmax(logits.double(), -1).numpy()
    targets = batch["decoder_target_tokens"]
    token = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    return (token * batch["decoder_loss_weights"]).sum(-1), logits.numpy()


@pytest.fixture(scope="module")
def untied_dir(tmp_path_factory):
    model = _random_hf_model(tie_word_embeddings=False)
    path = tmp_path_factory.mktemp("hf_untied")
    model.save_pretrained(str(path))
    return path, model


def test_score_batch_matches_torch_on_padded_batch(untied_dir):
    path, hf_model = untied_dir
    model, params = hf.from_hf(str(path))
    batch = _padded_batch()
    expected, _ = _torch_scores(hf_model, batch)
    ours = np.asarray(jax.jit(model.score_batch)(params, batch))
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-5)
    assert model.module.config.num_decoder_layers == 3 and model.module.config.num_encoder_layers == 2


def test_published_flan_t5_convention_separate_lm_head(untied_dir, tmp_path):
    """FLAN-T5 files: `tie_word_embeddings: false` and an lm_head distinct from `shared`."""
    path, hf_model = untied_dir
    tensors = hf.read_tensors(str(path))
    rng = np.random.RandomState(1)
    tensors["lm_head.weight"] = rng.normal(size=tensors["shared.weight"].shape).astype(np.float32)
    from safetensors.numpy import save_file

    save_file(tensors, str(tmp_path / hf.WEIGHTS_FILE), metadata={"format": "pt"})
    config = json.loads((path / hf.CONFIG_FILE).read_text())
    config.pop("scale_decoder_outputs", None)
    config["tie_word_embeddings"] = False
    (tmp_path / hf.CONFIG_FILE).write_text(json.dumps(config))
    reference = transformers.T5ForConditionalGeneration.from_pretrained(str(tmp_path)).eval()
    assert np.allclose(reference.lm_head.weight.detach().numpy(), tensors["lm_head.weight"])
    model, params = hf.from_hf(str(tmp_path))
    batch = _padded_batch()
    expected, _ = _torch_scores(reference, batch)
    np.testing.assert_allclose(np.asarray(model.score_batch(params, batch)), expected, atol=1e-4, rtol=1e-5)


def test_tied_scaled_transformers5_config(tmp_path):
    """transformers 5's tied T5 (scale_decoder_outputs true, no lm_head tensor) is read as HF runs it."""
    hf_model = _random_hf_model(tie_word_embeddings=True, seed=2)
    hf_model.save_pretrained(str(tmp_path))
    written = json.loads((tmp_path / hf.CONFIG_FILE).read_text())
    assert hf.scales_decoder_outputs(written)
    model, params = hf.from_hf(str(tmp_path))
    batch = _padded_batch()
    expected, _ = _torch_scores(hf_model, batch)
    np.testing.assert_allclose(np.asarray(model.score_batch(params, batch)), expected, atol=1e-4, rtol=1e-5)


def test_to_hf_round_trip(untied_dir, tmp_path):
    path, hf_model = untied_dir
    model, params = hf.from_hf(str(path))
    hf.to_hf(model, params, str(tmp_path))
    reloaded = transformers.T5ForConditionalGeneration.from_pretrained(str(tmp_path)).eval()
    batch = _padded_batch()
    _, expected_logits = _torch_scores(hf_model, batch)
    _, logits = _torch_scores(reloaded, batch)
    np.testing.assert_allclose(logits, expected_logits, atol=1e-5)
    # And back: the same parameters.
    _, params_again = hf.from_hf(str(tmp_path))
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, params_again)


def test_scanned_layers_keep_torch_parity_and_export_unrolled(untied_dir, tmp_path):
    """With scan_layers the stacked parameters score as PyTorch does and export to the same files."""
    path, hf_model = untied_dir
    model, params = hf.from_hf(str(path), scan_layers=True)
    assert model.module.config.scan_layers and layer_stacking.is_scanned(params)
    assert params["decoder"]["layers"]["mlp"]["wo"]["kernel"].shape[0] == 3
    batch = _padded_batch()
    expected, _ = _torch_scores(hf_model, batch)
    np.testing.assert_allclose(np.asarray(jax.jit(model.score_batch)(params, batch)), expected, atol=1e-4, rtol=1e-5)
    hf.to_hf(model, params, str(tmp_path))
    assert hf.infer_config(params, relative_attention_max_distance=20) == hf.load_config(str(path))
    exported = hf.read_tensors(str(tmp_path))
    for name, tensor in hf.read_tensors(str(path)).items():
        np.testing.assert_array_equal(exported[name], tensor)


def test_bfloat16_activations_track_float32(untied_dir):
    path, _ = untied_dir
    model32, params = hf.from_hf(str(path))
    model16, _ = hf.from_hf(str(path), dtype="bfloat16")
    batch = _padded_batch()
    s32 = np.asarray(model32.score_batch(params, batch))
    s16 = np.asarray(model16.score_batch(params, batch))
    assert model16.module.config.dtype == "bfloat16"
    np.testing.assert_allclose(s16, s32, rtol=0.05)


def test_clear_errors(tmp_path, untied_dir):
    with pytest.raises(FileNotFoundError, match="config.json"):
        hf.load_config(str(tmp_path))
    (tmp_path / hf.CONFIG_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        hf.load_config(str(tmp_path))
    (tmp_path / hf.CONFIG_FILE).write_text(json.dumps({"feed_forward_proj": "gated-gelu", "d_model": 8}))
    with pytest.raises(KeyError, match="num_layers"):
        hf.load_config(str(tmp_path))
    (tmp_path / hf.CONFIG_FILE).write_text(json.dumps({"feed_forward_proj": "relu"}))
    with pytest.raises(ValueError, match="gated-gelu"):
        hf.load_config(str(tmp_path))
    path, _ = untied_dir
    tensors = hf.read_tensors(str(path))
    del tensors["decoder.block.2.layer.1.EncDecAttention.k.weight"]
    with pytest.raises(KeyError, match="decoder.block.2.layer.1.EncDecAttention.k.weight"):
        hf.params_from_hf(tensors, hf.load_config(str(path)), scale_decoder_outputs=False)
    small = t5.T5Config(vocab_size=100, emb_dim=8, num_heads=1, num_encoder_layers=1, num_decoder_layers=1, head_dim=8, mlp_dim=8)
    weights_only = hf.vocabulary_for(str(tmp_path), small.vocab_size)
    assert weights_only.vocab_size == 100
    with pytest.raises(FileNotFoundError, match="no spiece.model .* copy the checkpoint's spiece.model into"):
        weights_only.encode("text")


def test_sharded_and_bfloat16_files(untied_dir, tmp_path):
    """An index with two shards, one stored as bfloat16, reads back (bf16 through ml_dtypes)."""
    import ml_dtypes
    from safetensors.numpy import save_file

    path, _ = untied_dir
    tensors = hf.read_tensors(str(path))
    names = sorted(tensors)
    first, second = names[: len(names) // 2], names[len(names) // 2:]
    save_file({n: tensors[n] for n in first}, str(tmp_path / "a.safetensors"))
    # numpy's safetensors writer rejects bfloat16, so write the second shard's layout by hand.
    header, blobs, offset = {}, [], 0
    for n in second:
        data = tensors[n].astype(ml_dtypes.bfloat16).tobytes()
        header[n] = {"dtype": "BF16", "shape": list(tensors[n].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    (tmp_path / "b.safetensors").write_bytes(len(encoded).to_bytes(8, "little") + encoded + b"".join(blobs))
    weight_map = {**{n: "a.safetensors" for n in first}, **{n: "b.safetensors" for n in second}}
    (tmp_path / hf.WEIGHTS_INDEX_FILE).write_text(json.dumps({"weight_map": weight_map}))
    read = hf.read_tensors(str(tmp_path))
    assert sorted(read) == names
    for n in second:
        assert read[n].dtype == ml_dtypes.bfloat16
        np.testing.assert_allclose(np.asarray(read[n], np.float32), tensors[n], rtol=1e-2, atol=1e-2)
    assert jnp.asarray(read[first[0]]).dtype == jnp.float32
