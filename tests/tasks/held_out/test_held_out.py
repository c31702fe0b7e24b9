"""Registration of the held-out benchmarks as seqio tasks and the flan_held_out suite."""
import seqio

from flan_jax.data import registry
from flan_jax.eval import held_out_tasks


def test_register_every_benchmark_and_the_suite(clean_registries, shared_data):
    from flan_jax_tasks import held_out
    from flan_jax_tasks.held_out import bbh, mgsm, mmlu, tydiqa

    names = mmlu.register(shared_data / "mmlu", cot_file=shared_data / "mmlu-cot" / "mmlu-cot.json")
    names += bbh.register(shared_data / "bbh")
    names += tydiqa.register(shared_data / "tydiqa")
    names += mgsm.register(shared_data / "mgsm", gsm8k_train_file=shared_data / "gsm8k" / "train.jsonl")
    assert len(names) == (57 + 1) * 2 + (27 + 1) * 2 + (9 + 1) + (11 + 1)
    assert {"mmlu", "mmlu_cot", "bbh", "bbh_cot", "tydiqa", "mgsm"} <= set(seqio.MixtureRegistry.names())
    assert held_out.register_suite() == ["flan_held_out"]
    assert len(seqio.get_mixture_or_task("flan_held_out").tasks) == 57 * 2 + 27 * 2 + 9 + 11
    assert registry.collection_of("bbh_cot_navigate") == "held_out"
    info = held_out_tasks.benchmark_of("mmlu_cot_virology")
    assert (info.family, info.subtask) == ("mmlu_cot", "virology")

    task = seqio.get_mixture_or_task("tydiqa_korean")
    example = next(task.get_dataset(None, split="test", shuffle=False).as_numpy_iterator())
    assert example["subtask"] == b"korean" and example["index"] == 0
    assert example["inputs_pretokenized"].decode().endswith("\n\nA:")
    assert list(example["answers"]) == [a.encode() for a in task.postprocess_fn("", example=example, is_target=True)]
    assert task.postprocess_fn(b"raw output", example=example) == "raw output"


def test_without_data_nothing_is_registered(clean_registries, monkeypatch):
    from flan_jax_tasks.held_out import bbh

    monkeypatch.delenv("FLAN_JAX_BBH_DIR", raising=False)
    assert bbh.register() == []
    assert held_out_tasks.register_suite("flan_held_out", ["bbh"]) == []


def test_mgsm_without_gsm8k_file_imports_and_fails_clearly_when_used(clean_registries, shared_data, monkeypatch):
    """$FLAN_JAX_MGSM_DIR alone: the collection imports; using an MGSM task says which file is missing."""
    import os
    import subprocess
    import sys

    import pytest

    from flan_jax.eval import benchmarks
    from flan_jax_tasks.held_out import mgsm

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAN_JAX_")}
    env["FLAN_JAX_MGSM_DIR"] = str(shared_data / "mgsm")
    done = subprocess.run([sys.executable, "-c", "import flan_jax_tasks.held_out as h; print(len(h.mgsm.NAMES))"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "12"  # 11 languages and the mixture

    monkeypatch.delenv("FLAN_JAX_GSM8K_TRAIN_FILE", raising=False)
    assert "mgsm_de" in mgsm.register(shared_data / "mgsm")
    task = seqio.get_mixture_or_task("mgsm_de")
    with pytest.raises(benchmarks.DataError, match=r"No GSM8K train file .*set \$FLAN_JAX_GSM8K_TRAIN_FILE"):
        task.get_dataset(None, split="test", shuffle=False)
