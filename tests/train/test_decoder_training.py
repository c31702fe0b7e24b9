"""A tiny decoder-only model through the whole job: the hierarchical pipeline packs prefix-LM rows
(never attending across examples), the trainer trains and checkpoints, and `flan-jax eval` /
`flan-jax infer` (jobs.evaluate / jobs.infer) restore the checkpoint, decode and rank options.

The task asks whether a number is even or odd (training numbers below 5,000, validation numbers
from 5,000); its examples carry their options, for rank classification. The test checks the
plumbing, not learning (a model always answering "odd" gets half right): a prompt that lost its
inputs' EOS makes decoding and ranking disagree.
"""
import jax
import numpy as np
import pytest
import seqio
import tensorflow as tf

import tiny_setup
from flan_jax.data import features, pipeline, vocabularies
from flan_jax.eval import jobs
from flan_jax.models import decoder, model as model_lib
from flan_jax.train import checkpoints, optimizers, partitioning, trainer

TASK = "decoder_parity_of_numbers"
LENGTHS = {"inputs": 56, "targets": 8}  # rows of 64: an example is 25-26 tokens, so rows hold two
TRAIN_STEPS = 50
BATCH_SIZE = 16


def _parity_of_numbers(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
    """2,048 training numbers below 5,000; 32 validation numbers from 5,000."""
    del shuffle_files, seed
    rng = np.random.default_rng(0 if split == "train" else 1)
    numbers = rng.integers(0, 5000, 2048) if split == "train" else rng.integers(5000, 10000, 32)
    return tf.data.Dataset.from_tensor_slices({
        "inputs": [f"Is {n} even or odd?" for n in numbers],
        "targets": ["even" if n % 2 == 0 else "odd" for n in numbers],
        "options": [["even", "odd"]] * len(numbers),
    })


# One model for the module (one compilation of each step): a bidirectional prefix, the case
# where a packed row could most easily leak between examples.
MODEL = model_lib.DecoderOnlyModel(
    decoder.Decoder(decoder.DecoderConfig(vocab_size=384, emb_dim=32, num_heads=4, num_kv_heads=2, num_layers=2,
                                          head_dim=8, mlp_dim=64)),
    vocabularies.byte_vocabulary(), inputs_bidirectional_attention=True,
)


@pytest.fixture(scope="module")
def registered():
    saved = dict(seqio.TaskRegistry._REGISTRY)
    tiny_setup.register(TASK, metric_fns=[tiny_setup.exact_match_accuracy], dataset_fn=_parity_of_numbers)
    yield
    seqio.TaskRegistry.reset()
    seqio.TaskRegistry._REGISTRY.update(saved)


@pytest.fixture(scope="module")
def trained(registered, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("decoder_run")
    result = trainer.train(
        model=MODEL, partitioner=partitioning.Partitioner(),
        train_dataset=pipeline.DatasetConfig(TASK, LENGTHS, batch_size=BATCH_SIZE, pack=True, sampler="hierarchical"),
        # N(0, 0.02) initialisation (Llama's) and Adafactor's updates relative to the
        # parameter scale: a from-scratch model needs a larger rate than T5's 1e-2.
        learning_rate_schedule=optimizers.constant_schedule(5e-2), train_steps=TRAIN_STEPS, model_dir=str(model_dir),
        checkpoint_config=checkpoints.CheckpointConfig(period=TRAIN_STEPS, async_save=False), log_period=10,
        truncation_check_examples=0, show_progress=False,
    )
    return result, model_dir


def test_the_pipeline_packs_prefix_lm_rows_that_score_as_their_examples(registered, trained):
    config = pipeline.DatasetConfig(TASK, LENGTHS, batch_size=4, pack=True)
    converter = MODEL.FEATURE_CONVERTER_CLS(pack=True)
    assert features.layout_for(converter) is features.PREFIX_LM
    stream = pipeline.HierarchicalStream(config, pack=True, shard_info=pipeline.host_shard_info(), layout=features.PREFIX_LM)
    rows = stream.packer.plan()
    packed = stream.packer.assemble(rows)
    assert packed["decoder_input_tokens"].shape == (4, 64)
    assert max(len(row) for row in rows) >= 2  # several examples share a row
    alone = features.prefix_lm([[example] for row in rows for example in row], sum(map(len, rows)), LENGTHS, pack=False)
    score = jax.jit(MODEL.score_batch)
    params = trained[0].state.params
    per_example = np.asarray(score(params, alone))
    starts = np.cumsum([0] + [len(row) for row in rows])
    expected = [per_example[a:b].sum() for a, b in zip(starts[:-1], starts[1:])]
    # Trained parameters: an example that saw its neighbour would score differently.
    np.testing.assert_allclose(np.asarray(score(params, packed)), expected, rtol=1e-4, atol=1e-4)


def test_training_then_eval_generation_ranking_and_infer_from_the_checkpoint(trained, tmp_path):
    result, model_dir = trained
    assert result.last_metrics["loss_per_token"] < 0.25 * result.first_metrics["loss_per_token"]
    assert checkpoints.checkpoint_directory(model_dir).joinpath(str(TRAIN_STEPS)).is_dir()

    generated = jobs.evaluate(model=MODEL, checkpoint_path=str(model_dir), suite=TASK, output_dir=str(tmp_path / "eval"),
                              task_feature_lengths=LENGTHS, batch_size=16, show_progress=False).tasks[TASK]
    assert generated.num_examples == 32 and not generated.rank_classification
    assert {p["prediction"] for p in generated.predictions} <= {"even", "odd"}
    assert (tmp_path / "eval" / str(TRAIN_STEPS) / "results.json").is_file()

    ranked = jobs.evaluate(model=MODEL, checkpoint_path=str(model_dir), suite=TASK, output_dir=str(tmp_path / "rank"),
                           task_feature_lengths=LENGTHS, batch_size=16, rank_classification=True,
                           show_progress=False).tasks[TASK]
    assert ranked.rank_classification and ranked.num_examples == 32
    # Decoding from the prompt (inputs and their EOS, as in training) says what the scores rank first.
    agree = sum(r["prediction"] == g["prediction"] for r, g in zip(ranked.predictions, generated.predictions))
    assert agree >= 28, (ranked.predictions, generated.predictions)

    records = jobs.infer(model=MODEL, checkpoint_path=str(model_dir), task_feature_lengths=LENGTHS,
                         prompts=["Is 7000 even or odd?", "Is 7001 even or odd?"], output_file=str(tmp_path / "out.jsonl"),
                         show_progress=False)
    assert [r["inputs"] for r in records] == ["Is 7000 even or odd?", "Is 7001 even or odd?"]
    assert {r["prediction"] for r in records} <= {"even", "odd"}
