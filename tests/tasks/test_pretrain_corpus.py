"""The pretraining corpus: every synthetic family stated plainly, no instruction in it, span-corrupted."""
import random
import re

import numpy as np
import seqio

from flan_jax.data import span_corruption
from flan_jax_tasks import pretrain, synthetic


def test_every_family_has_statements_and_they_state_plainly():
    assert set(pretrain.STATEMENTS) == {f.name for f in synthetic.FAMILIES}
    for family in synthetic.FAMILIES:
        source = synthetic.family_source(family)
        for i in range(10):
            fields = source.example("train", i)
            for statement in pretrain.STATEMENTS[family.name]:
                text = pretrain.render_statement(statement, fields)
                ours = text  # a field may hold a "?" of its own ("That book? terrible and poor.")
                for value in fields.values():
                    ours = ours.replace(str(value), "")
                assert "?" not in ours and "{" not in text and "OPTIONS" not in text, (family.name, text)


def test_corpus_holds_no_instruction_of_the_suite():
    # The fixed text of every template (each run between fields with 4+ words of letters: shorter
    # ones such as "/ 2 =" or "is greater than 0." are plain statements too) is instruction
    # phrasing; none of it may occur in the corpus.
    phrasings = set()
    for family in synthetic.FAMILIES:
        group = family.templates
        for template in (*group.templates, *group.cot_templates, *group.inversion_templates):
            for part in re.split(r"\{[^}]*\}", template.inputs + "\n" + template.targets):
                if sum(any(c.isalpha() for c in word) for word in part.split()) >= 4:
                    phrasings.add(part.strip())
    assert len(phrasings) > 100
    corpus = "".join(pretrain.make_document(random.Random(i))["text"] for i in range(300))
    assert len(corpus) > 50_000
    assert [p for p in phrasings if p in corpus] == []


def test_task_gives_span_corrupted_segments_that_fill_the_inputs():
    task = seqio.TaskRegistry.get(pretrain.TASK)
    vocabulary = task.output_features["targets"].vocabulary
    lengths = {"inputs": 256, "targets": 64}
    dataset = task.get_dataset(lengths, split="validation", shuffle=False, seed=0, num_epochs=1)
    _, targets_length = span_corruption.random_spans_helper(256)
    for example in dataset.take(3).as_numpy_iterator():
        inputs, targets = example["inputs"], example["targets"]
        assert len(inputs) == 256 and len(targets) == targets_length == 58
        sentinels = inputs[inputs >= 259]
        assert sentinels.tolist() == list(range(383, 383 - len(sentinels), -1))
        assert np.array_equal(targets[targets >= 259], sentinels)
        assert vocabulary.decode(targets.tolist()).startswith("<extra_id_0>")
