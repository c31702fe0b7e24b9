"""Adafactor matches t5x's update rule, schedules match t5x's factors, micro-batching is exact."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from flan_jax.train import optimizers


def _reference_adafactor_step(param, grad, v_row, v_col, v, step, lr, factored):
    """One t5x Adafactor step (decay 0.8, clip 1.0, parameter scale, no momentum) in numpy."""
    decay = 1.0 - (step + 1.0) ** -0.8
    grad_sqr = grad**2 + 1e-30
    if factored:
        # optax/t5x factor the two largest dims; for a [rows, cols] matrix with rows > cols the
        # row statistic averages over the largest dimension.
        v_row = decay * v_row + (1 - decay) * grad_sqr.mean(axis=0)
        v_col = decay * v_col + (1 - decay) * grad_sqr.mean(axis=1)
        row_factor = (v_row / v_row.mean()) ** -0.5
        col_factor = v_col**-0.5
        update = grad * row_factor[None, :] * col_factor[:, None]
    else:
        v = decay * v + (1 - decay) * grad_sqr
        update = grad * v**-0.5
    update = update / max(1.0, np.sqrt(np.mean(update**2)))
    update = lr * max(np.sqrt(np.mean(param**2)), 1e-3) * update
    return param - update, v_row, v_col, v


def test_adafactor_matches_t5x_rule_for_factored_and_unfactored_params():
    rng = np.random.default_rng(0)
    params = {
        "matrix": rng.normal(size=(256, 128)).astype(np.float32),  # both dims >= 128: factored
        "small": rng.normal(size=(64, 8)).astype(np.float32),  # too small to factor
        "scale": np.full((16,), 1e-5, np.float32),  # rms below 1e-3: the update uses 1e-3
    }
    lr = 0.01
    tx = optimizers.adafactor(optimizers.constant_schedule(lr))
    state = tx.init(jax.tree.map(jnp.asarray, params))
    factored_state = state[0]
    assert factored_state.v_row["matrix"].shape == (128,)
    assert factored_state.v_col["matrix"].shape == (256,)
    assert factored_state.v["small"].shape == (64, 8)
    assert factored_state.v["matrix"].shape == (1,)

    reference = {
        name: (p, np.zeros(p.shape[1:]), np.zeros(p.shape[:1]), np.zeros_like(p)) for name, p in params.items()
    }
    current = jax.tree.map(jnp.asarray, params)
    for step in range(3):
        grads = {name: rng.normal(size=p.shape).astype(np.float32) for name, p in params.items()}
        updates, state = tx.update(jax.tree.map(jnp.asarray, grads), state, current)
        current = optax.apply_updates(current, updates)
        for name in params:
            p, vr, vc, v = reference[name]
            reference[name] = _reference_adafactor_step(p, grads[name], vr, vc, v, step, lr, name == "matrix")
            np.testing.assert_allclose(current[name], reference[name][0], rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize(
    "config",
    [
        optimizers.AdafactorConfig(),
        optimizers.AdafactorConfig(clipping_threshold=None, multiply_by_parameter_scale=False),
        optimizers.AdafactorConfig(momentum=0.9, factored=False),
    ],
    ids=["t5x", "no-clipping-no-param-scale", "momentum-unfactored"],
)
def test_adafactor_equals_optax_adafactor(config):
    """Our transforms (rewritten for XLA:CPU) give optax.adafactor's updates and state, step after step."""
    rng = np.random.default_rng(2)
    params = {
        "wide": rng.normal(size=(128, 384)),  # its column statistic is a mean over the leading axis
        "tall": rng.normal(size=(384, 128)),
        "stacked": rng.normal(size=(130, 3, 200)) * 1e-4,  # 3-D, factored over axes 0 and 2; rms < 1e-3
        "square": rng.normal(size=(128, 128)),  # tied sizes: optax's choice of axes
        "small": rng.normal(size=(64, 8)),  # too small to factor
        "scale": rng.normal(size=(16,)),
    }
    params = jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params)
    schedule = optimizers.rsqrt_schedule(0.1, warmup_steps=2)
    reference = optax.adafactor(
        schedule, min_dim_size_to_factor=config.min_dim_size_to_factor, decay_rate=config.decay_rate,
        multiply_by_parameter_scale=config.multiply_by_parameter_scale, clipping_threshold=config.clipping_threshold,
        momentum=config.momentum, eps=config.epsilon, factored=config.factored,
    )
    ours = optimizers.adafactor(schedule, config)
    ours_state, reference_state = ours.init(params), reference.init(params)
    assert jax.tree.structure(ours_state) == jax.tree.structure(reference_state)
    step = jax.jit(lambda tx, grads, state, p: tx.update(grads, state, p), static_argnums=0)
    ours_params = reference_params = params
    for _ in range(4):
        grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
        ours_updates, ours_state = step(ours, grads, ours_state, ours_params)
        reference_updates, reference_state = step(reference, grads, reference_state, reference_params)
        ours_params = optax.apply_updates(ours_params, ours_updates)
        reference_params = optax.apply_updates(reference_params, reference_updates)
        # float32 tolerance on each array's scale (sums taken in another order differ in the last bits).
        close = lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * float(np.max(np.abs(b))))  # noqa: E731
        jax.tree.map(close, (ours_updates, ours_state, ours_params), (reference_updates, reference_state, reference_params))


def test_adafactor_config_defaults_are_t5x_defaults():
    config = optimizers.AdafactorConfig()
    assert (config.decay_rate, config.clipping_threshold, config.momentum) == (0.8, 1.0, None)
    assert (config.min_dim_size_to_factor, config.epsilon) == (128, 1e-30)
    assert config.multiply_by_parameter_scale and config.factored


def test_constant_schedule():
    schedule = optimizers.constant_schedule(5e-4)
    assert [float(schedule(s)) for s in (0, 10, 10**6)] == pytest.approx([5e-4] * 3)


def test_rsqrt_schedule_is_flat_during_warmup_then_decays():
    schedule = optimizers.rsqrt_schedule(1.0, warmup_steps=100)
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(100)) == pytest.approx(0.1)
    assert float(schedule(400)) == pytest.approx(0.05)
    assert float(jax.jit(schedule)(jnp.asarray(10_000))) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="warmup_steps"):
        optimizers.rsqrt_schedule(1.0, warmup_steps=0)


def _linear_loss(normalizing_factor):
    """A linear model with the model contract: loss = summed error / normaliser, aux = raw sums."""

    def loss_fn(params, batch, dropout_rng):
        del dropout_rng
        prediction = batch["x"] @ params["w"] + params["b"]
        errors = ((prediction - batch["y"]) ** 2).sum(-1) * batch["weights"]
        aux = {
            "cross_entropy_sum": errors.sum(),
            "z_loss_sum": 0.1 * errors.sum(),
            "correct_tokens": (errors < 1.0).sum().astype(jnp.float32),
            "weight_sum": batch["weights"].sum(),
        }
        if normalizing_factor is None:
            normaliser = jnp.maximum(aux["weight_sum"], 1.0)
        else:
            normaliser = normalizing_factor
        return (aux["cross_entropy_sum"] + aux["z_loss_sum"]) / normaliser, aux

    return loss_fn


@pytest.mark.parametrize("normalizing_factor", [None, 100.0])
def test_gradient_accumulation_equals_the_unsplit_batch(normalizing_factor):
    rng = np.random.default_rng(1)
    params = {"w": jnp.asarray(rng.normal(size=(5, 3)), jnp.float32), "b": jnp.zeros((3,), jnp.float32)}
    # Uneven weights per micro-batch: averaging micro-batch means would be wrong here.
    batch = {
        "x": jnp.asarray(rng.normal(size=(8, 5)), jnp.float32),
        "y": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
        "weights": jnp.asarray([1, 1, 1, 1, 1, 0, 1, 0], jnp.float32),
    }
    loss_fn = _linear_loss(normalizing_factor)
    loss, grads, aux = optimizers.accumulate_gradients(loss_fn, params, batch, None, 1, normalizing_factor)
    for n in (2, 4, 8):
        loss_n, grads_n, aux_n = jax.jit(
            lambda p, b, n=n: optimizers.accumulate_gradients(loss_fn, p, b, None, n, normalizing_factor)
        )(params, batch)
        np.testing.assert_allclose(loss_n, loss, rtol=1e-6)
        for key in aux:
            np.testing.assert_allclose(aux_n[key], aux[key], rtol=1e-6)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), grads_n, grads)


def test_microbatches_take_strided_rows_and_reject_uneven_splits():
    batch = {"x": jnp.arange(6)}
    np.testing.assert_array_equal(optimizers.split_microbatches(batch, 3)["x"], [[0, 3], [1, 4], [2, 5]])
    with pytest.raises(ValueError, match="NUM_MICROBATCHES=4"):
        optimizers.split_microbatches(batch, 4)
