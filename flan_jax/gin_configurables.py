"""The one place where flan-jax's functions and classes become gin configurables.

Library code never imports gin: this module registers constructors under the t5x-style names
the gin files use (`network.T5Config`, `models.EncoderDecoderModel`, `utils.DatasetConfig`,
`partitioning.Partitioner`, `optimizers.adafactor`, `train`, ...). Entry points import it before
parsing gin files. To register something new, append a small block below.
"""
import gin
import seqio

from flan_jax.data import pipeline, vocabularies
from flan_jax.models import model as models_lib
from flan_jax.models import t5
from flan_jax.train import checkpoints, optimizers, partitioning, trainer


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

# --- Evaluation and inference (owned by the evaluation engineer): `flan-jax eval` / `infer`,
# bound in gin/runs/eval.gin and gin/runs/infer.gin.
from flan_jax.eval import evaluator as _evaluator  # noqa: E402
from flan_jax.eval import infer as _infer  # noqa: E402
from flan_jax.eval import main as _eval_main  # noqa: E402

DecodeOptions = _register(_evaluator.DecodeOptions, "DecodeOptions", "evaluation")
evaluate = _register(_eval_main.evaluate, "evaluate", None)
infer = _register(_infer.infer, "infer", None)
# --- end of the evaluation block.

# --- Mixtures (owned by the mixtures engineer). Each function re-registers its mixture with the
# bound weights and returns the name, so a gin file rebinds Flan 2022's numbers with
#   MIXTURE_OR_TASK_NAME = @mixtures.flan2022()
#   mixtures.flan2022.caps = {...}
# (see gin/mixtures/*.gin). Importing the module registers the collections that are present.
from flan_jax_tasks import mixtures as _mixtures  # noqa: E402

flan2022_mixture = _register(_mixtures.flan2022, "flan2022", "mixtures")
flan2022_proportion_b_mixture = _register(_mixtures.flan2022_proportion_b, "flan2022_proportion_b", "mixtures")
synthetic_train_mixture = _register(_mixtures.synthetic_train, "synthetic_train", "mixtures")
# --- end of the mixtures block.
