"""`flan-jax convert from-hf` / `to-hf` through the CLI entry point, round trip via orbax."""
import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from flan_jax import cli  # noqa: E402
from flan_jax.convert import hf  # noqa: E402
from flan_jax.train import checkpoints  # noqa: E402


def test_from_hf_then_to_hf_round_trip(tmp_path, capsys):
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=260, d_model=16, d_kv=4, d_ff=24, num_layers=1, num_decoder_layers=2, num_heads=2,
        relative_attention_num_buckets=8, relative_attention_max_distance=64, feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, dropout_rate=0.0,
    )
    source = transformers.T5ForConditionalGeneration(config).eval()
    source.save_pretrained(str(tmp_path / "hf"))

    assert cli.main(["convert", "from-hf", str(tmp_path / "hf"), "--output", str(tmp_path / "ckpt")]) == 0
    printed = capsys.readouterr().out
    assert "network.T5Config.num_decoder_layers = 2" in printed
    assert "network.T5Config.relative_attention_max_distance = 64" in printed

    # The trainer's INITIAL_CHECKPOINT_PATH reader restores it onto the model's own shapes.
    model, params = hf.from_hf(str(tmp_path / "hf"))
    abstract = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    restored = checkpoints.restore_params(str(tmp_path / "ckpt"), abstract)
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored, params)

    assert cli.main([
        "convert", "to-hf", str(tmp_path / "ckpt"), "--output", str(tmp_path / "back"),
        "--relative_attention_max_distance", "64",
    ]) == 0
    reloaded = transformers.T5ForConditionalGeneration.from_pretrained(str(tmp_path / "back")).eval()
    ids = torch.tensor([[5, 6, 7, 1]])
    with torch.no_grad():
        expected = source(input_ids=ids, decoder_input_ids=ids).logits
        got = reloaded(input_ids=ids, decoder_input_ids=ids).logits
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)
    assert reloaded.config.relative_attention_max_distance == 64


def test_to_hf_names_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cli.main(["convert", "to-hf", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out")])


def test_from_hf_converts_weights_without_a_tokenizer(tmp_path, capsys):
    """config.json + safetensors only, vocab_size under the byte vocabulary's 259: the weights convert;
    only text in or out needs spiece.model, and says so."""
    torch.manual_seed(0)
    config = transformers.T5Config(vocab_size=100, d_model=16, d_kv=4, d_ff=24, num_layers=1, num_decoder_layers=1,
                                   num_heads=2, feed_forward_proj="gated-gelu", dropout_rate=0.0)
    transformers.T5ForConditionalGeneration(config).save_pretrained(str(tmp_path / "hf"))
    assert not (tmp_path / "hf" / hf.SPM_FILE).exists()

    assert cli.main(["convert", "from-hf", str(tmp_path / "hf"), "--output", str(tmp_path / "ckpt")]) == 0
    assert "network.T5Config.vocab_size = 100" in capsys.readouterr().out
    assert (tmp_path / "ckpt" / checkpoints.PARAMS_ITEM).is_dir()
    model, _ = hf.from_hf(str(tmp_path / "hf"))
    with pytest.raises(FileNotFoundError, match="copy the checkpoint's spiece.model into"):
        model.output_vocabulary.decode([5, 6])
