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


def byte_vocabulary(extra_ids: int = 0) -> seqio.Vocabulary:
    """UTF-8 bytes + pad/eos/unk: 259 ids, so a model needs vocab_size >= 259 (+ `extra_ids`).

    With `extra_ids` (span corruption's sentinels: BYTE_EXTRA_IDS for the byte models), a
    `SentinelByteVocabulary`.
    """
    return SentinelByteVocabulary(extra_ids) if extra_ids else seqio.ByteVocabulary()


# Span corruption (flan_jax.data.span_corruption) marks each dropped span with a sentinel counted
# down from the top of the vocabulary, as T5 does. 125 extra ids above the 259 byte ids fill the
# byte models' 384-row embedding (ByT5's size), so `<extra_id_0>` is id 383.
BYTE_EXTRA_IDS = 125


class SentinelByteVocabulary(seqio.ByteVocabulary):
    """The byte vocabulary with `extra_ids` sentinels that decode as `<extra_id_N>` (id vocab_size - 1 - N).

    The spelling is the T5 SentencePiece vocabulary's, so a pretrained model's span predictions
    read as T5's do; seqio's ByteVocabulary drops extra ids when decoding. Encoding is the byte
    vocabulary's (text never becomes a sentinel), so Python and tf.data tokenization agree.
    """

    def decode(self, ids) -> str:
        pieces, run = [], []
        for i in (int(i) for i in ids):
            if i == self.eos_id:
                break
            if i >= self._base_vocab_size:
                pieces += [super().decode(run), f"<extra_id_{self.vocab_size - 1 - i}>"]
                run = []
            else:
                run.append(i)
        return "".join(pieces) + super().decode(run)


def sentencepiece_vocabulary(path: str = T5_SPM_PATH, extra_ids: int = T5_EXTRA_IDS) -> seqio.Vocabulary:
    """The T5 SentencePiece vocabulary from `path` (a local `spiece.model` or a GCS path)."""
    if not path.startswith("gs://") and not os.path.exists(path):
        raise FileNotFoundError(
            f"SentencePiece model {path!r} does not exist: pass the `spiece.model` of a FLAN-T5 "
            "checkpoint directory, or the public path " + T5_SPM_PATH
        )
    return seqio.SentencePieceVocabulary(path, extra_ids=extra_ids)
