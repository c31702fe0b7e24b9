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
