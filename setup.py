"""flan-jax: FLAN-style instruction tuning in JAX/Flax with t5x conventions."""
import setuptools

setuptools.setup(
    name="flan-jax",
    version="0.1.0",
    description="FLAN-style instruction tuning (Flan 2022 collection) for T5, Llama and Qwen2 in JAX/Flax.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # `tasks/` is installed as `flan_jax_tasks`: a bare `tasks` package would collide with
    # any other project that ships one.
    packages=setuptools.find_packages(include=["flan_jax", "flan_jax.*"])
    + ["flan_jax_tasks", "flan_jax_tasks.held_out"],
    package_dir={"flan_jax_tasks": "tasks"},
    install_requires=[
        "jax>=0.6,<0.11",
        "flax>=0.10,<0.13",
        "optax>=0.2.4,<0.3",
        "orbax-checkpoint>=0.11,<0.13",
        "seqio>=0.0.19",
        "gin-config>=0.5",
        "clu>=0.0.12",
        "tensorboard>=2.15",
        "tensorflow-cpu>=2.16",
        "tensorflow-text>=2.16",
        "tensorflow-datasets>=4.9",
        "sentencepiece>=0.2",
        "tokenizers>=0.19",  # Hugging Face tokenizer.json (Llama / Qwen2 vocabularies)
        "safetensors>=0.4",
        "numpy>=1.26",
        "tqdm>=4.66",
        "matplotlib>=3.8",  # the experiments' figures (flan-jax experiment, make demo)
    ],
    extras_require={
        "test": ["pytest>=8"],
        # The reference implementation for parity tests and peer benchmarks. torch is pinned to
        # the CPU build: an unpinned torch pulls a multi-GB CUDA build.
        "hf": ["torch==2.13.0", "transformers>=4.40", "datasets>=2.18"],
        # apache-beam needs protobuf < 7, and sentencepiece >= 0.2.2 ships code generated for
        # protobuf 7 (it refuses an older runtime), so with Beam the older sentencepiece.
        "beam": ["apache-beam[tfrecord]>=2.50", "google-crc32c", "sentencepiece>=0.2,<0.2.2"],
    },
    entry_points={"console_scripts": ["flan-jax=flan_jax.cli:main"]},
)
