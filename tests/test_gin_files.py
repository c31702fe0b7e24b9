"""Every gin file under gin/ parses against the registered configurables and opens with a header."""
import pathlib
import re

import gin
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
GIN_DIR = REPO / "gin"
GIN_FILES = sorted(GIN_DIR.rglob("*.gin"))


def test_there_are_gin_files():
    names = {str(p.relative_to(GIN_DIR)) for p in GIN_FILES}
    assert {"runs/finetune.gin", "runs/debug_cpu.gin", "runs/demo.gin", "partitioning/fsdp.gin"} <= names


@pytest.mark.parametrize("path", GIN_FILES, ids=lambda p: str(p.relative_to(GIN_DIR)))
def test_gin_file_parses(path, fresh_gin):
    # Unknown configurables and syntax errors raise here, naming the file and line.
    gin.parse_config_file(str(path))


@pytest.mark.parametrize("path", GIN_FILES, ids=lambda p: str(p.relative_to(GIN_DIR)))
def test_gin_file_starts_with_a_header_naming_its_macros(path):
    lines = path.read_text().splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert header, f"{path} should open with a comment block"
    assert any("Required" in line for line in header), f"{path}'s header should list the required macros"
    assert any("overridden" in line for line in header), f"{path}'s header should list commonly overridden options"


def test_finetune_gin_has_flan_t5_defaults(fresh_gin):
    gin.parse_config_file(str(GIN_DIR / "runs" / "finetune.gin"))
    # Chung et al. 2022, Table 22.
    assert gin.query_parameter("%BATCH_SIZE") == 64
    assert gin.query_parameter("%DROPOUT_RATE") == 0.05
    assert gin.query_parameter("%LEARNING_RATE") == 5e-4
    assert gin.query_parameter("%TASK_FEATURE_LENGTHS") == {"inputs": 2048, "targets": 512}
    assert gin.query_parameter("%PACKING") is True
    assert gin.query_parameter("%USE_CACHED_TASKS") is False


def test_documented_decode_methods_are_the_accepted_ones():
    """The gin files' comments list `evaluation.DecodeOptions.method` values: exactly the model's."""
    from flan_jax.eval import evaluator
    from flan_jax.models import decoding

    documented = set()
    for path in GIN_FILES:
        for line in path.read_text().splitlines():
            if line.startswith("#") and "DecodeOptions" in line and "|" in line:
                documented |= set(re.findall(r"'(\w+)'", line))
    assert documented == set(decoding.DECODE_METHODS)
    for method in documented:
        assert evaluator.DecodeOptions(method=method).method == method
    with pytest.raises(ValueError, match=r"evaluation.DecodeOptions.method='beam'.*'beam_search'"):
        evaluator.DecodeOptions(method="beam")
