"""TokenizerVocabulary: a Hugging Face tokenizer.json as a seqio vocabulary (round trips, EOS,
special tokens from the tokenizer's config, TensorFlow ops, equality, bad files)."""
import json
import pickle

import numpy as np
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import vocabularies

TEXTS = ["Café, naïve; 東京 and Zürich 🙂", "Question: What is 12 + 30? Answer: 42.", "def add(a, b):\n    return a + b\n"]


@pytest.fixture(scope="module")
def tokenizer_dir(make_hf_tokenizer, tmp_path_factory):
    return make_hf_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def vocabulary(tokenizer_dir):
    return vocabularies.hf_tokenizer_vocabulary(str(tokenizer_dir))


def test_round_trips_without_special_tokens(vocabulary):
    for text in TEXTS:
        ids = vocabulary.encode(text)
        assert ids and max(ids) < vocabulary.vocab_size
        assert vocabulary.eos_id not in ids and vocabulary.pad_id not in ids  # encode adds no special tokens
        assert vocabulary.decode(ids) == text


def test_special_ids_come_from_the_tokenizer_config(vocabulary, tokenizer_dir):
    assert (vocabulary.eos_id, vocabulary.pad_id, vocabulary.unk_id, vocabulary.bos_id) == (1, 0, None, None)
    assert vocabulary.vocab_size == 280
    # The tokenizer.json file itself works too, and explicit tokens win over the config.
    other = vocabularies.hf_tokenizer_vocabulary(str(tokenizer_dir / "tokenizer.json"), eos_token="<|pad|>")
    assert other.eos_id == 0 and other != vocabulary
    assert vocabularies.hf_tokenizer_vocabulary(str(tokenizer_dir)) == vocabulary
    # seqio's Beam caching and tf.data workers pickle vocabularies.
    copy = pickle.loads(pickle.dumps(vocabulary))
    assert copy == vocabulary and copy.encode(TEXTS[0]) == vocabulary.encode(TEXTS[0])


def test_without_a_config_pad_is_seqio_zero_and_there_is_no_eos(make_hf_tokenizer, tmp_path):
    directory = make_hf_tokenizer(tmp_path)
    (directory / "tokenizer_config.json").unlink()
    vocabulary = vocabularies.hf_tokenizer_vocabulary(str(directory))
    assert vocabulary.eos_id is None and vocabulary.pad_id == seqio.PAD_ID


def test_decoding_stops_before_the_first_eos(vocabulary):
    ids = vocabulary.encode(TEXTS[1])
    assert vocabulary.decode(ids + [vocabulary.eos_id] + vocabulary.encode(" more")) == TEXTS[1]
    assert vocabulary.decode(ids + [vocabulary.eos_id, 0, 0]) == TEXTS[1]
    assert vocabulary.decode([vocabulary.pad_id] + ids) == TEXTS[1]  # special tokens are dropped


def test_tensorflow_ops_match_python(vocabulary):
    features = {"targets": seqio.Feature(vocabulary, add_eos=True)}
    dataset = tf.data.Dataset.from_tensor_slices({"targets": TEXTS})
    tokenized = list(seqio.preprocessors.tokenize(dataset, features).as_numpy_iterator())
    for text, example in zip(TEXTS, tokenized):
        np.testing.assert_array_equal(example["targets"], vocabulary.encode(text))
    width = max(len(example["targets"]) for example in tokenized) + 2
    rows = np.zeros((len(TEXTS), width), np.int32)
    for row, example in zip(rows, tokenized):
        row[:len(example["targets"])] = example["targets"]
        row[len(example["targets"])] = vocabulary.eos_id
        row[len(example["targets"]) + 1:] = 7  # after EOS: ignored
    decoded = vocabulary.decode_tf(tf.constant(rows)).numpy()
    assert [text.decode() for text in decoded] == TEXTS
    assert vocabulary.decode_tf(tf.constant(rows[0])).numpy().decode() == TEXTS[0]


def test_bad_files_are_named(tmp_path, make_hf_tokenizer):
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        vocabularies.hf_tokenizer_vocabulary(str(tmp_path))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="is not a Hugging Face tokenizer.json"):
        vocabularies.hf_tokenizer_vocabulary(str(tmp_path))
    directory = make_hf_tokenizer(tmp_path / "named")
    (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(ValueError, match="eos token '</s>' is not in the vocabulary"):
        vocabularies.hf_tokenizer_vocabulary(str(directory))
