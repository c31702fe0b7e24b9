"""Trainer-test plumbing: the helpers beside this file import as `tiny_setup`; a `multihost` mark; a compilation cache."""
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "multihost: starts several JAX processes on 127.0.0.1 (select with -m multihost)")


@pytest.fixture(scope="module")
def compilation_cache(tmp_path_factory):
    """JAX's persistent compilation cache for one test module: runs that build the same train step
    (a resume, a reference run) compile it once. Yields the environment variables that share it with
    the processes the module starts; the cache is off again after the module."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cache

    directory = str(tmp_path_factory.mktemp("jax_compilation_cache"))
    saved = {name: jax.config.values[name] for name in ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")}
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # cache every compile, however quick
    cache.reset_cache()
    yield {"JAX_COMPILATION_CACHE_DIR": directory, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    for name, value in saved.items():
        jax.config.update(name, value)
    cache.reset_cache()
