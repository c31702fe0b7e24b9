"""`flan-jax experiment` (flan_jax/experiments): a 2-cell task-scaling grid end to end (pretrain,
tune, score by exact match and rank classification, CSV, figure, resume, an older cell completed
without training) on a one-layer model, and the train / held-out contamination check."""
import csv
import json

import pytest

from flan_jax.experiments import grid
from flan_jax.experiments import main as experiment_main

# A one-layer model for seconds-long runs; the pretraining and the cells must share it.
MODEL = ["network.T5Config.num_encoder_layers = 1", "network.T5Config.num_decoder_layers = 1",
         "network.T5Config.emb_dim = 16", "network.T5Config.mlp_dim = 32"]
PRETRAIN = [*MODEL, "TRAIN_STEPS = 2", "BATCH_SIZE = 8", 'TASK_FEATURE_LENGTHS = {"inputs": 32, "targets": 8}',
            "CHECKPOINT_PERIOD = 2", "train.eval_dataset = None"]


def register_synthetic() -> None:
    """The synthetic suite and the pretraining corpus in seqio's registries (clean_registries empties
    them; a module's first import fills them, a later one does nothing)."""
    import seqio

    from flan_jax_tasks import pretrain, synthetic

    if synthetic.TASKS[0] not in seqio.TaskRegistry.names():
        synthetic.register()
    if pretrain.TASK not in seqio.TaskRegistry.names():
        pretrain.register()


def experiment_argv(tmp_path) -> list[str]:
    bindings = [*MODEL, "TRAIN_STEPS = 2", "BATCH_SIZE = 8", 'TASK_FEATURE_LENGTHS = {"inputs": 64, "targets": 8}',
                "EVAL_MAX_EXAMPLES = 2", f"EXPERIMENT_DIR = '{tmp_path / 'grid'}'",
                "experiments.task_scaling.ks = [0, 1]", "experiments.task_scaling.seeds = [0]",
                "experiments.task_scaling.held_out_clusters = ['reading']",
                f"experiments.ExperimentConfig.pretrain_bindings = {[*PRETRAIN, f'PRETRAIN_CACHE_DIR = {str(tmp_path)!r}']!r}"]
    return ["task-scaling", "--gin_file=experiments/task_scaling_quick.gin", "--no_progress",
            *(f"--gin_bindings={b}" for b in bindings)]


def test_two_cell_grid_end_to_end_then_resume_skips_finished_cells_and_completes_older_ones(
        tmp_path, fresh_gin, clean_registries, monkeypatch, capsys):
    import matplotlib.image

    register_synthetic()

    assert experiment_main.main(experiment_argv(tmp_path)) == 0
    out_dir = tmp_path / "grid"
    with open(out_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    metrics = ["exact_match", "exact_match_options", "rank_classification"]
    assert [(r["cell"], r["metric"]) for r in rows] == [(c, m) for c in ("k0", "k1_seed0") for m in metrics]
    assert rows[0]["num_families"] == "0" and rows[0]["train_steps"] == "0"
    assert rows[3]["num_families"] == "1" and rows[3]["train_steps"] == "2" and rows[3]["families"]
    # The reading cluster: 3 families zero-shot, the one with options (owner_of) also shown them and ranked.
    assert [r["num_tasks"] for r in rows] == ["3", "1", "1"] * 2
    assert all(0.0 <= float(r["score"]) <= 100.0 for r in rows)
    ranked = json.loads(next((out_dir / "k1_seed0" / "eval" / "rank_classification").glob("*/results.json")).read_text())
    assert [t["rank_classification"] for t in ranked["tasks"].values()] == [True]  # options scored, not decoded
    # An ordinary MODEL_DIR, trained to the pretrained step (2) + TRAIN_STEPS (2), as t5x counts steps.
    assert (out_dir / "k1_seed0" / "checkpoints" / "4").is_dir()
    image = matplotlib.image.imread(out_dir / "task_scaling.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0
    summary = (out_dir / "summary.md").read_text()
    assert "| 0 | 0 | 1 |" in summary and "| 1 | 1 | 1 |" in summary and "`rank_classification`: the option" in summary
    capsys.readouterr()

    # k1 as a cell scored before rank classification was added: its scores.json lacks it.
    scores_path = out_dir / "k1_seed0" / grid.SCORES_FILE
    record = json.loads(scores_path.read_text())
    del record["scores"]["rank_classification"]
    record["rows"] = [r for r in record["rows"] if r["metric"] != "rank_classification"]
    scores_path.write_text(json.dumps(record))

    def must_not_train(flags):
        raise AssertionError("a finished cell was trained again")

    from flan_jax.train import main as train_main

    monkeypatch.setattr(train_main, "run", must_not_train)
    (out_dir / "results.csv").unlink()
    assert experiment_main.main(experiment_argv(tmp_path)) == 0
    out = capsys.readouterr().out
    assert out.count("finished, skipped") == 1  # k0
    assert "k1_seed0: scored before, evaluating rank_classification from its checkpoint (no training)" in out
    with open(out_dir / "results.csv", newline="") as f:
        again = list(csv.DictReader(f))
    key = ("cell", "metric", "score", "num_tasks", "train_steps")
    assert [[r[k] for k in key] for r in again] == [[r[k] for k in key] for r in rows]
    assert "rank_classification" in json.loads(scores_path.read_text())["scores"]


def test_contamination_check_passes_disjoint_clusters_and_names_a_planted_overlap(clean_registries):
    from flan_jax_tasks import experiments, synthetic

    register_synthetic()

    design = experiments.task_scaling(ks=[2], seeds=[0], held_out_clusters=["logic", "sequences"])
    report = grid.check_contamination(design, n=8, train_examples=200)
    assert report["contaminated_examples"] == 0 and report["eval_examples"] == len(design.held_out_tasks) * 500
    assert len(design.held_out_tasks) == 9 + 5  # every family zero-shot; the 5 logic ones with options too
    # Ranked: the zs_noopt tasks of the families with options (all of logic, none of sequences).
    ranked = [e for e in design.evaluations if e.rank_classification]
    assert [e.metric for e in ranked] == ["rank_classification"]
    assert ranked[0].tasks == tuple(synthetic.tasks_of(synthetic.CLUSTERS["logic"], ["zs_noopt"])) and len(ranked[0].tasks) == 5
    assert not any(e.rank_classification for e in experiments.demo().evaluations)
    assert not {t for c in design.cells for t in c.train_tasks} & set(design.held_out_tasks)

    # Planted: a training cell on a held-out family whose train and validation sides are independent
    # draws from a small space (word_category: 38 words x 5 templates) shares examples with it.
    planted = grid.Design("task_scaling", (experiments.cell("planted", 1, 0, ["word_category"], ["zs_noopt"]),),
                          (grid.Evaluation("exact_match", ("synthetic_word_category_zs_noopt",)),))
    with pytest.raises(ValueError, match="synthetic_word_category_zs_noopt -> synthetic_word_category_zs_noopt"):
        grid.check_contamination(planted, n=4, train_examples=200)
    reported = grid.check_contamination(planted, n=4, train_examples=200, stop=False)
    assert reported["contaminated_examples"] > 0
    assert [p["eval_task"] for p in reported["contaminated_pairs"]] == ["synthetic_word_category_zs_noopt"]
