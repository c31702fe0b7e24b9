"""Length bucketing of evaluation rows: order, padded lengths and the way back."""
import pytest

from flan_jax.eval import length_buckets


def test_bucket_lengths_are_powers_of_two_and_halfway_points_up_to_the_limit():
    assert length_buckets.bucket_lengths(2048) == [128, 192, 256, 384, 512, 768, 1024, 1536, 2048]
    assert length_buckets.bucket_lengths(300) == [128, 192, 256, 300]
    assert length_buckets.bucket_lengths(100) == [100]


def test_plan_sorts_longest_first_and_pads_each_batch_to_the_bucket_of_its_longest_row():
    lengths = [10, 700, 130, 2048, 5]
    order, padded = length_buckets.plan(lengths, batch_size=2, limit=2048)
    assert order == [3, 1, 2, 0, 4]
    assert padded == [2048, 2048, 192, 192, 128]
    outputs = [f"out{row}" for row in order]
    assert length_buckets.restore(order, outputs) == [f"out{row}" for row in range(5)]


def test_plan_rejects_rows_longer_than_the_limit():
    with pytest.raises(ValueError, match="longer than the input length 64"):
        length_buckets.plan([65], batch_size=1, limit=64)


def test_predict_texts_pads_each_batch_to_its_bucket_and_keeps_input_order():
    from fake_eval_model import PARAMS, EchoModel

    from flan_jax.eval import evaluator

    model = EchoModel()
    texts = ["short one", "x" * 900 + "long one", "another short"]
    outputs = evaluator.predict_texts(model, PARAMS, texts, task_feature_lengths={"inputs": 4096, "targets": 8},
                                      batch_size=2)
    assert outputs == ["hort one", "long one", "er short"]  # each row's echoed tail, in input order
    assert model.predict_calls == 2  # batches padded to 1024 (the long row and one short) and 128
