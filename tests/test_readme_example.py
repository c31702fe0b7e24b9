"""The README's "register a new instruction task" snippet (docs/register_a_task.py) runs as written."""
import pathlib
import runpy

import pytest
import seqio

from flan_jax.data import registry

REPO = pathlib.Path(__file__).resolve().parent.parent
SNIPPET = REPO / "docs" / "register_a_task.py"


def test_snippet_registers_tasks_and_a_mixture(clean_registries):
    namespace = runpy.run_path(str(SNIPPET))
    assert namespace["names"] == ["capitals_zs_opt", "capitals_zs_noopt", "capitals_fs_noopt"]
    assert registry.tasks_in("my_tasks") == sorted(namespace["names"])
    assert registry.info("capitals_zs_opt").cluster == "closed_book_qa"
    mixture = seqio.get_mixture_or_task("my_mixture")
    ds = mixture.get_dataset({"inputs": 256, "targets": 16}, split="validation", shuffle=False,
                             passthrough_features=["inputs_pretokenized", "targets_pretokenized"])
    examples = list(ds.take(12).as_numpy_iterator())
    assert len(examples) == 12
    for example in examples:
        inputs, target = example["inputs_pretokenized"].decode(), example["targets_pretokenized"].decode()
        assert "capital" in inputs
        assert target in ("Paris", "Tokyo", "Nairobi", "Lima", "Santiago") or target[:1] in "(ABCDE"


def test_readme_shows_the_snippet_verbatim():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_line = SNIPPET.read_text(encoding="utf-8").splitlines()[0]
    if "register_family(" not in readme:
        pytest.skip("README.md has not pasted docs/register_a_task.py yet")
    assert SNIPPET.read_text(encoding="utf-8").strip() in readme, (
        "README.md's task-registration snippet differs from docs/register_a_task.py; paste it again")
    assert first_line in readme
