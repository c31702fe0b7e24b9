"""T5's span corruption checked against its definition, and as a seqio preprocessor."""
import numpy as np
import pytest
import seqio
import tensorflow as tf

from flan_jax.data import span_corruption as sc
from flan_jax.data import vocabularies

TOP = 383  # the first sentinel of the byte vocabulary with 125 extra ids


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def test_lengths_are_t5s():
    # T5's C4 pretraining: 512 inputs come from 568 raw tokens and make 114 targets.
    assert sc.random_spans_helper(512) == (568, 114)
    for inputs_length in (16, 64, 256, 1024):
        tokens_length, targets_length = sc.random_spans_helper(inputs_length)
        noise, num_spans = sc.noise_counts(tokens_length)
        assert tokens_length - noise + num_spans + 1 == inputs_length  # fills the inputs, EOS included
        assert noise + num_spans + 1 == targets_length


@pytest.mark.parametrize("length", [1, 2, 3, 10, 37, 284, 568])
def test_mask_has_the_defined_density_spans_and_shape(length):
    noise, num_spans = sc.noise_counts(length)
    padded = max(length, 2)
    assert noise == min(max(round(padded * 0.15), 1), padded - 1)
    assert num_spans == max(round(noise / 3), 1)
    for seed in range(20):
        mask = sc.random_spans_noise_mask(length, np.random.default_rng(seed))
        assert mask.shape == (length,) and mask.dtype == bool
        if length >= 2:  # spans alternate non-noise / noise, starting with non-noise, ending with noise
            assert mask.sum() == noise and len(spans(mask)) == num_spans
            assert not mask[0] and mask[-1]


def test_span_lengths_average_the_mean_and_vary():
    lengths = [e - s for seed in range(200) for s, e in spans(sc.random_spans_noise_mask(568, np.random.default_rng(seed)))]
    noise, num_spans = sc.noise_counts(568)
    assert np.mean(lengths) == pytest.approx(noise / num_spans)  # 85 / 28 = 3.04, T5's mean of 3
    assert min(lengths) == 1 and max(lengths) > 6  # random segmentation, not fixed-size spans


def test_sentinels_count_down_and_inputs_targets_rebuild_the_text():
    tokens = np.arange(10, 110, dtype=np.int32)
    mask = sc.random_spans_noise_mask(len(tokens), np.random.default_rng(0))
    inputs, targets = sc.corrupt(tokens, np.random.default_rng(0), TOP)
    noise, num_spans = sc.noise_counts(len(tokens))
    assert len(inputs) == len(tokens) - noise + num_spans and len(targets) == noise + num_spans
    expected = list(range(TOP, TOP - num_spans, -1))
    assert inputs[inputs > 258].tolist() == expected and targets[targets > 258].tolist() == expected
    assert targets[0] == TOP and inputs[-1] == TOP - num_spans + 1  # targets open with a sentinel
    # Each sentinel of the inputs stands for the target tokens after the same sentinel.
    fill = {}
    for piece in np.split(targets, np.flatnonzero(targets > 258))[1:]:
        fill[int(piece[0])] = piece[1:].tolist()
    rebuilt = [t for i in inputs.tolist() for t in (fill[i] if i > 258 else [i])]
    assert rebuilt == tokens.tolist()
    assert np.array_equal(np.flatnonzero(mask), np.flatnonzero(np.isin(tokens, targets[targets <= 258])))


def test_sentinels_decode_as_extra_ids():
    vocabulary = vocabularies.byte_vocabulary(vocabularies.BYTE_EXTRA_IDS)
    assert vocabulary.vocab_size == 384
    ids = vocabulary.encode("Thank you ") + [TOP] + vocabulary.encode(" me") + [TOP - 1, 1] + vocabulary.encode("gone")
    assert vocabulary.decode(ids) == "Thank you <extra_id_0> me<extra_id_1>"
    assert vocabularies.byte_vocabulary().decode(ids) == "Thank you  me"  # seqio's drops them


def _task(lengths_ok: bool = True, vocabulary=None):
    vocabulary = vocabulary or vocabularies.byte_vocabulary(vocabularies.BYTE_EXTRA_IDS)
    documents = [f"Document {i} says that {i} plus {i} is {2 * i}. " * (1 + i % 3) for i in range(40)]
    source = seqio.FunctionDataSource(
        lambda split, shuffle_files, seed=None: tf.data.Dataset.from_tensor_slices({"targets": documents}), splits=["train"])
    seqio.TaskRegistry.add(
        "corrupted", source=source,
        output_features={k: seqio.Feature(vocabulary, add_eos=True) for k in ("inputs", "targets")},
        preprocessors=[seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(), sc.span_corruption,
                       seqio.preprocessors.append_eos_after_trim])
    return documents


def _examples(seed, lengths):
    task = seqio.TaskRegistry.get("corrupted")
    return list(task.get_dataset(lengths, split="train", shuffle=False, seed=seed, num_epochs=1).as_numpy_iterator())


def test_preprocessor_fills_inputs_exactly_and_keeps_every_token(clean_registries):
    text = "".join(_task())
    vocabulary = vocabularies.byte_vocabulary(vocabularies.BYTE_EXTRA_IDS)
    lengths = {"inputs": 64, "targets": 16}
    examples = _examples(7, lengths)
    tokens_length, targets_length = sc.random_spans_helper(64)
    assert [len(e["inputs"]) for e in examples[:-1]] == [64] * (len(examples) - 1)  # all but the last segment
    assert all(len(e["targets"]) == targets_length for e in examples[:-1]) and targets_length <= 16
    rebuilt = []
    for e in examples:
        assert e["inputs"][-1] == e["targets"][-1] == 1  # EOS
        fill = {int(p[0]): p[1:].tolist() for p in np.split(e["targets"][:-1], np.flatnonzero(e["targets"][:-1] > 258))[1:]}
        rebuilt += [t for i in e["inputs"][:-1].tolist() for t in (fill[i] if i > 258 else [i])]
    assert vocabulary.decode(rebuilt) == text  # documents concatenated in order, nothing lost
    assert [e["inputs"].tolist() for e in _examples(7, lengths)] == [e["inputs"].tolist() for e in examples]
    assert [e["inputs"].tolist() for e in _examples(8, lengths)] != [e["inputs"].tolist() for e in examples]


def test_preprocessor_errors_name_the_fix(clean_registries):
    _task()
    with pytest.raises(ValueError, match=r"raise TASK_FEATURE_LENGTHS\['targets'\] to at least 14"):
        _examples(0, {"inputs": 64, "targets": 8})
    seqio.TaskRegistry.remove("corrupted")
    _task(vocabulary=vocabularies.byte_vocabulary())
    with pytest.raises(ValueError, match=r"needs 3 sentinels .* has 0 extra ids.*byte_vocabulary\(extra_ids=125\)"):
        _examples(0, {"inputs": 64, "targets": 16})


def test_without_lengths_each_document_is_corrupted_whole(clean_registries):
    documents = _task()
    task = seqio.TaskRegistry.get("corrupted")
    examples = list(task.get_dataset(None, split="train", shuffle=False, seed=0, num_epochs=1).as_numpy_iterator())
    assert len(examples) == len(documents)  # one per document: no length to cut them to
    for document, example in zip(documents, examples):
        noise, num_spans = sc.noise_counts(len(document.encode()))
        assert (example["inputs"] > 258).sum() == num_spans
        assert len(example["targets"]) == noise + num_spans + 1
