import seqio
import tensorflow as tf
from flan_jax.data import registry
from flan_jax.data.templates import Template, TemplateSet

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima", "Chile": "Santiago"}

def capitals(split, shuffle_files):  # any seqio.DataSource works: TFDS, files, generators, ...
    return tf.data.Dataset.from_tensor_slices({"country": list(CAPITALS), "capital": list(CAPITALS.values())})

names = registry.register_family(
    "capitals", source=seqio.FunctionDataSource(capitals, splits=["train", "validation"]),
    fields=["country", "capital", "options"], prepare=lambda ex: {**ex, "options": sorted(CAPITALS.values())},
    templates=TemplateSet([Template("What is the capital of {country}?", "{capital}"),
                           Template("{country}'s capital city is called", "{capital}")],
                          options_field="options", answer_field="capital"),
    formats=["zs_opt", "zs_noopt", "fs_noopt"], collection="my_tasks", cluster="closed_book_qa")
seqio.MixtureRegistry.add("my_mixture", [(name, 1.0) for name in names])
