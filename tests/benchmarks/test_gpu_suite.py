"""benchmarks/gpu_suite.py: the end-to-end and evaluation rows it builds from its scripts' RESULT
lines (here the RESULT of real CPU runs, trimmed), and a failed script costing only its row."""
import pytest


@pytest.fixture
def suite(load_benchmark, monkeypatch):
    module = load_benchmark("gpu_suite")
    calls = []

    def run(results):
        def fake(command, timeout):
            calls.append(command)
            return results.pop(0), ""
        monkeypatch.setattr(module, "_run", fake)
        return calls

    return module, run


# Trimmed from `end_to_end.py --model small --examples 32 --batch 4 --repeats 2` (2026-12-02).
END_TO_END = {"non_pad_tokens": 13361, "better_hf": "HF group_by_length", "ratio": 2.4367855935642537,
              "seconds": {"flan-jax": [38.96, 34.61], "HF longest": [98.07, 92.15], "HF group_by_length": [96.40, 82.86]}}


def test_end_to_end_row_gives_non_pad_tokens_per_second_of_both_sides_and_the_ratio(suite):
    module, run = suite
    calls = run([END_TO_END])
    [row] = module.end_to_end_rows(repeats=2, timeout=10)
    model, examples, rows, batch = module.END_TO_END_CONFIGS[0]
    assert calls[0][1].endswith("end_to_end.py")
    assert calls[0][2:] == ["--model", model, "--examples", str(examples), "--rows", str(rows), "--batch", str(batch),
                            "--repeats", "2"]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3:6] == [f"{13361 / 36.785:,.0f}", f"{13361 / 89.63:,.0f}", "2.44x"]


def test_eval_row_gives_the_bucketed_hours_and_a_failure_only_its_row(suite, monkeypatch):
    module, run = suite
    run([{"hours": {"bucketed": 20.87341065125005, "one shape": 27.07}}, None])
    monkeypatch.setattr(module, "EVAL_CONFIGS", module.EVAL_CONFIGS * 2)
    done, failed = module.eval_rows(timeout=10)
    assert "random weights: 20.87 h extrapolated" in done
    assert "random weights: failed" in failed
