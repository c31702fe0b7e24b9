"""Default vocabularies.

The byte vocabulary needs no download, so the synthetic suite, tests and `make demo` run offline.
FLAN-T5 checkpoints use the T5 SentencePiece model (32,000 pieces + 100 extra ids, padded to a
32,128-row embedding); we read it from a local file (a Hugging Face checkpoint directory ships it
as `spiece.model`) or from the public GCS path, which is not always reachable.
"""
import os

import seqio

# The public T5 / FLAN-T5 SentencePiece model (t5x's `t5.data.DEFAULT_SPM_PATH`).
T5_SPM_PATH = "gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model"
T5_EXTRA_IDS = 100


def byte_vocabulary() -> seqio.Vocabulary:
    """UTF-8 bytes + pad/eos/unk: 259 ids, so a model needs vocab_size >= 259."""
    return seqio.ByteVocabulary()


def sentencepiece_vocabulary(path: str = T5_SPM_PATH, extra_ids: int = T5_EXTRA_IDS) -> seqio.Vocabulary:
    """The T5 SentencePiece vocabulary from `path` (a local `spiece.model` or a GCS path)."""
    if not path.startswith("gs://") and not os.path.exists(path):
        raise FileNotFoundError(
            f"SentencePiece model {path!r} does not exist: pass the `spiece.model` of a FLAN-T5 "
            "checkpoint directory, or the public path " + T5_SPM_PATH
        )
    return seqio.SentencePieceVocabulary(path, extra_ids=extra_ids)
