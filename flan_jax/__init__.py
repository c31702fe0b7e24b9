"""flan-jax: FLAN-style instruction tuning in JAX/Flax (Chung et al. 2022; Longpre et al. 2023).

Submodules are imported explicitly (`flan_jax.models.t5`, `flan_jax.train.trainer`, ...): this
package imports nothing at load time so `flan-jax tasks list` does not pay for JAX compilation
setup it never uses.
"""
