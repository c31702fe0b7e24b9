"""`flan-jax convert from-t5x`: a checkpoint written in t5x's layout becomes our parameters."""
import os

import jax
import flax.linen as nn
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import tensorstore as ts
from flax import serialization, traverse_util

from flan_jax import cli
from flan_jax.convert import t5x
from flan_jax.models import t5
from flan_jax.train import checkpoints

CONFIG = t5.T5Config(vocab_size=64, emb_dim=16, num_heads=2, num_encoder_layers=2, num_decoder_layers=1, head_dim=4,
                     mlp_dim=24, relative_attention_num_buckets=8)
INLINE = "encoder/encoder_norm/scale"  # t5x keeps unpartitioned leaves inside the msgpack
BFLOAT16 = "decoder/logits_dense/kernel"  # and may save arrays in bfloat16


@pytest.fixture(scope="module")
def params():
    """Our tiny T5's parameters with distinct random values everywhere (norm scales included)."""
    ids = jnp.ones((1, 1), jnp.int32)
    shapes = jax.eval_shape(lambda: t5.Transformer(CONFIG).init(jax.random.PRNGKey(0), ids, ids, ids))["params"]
    rng = np.random.default_rng(0)
    flat = {name: rng.normal(size=x.shape).astype(np.float32) for name, x in traverse_util.flatten_dict(nn.meta.unbox(shapes), sep="/").items()}
    flat[BFLOAT16] = flat[BFLOAT16].astype(ml_dtypes.bfloat16).astype(np.float32)  # exactly representable
    return traverse_util.unflatten_dict(flat, sep="/")


def _as_t5x_stores(name, value):
    """t5x's DenseGeneral keeps a kernel as (prod(input axes), prod(feature axes)) and reshapes it
    row-major to (input axes..., feature axes...) when applied: the inverse is a plain reshape."""
    if name.endswith("attention/out/kernel"):
        return value.reshape(-1, value.shape[-1])  # (heads, kv, embed) -> (heads * kv, embed)
    if name.endswith(("query/kernel", "key/kernel", "value/kernel")):
        return value.reshape(value.shape[0], -1)  # (embed, heads, kv) -> (embed, heads * kv)
    return value


def write_t5x_checkpoint(directory, params, step=1000):
    """What t5x's Checkpointer.save leaves: zarr arrays named target.<path> and the msgpack `checkpoint`."""
    os.makedirs(directory)
    flat = traverse_util.flatten_dict(params, sep="/")
    assert sum(value.ndim == 3 for value in flat.values()) == 4 * 4  # 2 + 1 self-attentions and 1 cross: 4 kernels each
    target = {}
    for name, value in flat.items():
        stored = _as_t5x_stores(name, value)
        if name == INLINE:
            target[name] = stored
            continue
        dtype = "bfloat16" if name == BFLOAT16 else "float32"
        relative = f"target/{name}".replace("/", ".")
        metadata = {"compressor": {"id": "gzip"}, "shape": list(stored.shape), "chunks": [max(1, stored.shape[0] // 2), *stored.shape[1:]]}
        store = ts.open({"driver": "zarr", "dtype": dtype, "kvstore": {"driver": "file", "path": os.path.join(directory, relative)},
                         "metadata": metadata}, create=True).result()
        store.write(stored.astype(ml_dtypes.bfloat16) if dtype == "bfloat16" else stored).result()
        # The msgpack keeps the spec with the path relative to the checkpoint directory.
        target[name] = {"driver": "zarr", "dtype": dtype, "kvstore": {"driver": "file", "path": relative}, "metadata": metadata}
    param_states = {"encoder": {"encoder_norm": {"scale": {"v": np.zeros(16, np.float32), "v_row": None, "v_col": None}}}}
    contents = {"version": 3, "optimizer": {
        "target": traverse_util.unflatten_dict(target, sep="/"),
        "state": {"step": np.asarray(step, np.int32), "param_states": param_states},
    }}
    with open(os.path.join(directory, t5x.CHECKPOINT_FILE), "wb") as f:
        f.write(serialization.to_bytes(contents))


def _logits(params, config):
    enc = jnp.asarray([[5, 9, 3, 1, 0]], jnp.int32)
    dec = jnp.asarray([[0, 7, 2, 11]], jnp.int32)
    return t5.Transformer(config).apply({"params": params}, enc, dec, dec, enable_dropout=False)


def test_from_t5x_writes_our_parameters_and_gin_bindings(tmp_path, params, capsys):
    source = str(tmp_path / "checkpoint_1000")
    write_t5x_checkpoint(source, params)
    assert cli.main(["convert", "from-t5x", source, "--output", str(tmp_path / "ckpt")]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'ckpt' / 'params'} (t5x step 1000)" in printed
    assert "network.T5Config.num_heads = 2" in printed and "network.T5Config.head_dim = 4" in printed
    assert "network.T5Config.num_decoder_layers = 1" in printed and "network.T5Config.relative_attention_num_buckets = 8" in printed

    # INITIAL_CHECKPOINT_PATH's reader restores exactly the arrays the checkpoint was written from,
    # so the converted model's logits are those of the model built from them directly.
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    restored = checkpoints.restore_params(str(tmp_path / "ckpt"), abstract)
    jax.tree.map(np.testing.assert_array_equal, restored, params)
    np.testing.assert_array_equal(_logits(restored, CONFIG), _logits(params, CONFIG))


def test_errors_name_the_directory_and_the_parameter(tmp_path, params):
    write_t5x_checkpoint(str(tmp_path / "run" / "checkpoint_5"), params)
    with pytest.raises(FileNotFoundError, match="holds the msgpack file 'checkpoint'; pass one of its step directories, e.g. .*checkpoint_5"):
        t5x.from_t5x(str(tmp_path / "run"))
    broken = tmp_path / "broken"
    write_t5x_checkpoint(str(broken), params)
    (broken / "target.decoder.layers_0.mlp.wo.kernel" / ".zarray").unlink()
    with pytest.raises(FileNotFoundError, match="the array of 'target/decoder/layers_0/mlp/wo/kernel' cannot be opened"):
        t5x.from_t5x(str(broken))
    wrong = traverse_util.flatten_dict(params, sep="/")
    wrong["decoder/logits_dense/kernel"] = wrong["decoder/logits_dense/kernel"].T.copy()  # (vocab, embed): transposed
    with pytest.raises(ValueError, match=r"'target/decoder/logits_dense/kernel' has shape \(64, 16\), expected \(16, 64\)"):
        t5x.params_from_t5x(wrong, CONFIG)
