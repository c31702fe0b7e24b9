"""The collection's gin configurables: the mixture functions, so gin files rebind their numbers.

Each function re-registers its mixture with the bound weights and returns the name:

    import flan_jax_tasks.gin_configurables
    MIXTURE_OR_TASK_NAME = @mixtures.flan2022()
    mixtures.flan2022.caps = {...}

The mixture gin files (gin/mixtures/*.gin) import this module, as t5x gin files import the
modules that register their tasks; nothing in the library imports it.
"""
import gin

from flan_jax_tasks import experiments, mixtures

flan2022 = gin.external_configurable(mixtures.flan2022, name="flan2022", module="mixtures")
flan2022_proportion_b = gin.external_configurable(mixtures.flan2022_proportion_b, name="flan2022_proportion_b",
                                                  module="mixtures")
synthetic_train = gin.external_configurable(mixtures.synthetic_train, name="synthetic_train", module="mixtures")
# The experiments' designs (`flan-jax experiment`, gin/experiments/*.gin).
task_scaling = gin.external_configurable(experiments.task_scaling, name="task_scaling", module="experiments")
cot = gin.external_configurable(experiments.cot, name="cot", module="experiments")
demo = gin.external_configurable(experiments.demo, name="demo", module="experiments")
