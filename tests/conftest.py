"""Shared fixtures. Eight host CPU devices so sharding tests run on one CPU (set before JAX loads)."""
import os
import pathlib

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The public data files beside the checkout (../shared/data); skip where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: these tests read the public data files kept there")
    return SHARED_DATA


@pytest.fixture
def fresh_gin():
    """An empty gin config around a test, with every configurable registered and `gin/` searchable."""
    import gin

    from flan_jax import gin_configurables  # noqa: F401  (registers every configurable)
    from flan_jax import gin_flags

    gin.clear_config()
    gin_flags.guard_gin_file_checks()  # as the commands do: a ./runs/ output directory must not break includes
    gin.add_config_file_search_path(str(REPO / "gin"))
    yield
    gin.clear_config()


@pytest.fixture
def clean_registries():
    """Empties seqio's task and mixture registries around a test, restoring them afterwards."""
    import seqio

    saved_tasks = dict(seqio.TaskRegistry._REGISTRY)
    saved_mixtures = dict(seqio.MixtureRegistry._REGISTRY)
    seqio.TaskRegistry.reset()
    seqio.MixtureRegistry.reset()
    yield
    seqio.TaskRegistry.reset()
    seqio.MixtureRegistry.reset()
    seqio.TaskRegistry._REGISTRY.update(saved_tasks)
    seqio.MixtureRegistry._REGISTRY.update(saved_mixtures)
