"""The numpy feature layouts equal seqio's feature converters, packed and unpacked."""
import numpy as np
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import features

EXAMPLES = [([7, 8, 5, 1], [3, 9, 1]), ([8, 4, 9, 3, 1], [4, 1])]


def seqio_features(converter: seqio.FeatureConverter, examples, lengths) -> dict[str, np.ndarray]:
    ds = tf.data.Dataset.from_generator(
        lambda: ({"inputs": np.asarray(i, np.int32), "targets": np.asarray(t, np.int32)} for i, t in examples),
        output_signature={k: tf.TensorSpec([None], tf.int32) for k in ("inputs", "targets")})
    return next(converter(ds, lengths).batch(8).as_numpy_iterator())


@pytest.mark.parametrize("converter_cls", [seqio.EncDecFeatureConverter, seqio.PrefixLMFeatureConverter])
@pytest.mark.parametrize("pack", [False, True])
def test_layouts_equal_seqio_converters(converter_cls, pack):
    lengths = {"inputs": 12, "targets": 6} if pack else {"inputs": 7, "targets": 4}
    layout = features.layout_for(converter_cls)
    theirs = seqio_features(converter_cls(pack=pack), EXAMPLES, lengths)
    rows = [list(EXAMPLES)] if pack else [[example] for example in EXAMPLES]
    assert all(np.all(np.sum([layout.need(ex) for ex in row], axis=0) <= layout.room(lengths)) for row in rows)
    ours = layout.build(rows, len(rows), lengths, pack)
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
        assert ours[key].dtype == theirs[key].dtype


def test_prefix_lm_matches_seqio_documented_example():
    # seqio's PrefixLMFeatureConverter docstring, example 1 (packed), in one row of 15.
    out = features.prefix_lm([EXAMPLES], 1, {"inputs": 7, "targets": 8}, pack=True)
    assert out["decoder_causal_attention"][0].tolist() == [1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    assert out["decoder_loss_weights"][0].tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0]
    assert out["decoder_input_tokens"][0].tolist() == [0, 7, 8, 5, 1, 3, 9, 0, 8, 4, 9, 3, 1, 4, 0]


def test_layout_of_a_converter_instance():
    assert features.layout_for(seqio.EncDecFeatureConverter(pack=True)) is features.ENCODER_DECODER
    assert features.layout_for(seqio.PrefixLMFeatureConverter(pack=True)) is features.PREFIX_LM
    assert features.layout_for(seqio.PrefixLMFeatureConverter(loss_on_targets_only=False)) is None
    assert features.layout_for(seqio.EncDecFeatureConverter(bos_id=5)) is None
    assert features.layout_for(seqio.LMFeatureConverter) is None
