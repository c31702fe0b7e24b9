"""Shared fixtures. Eight host CPU devices so sharding tests run on one CPU (set before JAX loads)."""
import os
import pathlib

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """JAX's persistent compilation cache for the whole session: the many tests that build the same
    tiny train or decode step (a resume, a reference run, the CLI's subprocesses) compile it once.
    Its settings are also in os.environ, so every process a test starts shares it; the cache starts
    empty each session, so no test reads a stale program."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cache

    directory = str(tmp_path_factory.mktemp("jax_compilation_cache"))
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": directory, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"})
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # cache every compile, however quick
    cache.reset_cache()


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The public data files beside the checkout (../shared/data); skip where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: these tests read the public data files kept there")
    return SHARED_DATA


@pytest.fixture(scope="session")
def load_benchmark():
    """`load_benchmark(name)`: the script benchmarks/NAME.py as a module, loaded once a session
    (the scripts are run as files, not imported as a package, so tests load them by path)."""
    import functools
    import importlib.util

    @functools.cache
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


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


# Text the test tokenizer learns its merges from: ASCII, accents and emoji, so byte-level
# round trips cover multi-byte characters.
_TOKENIZER_CORPUS = [
    "The quick brown fox jumps over the lazy dog.", "Instruction tuning: answer the question below.",
    "Question: What is the capital of France? Answer: Paris.", "Translate to German: the cat sleeps.",
    "Café, naïve, façade, déjà vu; 東京 and Zürich.", "Numbers 0123456789 and symbols (){}[]<>!?",
    "def add(a, b):\n    return a + b\n", "Let's think step by step. 12 + 30 = 42 🙂",
] * 20


@pytest.fixture(scope="session")
def make_hf_tokenizer():
    """Writes a byte-level BPE tokenizer.json (the Llama 3 / Qwen2 kind, trained here on a few
    sentences, no download) and a tokenizer_config.json naming its special tokens into a
    directory; returns the directory. Ids 0 and 1 are the pad and eos tokens."""
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    def make(directory, vocab_size: int = 280, eos: str = "<|end|>", pad: str = "<|pad|>"):
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[pad, eos], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(_TOKENIZER_CORPUS, trainer)
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tokenizer.save(str(directory / "tokenizer.json"))
        (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": eos, "pad_token": pad}))
        return directory

    return make
