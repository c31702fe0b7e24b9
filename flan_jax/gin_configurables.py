"""The one place where flan-jax's functions and classes become gin configurables.

Library code never imports gin: this module registers constructors under the t5x-style names
the gin files use (`network.T5Config`, `models.EncoderDecoderModel`, `utils.DatasetConfig`,
`partitioning.Partitioner`, `optimizers.adafactor`, `train`, `evaluate`, ...). Entry points import
it before parsing gin files; it imports library modules only (never a command-line module or the
task collection: the collection's mixture functions are registered by
`flan_jax_tasks.gin_configurables`, which the mixture gin files import). To register something
new, append a small block below.
"""
import gin
import seqio

from flan_jax.data import pipeline, vocabularies
from flan_jax.eval import evaluator, jobs
from flan_jax.experiments import grid
from flan_jax.models import decoder as decoder_lib
from flan_jax.models import model as models_lib
from flan_jax.models import t5
from flan_jax.train import checkpoints, optimizers, partitioning, trainer
from flan_jax.train import plan as memory_plan


def _register(fn_or_cls, name: str, module: str | None):
    return gin.external_configurable(fn_or_cls, name=name, module=module)


# Model: the network, its config and the loss/decoding wrapper (t5x model gin files' names).
T5Config = _register(t5.T5Config, "T5Config", "network")
Transformer = _register(t5.Transformer, "Transformer", "network")
EncoderDecoderModel = _register(models_lib.EncoderDecoderModel, "EncoderDecoderModel", "models")

# Vocabularies.
byte_vocabulary = _register(vocabularies.byte_vocabulary, "byte_vocabulary", "vocabularies")
sentencepiece_vocabulary = _register(vocabularies.sentencepiece_vocabulary, "sentencepiece_vocabulary", "vocabularies")
_register(seqio.EncDecFeatureConverter, "EncDecFeatureConverter", "seqio")

# Decoder-only models (Llama / Qwen2, gin/models/decoder/*.gin), under t5x's names.
DecoderConfig = _register(decoder_lib.DecoderConfig, "DecoderConfig", "network")
Llama3RopeScaling = _register(decoder_lib.Llama3RopeScaling, "Llama3RopeScaling", "network")
Decoder = _register(decoder_lib.Decoder, "Decoder", "network")
DecoderOnlyModel = _register(models_lib.DecoderOnlyModel, "DecoderOnlyModel", "models")
hf_tokenizer_vocabulary = _register(vocabularies.hf_tokenizer_vocabulary, "hf_tokenizer_vocabulary", "vocabularies")
_register(seqio.PrefixLMFeatureConverter, "PrefixLMFeatureConverter", "seqio")

# Data and checkpoint option groups (t5x keeps both in `utils`).
DatasetConfig = _register(pipeline.DatasetConfig, "DatasetConfig", "utils")
CheckpointConfig = _register(checkpoints.CheckpointConfig, "CheckpointConfig", "utils")

# Partitioning.
Partitioner = _register(partitioning.Partitioner, "Partitioner", "partitioning")
standard_logical_axis_rules = _register(partitioning.standard_logical_axis_rules, "standard_logical_axis_rules", "partitioning")

# Optimizer and learning-rate schedules.
adafactor = _register(optimizers.adafactor, "adafactor", "optimizers")
AdafactorConfig = _register(optimizers.AdafactorConfig, "AdafactorConfig", "optimizers")
constant_schedule = _register(optimizers.constant_schedule, "constant_schedule", "optimizers")
rsqrt_schedule = _register(optimizers.rsqrt_schedule, "rsqrt_schedule", "optimizers")

# The training entry point (t5x's `train`); its collaborators are bound in gin/runs/*.gin.
train = _register(trainer.train, "train", None)

# Evaluation and inference: `flan-jax eval` / `infer`, bound in gin/runs/eval.gin and infer.gin.
DecodeOptions = _register(evaluator.DecodeOptions, "DecodeOptions", "evaluation")
evaluate = _register(jobs.evaluate, "evaluate", None)
infer = _register(jobs.infer, "infer", None)
# Held-out evaluation during training (t5x's infer_eval): `train.infer_eval`, bound in gin/runs/infer_eval.gin.
InferEval = _register(jobs.InferEval, "InferEval", "evaluation")

# Experiments: `flan-jax experiment`'s settings (the designs are the collection's, flan_jax_tasks.gin_configurables).
ExperimentConfig = _register(grid.ExperimentConfig, "ExperimentConfig", "experiments")

# Memory plans (`flan-jax plan`): the train step's collaborators, bound in gin/runs/plan.gin as for `train`.
plan = _register(memory_plan.plan_train_step, "plan", None)
