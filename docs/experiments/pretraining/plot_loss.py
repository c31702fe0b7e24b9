"""Plot the span-corruption loss of pretraining runs from their TensorBoard summaries.

    python docs/experiments/pretraining/plot_loss.py RUN_DIR [RUN_DIR ...] --output loss.png

Each RUN_DIR is a MODEL_DIR of `flan-jax pretrain` (or `flan-jax train --gin_file=runs/pretrain.gin`);
its label is the directory name. Train loss per target token is drawn thin, the validation loss
(`eval/loss_per_token`, every EVAL_PERIOD steps) thick. Needs matplotlib (`pip install matplotlib`).
"""
import argparse
import collections
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import tensorflow as tf  # noqa: E402


def scalars(run_dir: pathlib.Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of every event file in the run directory, sorted by step."""
    out = collections.defaultdict(dict)
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: sorted(points.items()) for tag, points in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=pathlib.Path)
    parser.add_argument("--output", type=pathlib.Path, required=True)
    args = parser.parse_args()
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for color, run in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], args.runs):
        series = scalars(run)
        for tag, width, label in (("train/loss_per_token", 0.8, "train"), ("eval/loss_per_token", 2.2, "validation")):
            if tag in series:
                steps, values = zip(*series[tag])
                axis.plot(steps, values, color=color, linewidth=width, label=f"{run.name} {label}")
    axis.set_xlabel("step")
    axis.set_ylabel("span-corruption loss per target token (nats)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.output, dpi=120)
    print(args.output)


if __name__ == "__main__":
    main()
