"""Program synthesis: CodeContests rows with the Hub dataset's fields and DrRepair program files in
the release's layout, rendered in every format; field mapping before/after; a missing release."""
import json

import pytest
import seqio

from flan_jax.data import registry, sources
from flan_jax_tasks import mixtures, program_synthesis
from tests.tasks import rendering

# A DrRepair program file: the correct program's lines and compiler errors of broken variants.
PROGRAM = {
    "meta": {"index": 0, "hitid": "????????", "workerid": "????????", "probid": "1A", "subid": "100"},
    "lines": [
        {"line": 0, "text": "DUMMY", "code": "#include <iostream>", "indent": 0},
        {"line": 1, "text": "", "code": "int main ( ) {", "indent": 0},
        {"line": 2, "text": "", "code": "int x = 1 ;", "indent": 1},
        {"line": 3, "text": "", "code": "std :: cout << x ;", "indent": 1},
        {"line": 4, "text": "", "code": "}", "indent": 0},
    ],
    "errors": [
        {"mod_line": [2], "mod_code": ["int x = 1"], "err_line": 3, "err_msg": "expected ',' or ';' before 'std'"},
        {"mod_line": [3], "mod_code": ["std :: cout << y ;"], "err_line": 3, "err_msg": "'y' was not declared"},
        {"mod_line": [9], "mod_code": ["oops"], "err_line": 9, "err_msg": "a line the program lacks"},
    ],
}


@pytest.fixture
def dr_repair_dir(tmp_path):
    """Three program files as the two unzipped releases lay them out; s5/ is DrRepair's held-out part."""
    for relative in ("err-data-compiler--orig-spoc/s1/100.json", "err-data-compiler--orig-spoc/s5/200.json",
                     "err-data-compiler--auto-corrupt--orig-deepfix/bin0/prob1/300.json"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(PROGRAM))
    return tmp_path


CONTESTS = [
    {"name": "1A. Sum", "description": "Read two integers and print their sum.",
     "solutions": {"language": [2, 1, 3], "solution": ["int main(){}", "print sum(map(int, raw_input().split()))",
                                                       "print(sum(map(int, input().split())))"]}},
    {"name": "1B. Echo", "description": "Print the input line.",
     "solutions": {"language": [1], "solution": ["print raw_input()"]}},
    {"name": "1C. C++ only", "description": "Anything.", "solutions": {"language": [2], "solution": ["int main(){}"]}},
]


def test_repair_fields_before_after():
    fields = program_synthesis.repair_fields(PROGRAM, PROGRAM["errors"][0])
    assert fields["fixed"] == "#include <iostream>\nint main ( ) {\n    int x = 1 ;\n    std :: cout << x ;\n}"
    assert fields["program"].split("\n")[2] == "    int x = 1"
    assert fields["error"] == "line 3: expected ',' or ';' before 'std'"
    assert fields["commented"].split("\n")[3] == "    std :: cout << x ;  // error: expected ',' or ';' before 'std'"
    assert fields["numbered"].split("\n")[2] == "2     int x = 1"
    assert fields["fix"] == "line 2: int x = 1 ;" and fields["broken"] == "line 2: int x = 1"
    assert program_synthesis.repair_fields(PROGRAM, PROGRAM["errors"][2]) is None  # names no line of the program


def test_code_contests_takes_the_first_python3_solution():
    prepare = program_synthesis.code_contests_fields
    assert prepare(CONTESTS[0]) == {"description": "Read two integers and print their sum.",
                                    "solution": "print(sum(map(int, input().split())))"}
    assert prepare(CONTESTS[1])["solution"] == "print raw_input()"  # Python 2 when there is no Python 3
    assert prepare(CONTESTS[2]) is None


def test_every_dataset_renders_every_format(clean_registries, dr_repair_dir, tmp_path):
    pytest.importorskip("datasets")
    files = {"dmcc_python": {"train": rendering.write_jsonl(tmp_path, "code_contests", CONTESTS)}}
    names = program_synthesis.register(dr_repair_dir=dr_repair_dir, data_files=files)
    assert len(names) == 5 * 3
    assert {registry.info(n).collection for n in names} == {"flan2021"}
    assert registry.clusters("flan2021")["program_synthesis"] == sorted(names)
    for dataset in program_synthesis.DATASETS_BY_NAME:
        family = program_synthesis.PREFIX + dataset
        rendered = rendering.render_every_format(family)
        assert set(rendered) == set(program_synthesis.FORMATS)
        # CodeContests: two problems with Python; DrRepair: two training files, two usable variants each.
        rendering.check_rendered(family, rendered, 2 if dataset == "dmcc_python" else 4)
    validation = rendering.render_every_format("program_synthesis_dr_repair_line_numbers", split="validation")
    assert [ex["targets"] for ex in validation["zs_noopt"]] == ["line 2: int x = 1 ;", "line 3: std :: cout << x ;"]
    inverted = rendering.render_every_format("program_synthesis_dmcc_python")["inv"]
    assert inverted[0]["targets"] == "Read two integers and print their sum."


def test_repair_through_the_seqio_pipeline(clean_registries, dr_repair_dir):
    program_synthesis.register(datasets=["dr_repair_error_comments"], formats=["zs_noopt"], dr_repair_dir=dr_repair_dir)
    task = seqio.TaskRegistry.get("program_synthesis_dr_repair_error_comments_zs_noopt")
    examples = list(task.get_dataset(sequence_length=None, split="train", shuffle=False).as_numpy_iterator())
    assert len(examples) == 4 and all(len(ex["targets"]) > 0 for ex in examples)
    assert "// error: expected ',' or ';' before 'std'" in examples[0]["inputs_pretokenized"].decode()
    assert examples[0]["targets_pretokenized"].decode() == program_synthesis.repair_fields(
        PROGRAM, PROGRAM["errors"][0])["fixed"]


def test_missing_release_names_what_to_set(clean_registries, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(program_synthesis.DRREPAIR_ENV, raising=False)
    assert program_synthesis.register() == [f"program_synthesis_dmcc_python_{f}" for f in program_synthesis.FORMATS]
    with pytest.raises(sources.DataSourceError, match="FLAN_JAX_DRREPAIR_DIR.*dr_repair_dir|dr_repair_dir.*FLAN_JAX"):
        program_synthesis.register(datasets=["dr_repair_no_errors"], dr_repair_dir=tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    assert program_synthesis.register(datasets=["dr_repair_no_errors"], dr_repair_dir=tmp_path / "empty",
                                      on_missing="warn") == []
    assert "err-data-compiler--orig-spoc" in caplog.text


def test_mixed_with_flan2021():
    assert "flan_jax_tasks.program_synthesis" in mixtures.COLLECTION_MODULES["flan2021"]
