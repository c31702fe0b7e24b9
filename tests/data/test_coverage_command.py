"""`flan-jax tasks coverage` on the Flan 2022 collection's own task list (the shared copy of
flan_collection_info.csv), and `flan-jax mixture show flan2022`'s line about it."""
import io
import json

import pytest

import flan_jax_tasks.all  # noqa: F401  (what the commands' default --module imports)
from flan_jax.data import mixture_commands, sources, task_commands
from flan_jax_tasks import collection_list, cot, dialog, flan2021, niv2, program_synthesis, t0

LIST = "flan_v2/flan/v2/flan_collection_info.csv"


@pytest.fixture
def info(shared_data):
    return str(shared_data / LIST)


@pytest.fixture
def collection(clean_registries, shared_data, monkeypatch, tmp_path):
    """The Flan 2022 collections registered as a user with the shared NIv2 checkout and CoT files
    has them (no QReCC, Taskmaster or DrRepair data)."""
    niv2_dir, cot_dir = shared_data / "natural-instructions", shared_data / "flan_v2/flan/v2/cot_data"
    monkeypatch.setenv(sources.NIV2_ENV, str(niv2_dir))
    monkeypatch.setenv(sources.COT_ENV, str(cot_dir))
    for env in (dialog.QRECC_RELEASE.env, dialog.TASKMASTER_ENV, program_synthesis.DRREPAIR_ENV):
        monkeypatch.delenv(env, raising=False)
    flan2021.register()
    t0.register()
    niv2.register(niv2_dir)
    cot.register(cot_dir)
    dialog.register()
    program_synthesis.register()


def test_every_row_of_the_shared_list_is_mapped_or_reasoned(collection, info, capsys):
    assert task_commands.main(["coverage", "--info", info]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:10]}
    # rows, datasets, mapped, data_not_here, not_implemented, missing
    assert table == {
        "FLAN": ["56", "27", "56", "0", "0", "0"],
        "FLAN/T0": ["88", "44", "88", "0", "0", "0"],
        "T0": ["193", "55", "193", "0", "0", "0"],
        # 204 of the list's NIv2 tasks are in the shared checkout (6 of them written with "_" for the
        # file name's "-"); 20 of those are NIv2 test-split tasks.
        "NIv2": ["1,556", "372", "184", "1,352", "20", "0"],
        # esnli and qed are not among the shared CoT files.
        "CoT": ["36", "9", "28", "8", "0", "0"],
        "Dialog": ["6", "3", "2", "4", "0", "0"],
        "Program": ["Synthesis", "10", "5", "2", "8", "0", "0"],
        "total": ["1,945", "515", "553", "1,372", "20", "0"],
    }
    assert "missing from flan-jax" not in out
    assert "the paper's collection: 1,836 tasks" in out
    assert f"FLAN_JAX_DRREPAIR_DIR is not set" in out and "test_tasks.txt" in out


def test_json_has_one_object_per_row_with_tasks_or_a_reason(collection, info, capsys):
    assert task_commands.main(["coverage", "--info", info, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1945
    for row in rows:
        assert {"source", "dataset", "category", "tasks", "status"} <= set(row)
        assert (row["status"] == "mapped") == bool(row["tasks"]) and (row["status"] == "mapped") != ("reason" in row)
    by_key = {(r["source"], r["dataset"], r["category"]): r for r in rows}
    assert by_key[("FLAN", "coqa", "Inverted Multiple-Choice QA (no trivia knowledge required)")]["tasks"] == [
        "flan2021_coqa_inv"]
    assert by_key[("FLAN", "wmt16_translate_csen", "Translation")]["tasks"] == [
        f"flan2021_wmt16_{pair}_{fmt}" for pair in ("cs_en", "en_cs") for fmt in ("fs_noopt", "zs_noopt")]
    t0_row = next(r for r in rows if r["specific"] == "quarel_heres_a_story")
    assert t0_row["tasks"] == [f"t0_quarel_{f}" for f in ("fs_noopt", "fs_opt", "zs_noopt", "zs_opt")]
    niv2_rows = {r["specific"]: r for r in rows if r["source"] == "NIv2"}
    assert niv2_rows["task067_abductivenli_answer_generation"]["tasks"] == [
        "niv2_task067_abductivenli_answer_generation_fs_noopt", "niv2_task067_abductivenli_answer_generation_zs_noopt"]
    absent = niv2_rows["task069_abductivenli_classification"]
    assert absent["status"] == "data_not_here" and "not in the NIv2 checkout" in absent["reason"]
    held_out = niv2_rows["task1393_superglue_copa_text_completion"]
    assert held_out["status"] == "not_implemented" and "test_tasks.txt" in held_out["reason"]
    cot_row = by_key[("CoT", "cot_gsm8k", "Question Generation")]
    assert cot_row["tasks"] == ["cot_gsm8k_inv"]


def test_unregistered_datasets_are_reported_missing_by_name(clean_registries, info, capsys, monkeypatch):
    monkeypatch.delenv(sources.NIV2_ENV, raising=False)
    flan2021.register(datasets=["rte", "coqa"])
    covered = collection_list.cover(collection_list.read_rows(info))
    flan = {c.row.dataset: c.status for c in covered if c.row.source == "FLAN"}
    assert flan["coqa"] == "mapped" and flan["newsroom"] == "missing"
    niv2_row = next(c for c in covered if c.row.source == "NIv2")
    assert niv2_row.status == "data_not_here" and "FLAN_JAX_NIV2_DIR is not set" in niv2_row.reason
    out = io.StringIO()
    task_commands.coverage(info, False, out)
    missing = out.getvalue().split("missing from flan-jax:")[1].split("implemented, but")[0]
    assert "FLAN (54 rows)" in missing and "newsroom" in missing and "coqa" not in missing
    assert "quarel_choose" in missing and "task067" not in missing


def test_default_list_is_the_variable_then_the_cached_download(info, tmp_path, monkeypatch, capsys):
    payload = open(info, "rb").read()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(collection_list.INFO_ENV, info)
    assert str(collection_list.info_path()) == info
    monkeypatch.delenv(collection_list.INFO_ENV)

    def offline(url, timeout):
        raise OSError("network is unreachable")

    monkeypatch.setattr(collection_list.urllib.request, "urlopen", offline)
    assert task_commands.main(["coverage", "--module", "flan_jax_tasks.synthetic"]) == 1
    err = capsys.readouterr().err
    assert "--info FILE" in err and "FLAN_JAX_COLLECTION_INFO" in err and "network is unreachable" in err

    class Response(io.BytesIO):
        def __enter__(self):
            return self

    monkeypatch.setattr(collection_list.urllib.request, "urlopen", lambda url, timeout: Response(b"not the list"))
    with pytest.raises(collection_list.CollectionInfoError, match="SHA-256"):
        collection_list.info_path()
    assert not list((tmp_path / "cache").glob("**/*.csv"))  # nothing half-written or wrong is cached
    monkeypatch.setattr(collection_list.urllib.request, "urlopen", lambda url, timeout: Response(payload))
    cached = collection_list.info_path()
    assert cached.read_bytes() == payload and cached.parent == tmp_path / "cache" / "flan_jax"
    monkeypatch.setattr(collection_list.urllib.request, "urlopen", offline)
    assert collection_list.info_path() == cached  # downloaded once


def test_a_file_that_is_not_the_list_is_named(tmp_path):
    wrong = tmp_path / "tasks.csv"
    wrong.write_text("name,weight\nx,1\n")
    with pytest.raises(collection_list.CollectionInfoError, match="tasks.csv.*header"):
        collection_list.read_rows(wrong)
    with pytest.raises(collection_list.CollectionInfoError, match="does not exist"):
        collection_list.info_path(tmp_path / "absent.csv")


def test_mixture_show_states_how_much_of_the_list_has_data_here(collection, info, monkeypatch, tmp_path):
    monkeypatch.setenv(collection_list.INFO_ENV, info)
    # A machine with no TFDS dataset prepared and no Hub dataset cached: only the NIv2 (184 rows)
    # and CoT (28) tasks have their data, the shared files.
    for env in ("TFDS_DATA_DIR", "HF_DATASETS_CACHE", "HF_HUB_CACHE"):
        monkeypatch.setenv(env, str(tmp_path / env))
    line = mixture_commands.flan2022_list_line()
    assert line.startswith("Flan 2022 task list: 212 of its 1,945 tasks have data on this machine; 341 more")
    assert "1,392 are not registered here" in line
    assert mixture_commands.FLAN2022_COLLECTIONS == collection_list.COLLECTIONS


def test_mixture_show_flan2022_prints_the_line_registered_or_not(collection, info, monkeypatch, capsys):
    from flan_jax_tasks import mixtures

    monkeypatch.setenv(collection_list.INFO_ENV, info)
    assert mixture_commands.main(["show", "flan2022"]) == 1  # not registered yet: an error, and the line
    assert "Flan 2022 task list: " in capsys.readouterr().err
    mixtures.flan2022()  # over the collections with data here (NIv2, CoT)
    out = io.StringIO()
    mixture_commands.show("flan2022", False, out)
    header = [line for line in out.getvalue().splitlines() if not line.startswith("  ")]  # notes are indented
    assert header[1].startswith("Flan 2022 task list: ")
