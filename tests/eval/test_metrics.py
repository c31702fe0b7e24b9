"""Answer extraction, normalisation and aggregate scores on realistic outputs."""
import json

import pytest

from flan_jax.eval import metrics


@pytest.mark.parametrize("text, letter", [
    ("B", "B"), ("(C)", "C"), ("D. 120", "D"), ("A) 0", "A"),
    ("Let's think step by step. ... Hence $k=0$ and $n=0$. The answer is (A).", "A"),
    ("The answer is (B). Wait, the answer is (D).", "D"),
    ("the answer is c", "C"),
    ("A cat is an animal.", ""),  # the article "A" is not an option letter
    ("I do not know.", ""),
])
def test_mmlu_letter(text, letter):
    assert metrics.extract_mmlu_letter(text) == letter


@pytest.mark.parametrize("text, number", [
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72", "72"),
    ("There are 15 trees originally. So there must have been 21 - 15 = 6. The answer is 6.", "6"),
    ("She makes 9 * 2 = $18 every day. So the answer is 18.", "18"),
    ("The total is 114,200 dollars.", "114200"),
    ("It costs $2.50.", "2.5"),
    ("That is 7.0 cups.", "7"),
    ("The temperature fell to -3 degrees.", "-3"),
    ("no numbers here", ""),
])
def test_last_number(text, number):
    assert metrics.extract_last_number(text) == number


def test_bbh_cot_rationales_from_the_published_prompts(data_dirs):
    """Every exemplar rationale in cot-prompts/*.txt scores as right against its own answer."""
    prompts = sorted((data_dirs["bbh"] / "cot-prompts").glob("*.txt"))
    assert len(prompts) == 27
    checked = 0
    for path in prompts:
        for block in path.read_text().split("\n\nQ: ")[1:]:
            rationale = block.split("\nA: ", 1)[1]
            answer = rationale.rsplit("So the answer is ", 1)[1].rstrip().rstrip(".")
            assert metrics.is_correct("bbh_cot", rationale, answer), (path.name, rationale[-80:])
            checked += 1
    assert checked == 27 * 3


def test_bbh_extraction():
    assert metrics.extract_answer("bbh_cot", "If today is Dec 24 ... So the answer is (D).") == "(D)"
    assert metrics.extract_answer("bbh", "(B) 12/25/1937") == "(B)"
    assert metrics.extract_answer("bbh", " True\nQ: next") == "True"
    assert metrics.is_correct("bbh", "] ) }", ["] ) }"])
    assert not metrics.is_correct("bbh", "valid", ["invalid"])
    assert not metrics.is_correct("bbh", "", [""])  # an empty output is never right


def test_mgsm_gsm8k_answers(shared_data):
    """GSM8K train rationales ("#### 72") score as right against their final answer."""
    with open(shared_data / "gsm8k" / "train.jsonl") as f:
        records = [json.loads(next(f)) for _ in range(200)]
    for record in records:
        final = record["answer"].rsplit("####", 1)[1].strip()
        assert metrics.is_correct("mgsm", record["answer"], final), record["answer"][-60:]
    assert not metrics.is_correct("mgsm", "So the answer is 71.", "72")


def test_tydiqa_squad_normalisation():
    assert metrics.squad_normalize("The  «Москва».") == "москва"
    assert metrics.is_correct("tydiqa", "the Eiffel Tower!", ["Eiffel tower", "tower"])
    assert metrics.is_correct("tydiqa", "1999\nQ: another question", ["1999"])
    assert not metrics.is_correct("tydiqa", "2000", ["1999"])


def test_accuracy_counts_missing_as_wrong():
    assert metrics.accuracy("mmlu", ["A", None, "C", "D"], ["A", "B", "C", "A"]) == 50.0
    with pytest.raises(ValueError, match="3 predictions but 2"):
        metrics.accuracy("mmlu", ["A", "B", "C"], ["A", "B"])


def test_seqio_metric_and_rank_classification():
    fn = metrics.seqio_metric("tydiqa")
    assert fn([["a b", "b"], ["c"]], ["b", "d"]) == {"exact_match": 50.0}
    assert metrics.rank_classification([-3.0, -1.0, -1.0, -7.0], ["(A)", "(B)", "(C)", "(D)"]) == "(B)"


def test_macro_and_normalized_average():
    assert metrics.macro_average("tydiqa", {"english": 90.0, "arabic": 40.0, "swahili": 20.0}) == 30.0
    assert metrics.normalize_score(62.5, 25.0) == 50.0
    scores = {"mmlu": 62.5, "mmlu_cot": 25.0, "bbh": 100.0, "bbh_cot": 50.0, "tydiqa": 30.0, "mgsm": 10.0}
    randoms = {"mmlu": 25.0, "mmlu_cot": 25.0, "bbh": 50.0, "bbh_cot": 50.0, "tydiqa": 0.0, "mgsm": 0.0}
    assert metrics.normalized_average(scores, randoms) == pytest.approx((50 + 0 + 100 + 0 + 30 + 10) / 6)
    del scores["mgsm"]
    assert metrics.normalized_average(scores, randoms) is None
