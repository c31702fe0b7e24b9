"""Default vocabularies.

The byte vocabulary needs no download, so the synthetic suite, tests and `make demo` run offline.
FLAN-T5 checkpoints use the T5 SentencePiece model (32,000 pieces + 100 extra ids, padded to a
32,128-row embedding); we read it from a local file (a Hugging Face checkpoint directory ships it
as `spiece.model`) or from the public GCS path, which is not always reachable. Llama / Qwen2
checkpoints ship a Hugging Face `tokenizer.json`, read by `TokenizerVocabulary`.
"""
import hashlib
import json
import os
from typing import Optional

import numpy as np
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


# --- Hugging Face tokenizers (decoder-only models: Llama, Qwen2). `tokenizers` is the library
# that reads tokenizer.json (the Rust implementation transformers' fast tokenizers wrap), so the
# ids are the ones the checkpoint was trained on, without importing transformers or torch.
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILES = ("tokenizer_config.json", "special_tokens_map.json")


class TokenizerVocabulary(seqio.Vocabulary):
    """A Hugging Face `tokenizer.json` as a seqio vocabulary.

    Special tokens (eos, pad, unk, bos) come from the arguments, else from tokenizer_config.json
    (or special_tokens_map.json) beside the tokenizer. `encode` adds no special tokens (seqio
    appends EOS itself, per output feature); `decode` stops before the first EOS and drops
    special tokens. pad_id is the tokenizer's pad token, else seqio's 0; seqio's feature
    converters pad with 0 either way.
    """

    def __init__(self, path: str, *, eos_token: Optional[str] = None, pad_token: Optional[str] = None,
                 unk_token: Optional[str] = None, bos_token: Optional[str] = None):
        import tokenizers

        file = os.path.join(path, TOKENIZER_FILE) if os.path.isdir(path) else path
        if not os.path.exists(file):
            raise FileNotFoundError(f"tokenizer {file!r} does not exist: pass a tokenizer.json (or the directory holding it)")
        with open(file, "rb") as f:
            data = f.read()
        try:
            self._tokenizer = tokenizers.Tokenizer.from_str(data.decode("utf-8"))
        except Exception as e:  # the Rust library raises its own exception types
            raise ValueError(f"{file} is not a Hugging Face tokenizer.json: {e}") from e
        self.tokenizer_file = file
        self._digest = hashlib.sha256(data).hexdigest()
        configured = _special_tokens(os.path.dirname(file))
        explicit = {"eos": eos_token, "pad": pad_token, "unk": unk_token, "bos": bos_token}
        self._special_ids = {}
        for kind, token in explicit.items():
            token = token if token is not None else configured.get(kind)
            self._special_ids[kind] = None if token is None else self._token_id(token, kind)
        self._size = max(self._tokenizer.get_vocab(with_added_tokens=True).values()) + 1
        super().__init__(extra_ids=0)

    def _token_id(self, token: str, kind: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"{self.tokenizer_file}: its {kind} token {token!r} is not in the vocabulary")
        return token_id

    @property
    def eos_id(self) -> Optional[int]:
        return self._special_ids["eos"]

    @property
    def pad_id(self) -> int:
        pad = self._special_ids["pad"]
        return seqio.PAD_ID if pad is None else pad

    @property
    def unk_id(self) -> Optional[int]:
        return self._special_ids["unk"]

    @property
    def bos_id(self) -> Optional[int]:
        return self._special_ids["bos"]

    @property
    def _base_vocab_size(self) -> int:
        """The largest id + 1, added tokens included (ids need not be contiguous)."""
        return self._size

    def _encode(self, s: str) -> list[int]:
        return self._tokenizer.encode(s, add_special_tokens=False).ids

    def _decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.eos_id is not None and self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _encode_tf(self, s):
        import tensorflow as tf

        if s.shape.rank != 0:
            raise ValueError(f"TokenizerVocabulary.encode_tf takes one string (a scalar), got shape {s.shape}")
        ids = tf.py_function(lambda text: np.asarray(self._encode(text.numpy().decode("utf-8")), np.int32), [s], tf.int32)
        ids.set_shape([None])
        return ids

    def _decode_tf(self, ids):
        import tensorflow as tf

        def decode(array):
            array = array.numpy()
            if array.ndim == 1:
                return np.asarray(self._decode(array).encode("utf-8"), dtype=object)
            return np.asarray([self._decode(row).encode("utf-8") for row in array.reshape(-1, array.shape[-1])],
                              dtype=object).reshape(array.shape[:-1])

        text = tf.py_function(decode, [ids], tf.string)
        text.set_shape(ids.shape[:-1])
        return text

    def __eq__(self, other) -> bool:
        return (isinstance(other, TokenizerVocabulary) and self._digest == other._digest
                and self._special_ids == other._special_ids)

    def __hash__(self) -> int:
        return hash((self._digest, tuple(sorted(self._special_ids.items()))))

    def __str__(self) -> str:
        return f"TokenizerVocabulary({self.tokenizer_file}, vocab_size={self.vocab_size}, eos_id={self.eos_id})"


def _special_tokens(directory: str) -> dict[str, str]:
    """{"eos": "<|end_of_text|>", ...} from tokenizer_config.json, else special_tokens_map.json."""
    for name in TOKENIZER_CONFIG_FILES:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            try:
                config = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path} is not valid JSON: {e}") from e
        tokens = {}
        for kind in ("eos", "pad", "unk", "bos"):
            token = config.get(f"{kind}_token")
            if isinstance(token, dict):  # an AddedToken written out
                token = token.get("content")
            if token is not None:
                tokens[kind] = token
        return tokens
    return {}


def hf_tokenizer_vocabulary(path: str, eos_token: Optional[str] = None, pad_token: Optional[str] = None,
                            unk_token: Optional[str] = None, bos_token: Optional[str] = None) -> seqio.Vocabulary:
    """The Hugging Face tokenizer at `path` (a tokenizer.json or its checkpoint directory)."""
    return TokenizerVocabulary(path, eos_token=eos_token, pad_token=pad_token, unk_token=unk_token, bos_token=bos_token)
