"""Data directories of the held-out benchmarks under the shared data folder."""
import pytest


@pytest.fixture(scope="session")
def data_dirs(shared_data):
    """benchmark -> its data directory in /work/shared/data, plus the two prompt/exemplar files."""
    return {
        "mmlu": shared_data / "mmlu",
        "mmlu_cot": shared_data / "mmlu",
        "bbh": shared_data / "bbh",
        "bbh_cot": shared_data / "bbh",
        "tydiqa": shared_data / "tydiqa",
        "mgsm": shared_data / "mgsm",
        "mmlu_cot_file": shared_data / "mmlu-cot" / "mmlu-cot.json",
        "gsm8k_train_file": shared_data / "gsm8k" / "train.jsonl",
    }
