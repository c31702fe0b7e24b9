"""Model features from token rows: the one place batches for a model are built.

The training pipeline (rows packed with several drawn examples) and the evaluator (one example
per row) both call the builder of the model's feature layout, so a model sees the same features
in training and evaluation. The layouts are t5x's, as seqio's feature converters emit them (a
test checks equality with the converter), built in numpy: the hierarchical pipeline packs in
Python and must not enter tf.data per batch.

A layout is chosen by the model's `FEATURE_CONVERTER_CLS`:

  seqio.EncDecFeatureConverter    ENCODER_DECODER: encoder_input_tokens, decoder_input_tokens,
                                  decoder_target_tokens, decoder_loss_weights (+ segment ids and
                                  positions of both stacks when packed); a row holds inputs and
                                  targets lengths separately.
  seqio.PrefixLMFeatureConverter  PREFIX_LM (decoder-only, t5x's prefix LM): inputs then targets
                                  in one sequence, loss on the targets only,
                                  decoder_causal_attention over the inputs and one more position
                                  (+ segment ids and positions when packed); a row holds their
                                  summed length.
"""
import dataclasses
from typing import Callable, Mapping, Sequence

import numpy as np
import seqio

Example = tuple[Sequence[int], Sequence[int]]  # (inputs, targets) token ids, EOS included
Features = dict[str, np.ndarray]
# rows (the examples packed into each row), batch size, {"inputs": n, "targets": m}, pack -> features
Builder = Callable[[Sequence[Sequence[Example]], int, Mapping[str, int], bool], Features]


def encoder_decoder(rows: Sequence[Sequence[Example]], batch_size: int, lengths: Mapping[str, int],
                    pack: bool) -> Features:
    """The features `seqio.EncDecFeatureConverter(pack=pack)` emits for these rows (int32).

    Args:
      rows: per row, the examples it holds (one when unpacked), each fitting the row's room.
      batch_size: rows of the batch; rows beyond `len(rows)` are all padding.
      lengths: {"inputs": encoder length, "targets": decoder length}.
      pack: emit segment ids and positions (several examples share a row, never attending
        across segments).

    Returns:
      int32 arrays [batch_size, length]; decoder inputs are the targets shifted right with BOS 0.
    """
    enc_shape, dec_shape = (batch_size, lengths["inputs"]), (batch_size, lengths["targets"])
    out = {
        "encoder_input_tokens": np.zeros(enc_shape, np.int32),
        "decoder_target_tokens": np.zeros(dec_shape, np.int32),
        "decoder_input_tokens": np.zeros(dec_shape, np.int32),
    }
    if pack:
        for key, shape in [("encoder_segment_ids", enc_shape), ("encoder_positions", enc_shape),
                           ("decoder_segment_ids", dec_shape), ("decoder_positions", dec_shape)]:
            out[key] = np.zeros(shape, np.int32)
    dec_len = dec_shape[1]
    for r, row in enumerate(rows):
        e = d = 0
        for segment, (inputs, targets) in enumerate(row, start=1):
            li, lt = len(inputs), len(targets)
            out["encoder_input_tokens"][r, e:e + li] = inputs
            out["decoder_target_tokens"][r, d:d + lt] = targets
            # Shifted right, BOS (0) first. Like seqio, an unpacked row shifts the whole padded
            # row (its EOS lands on the first padding position); a packed row shifts within the
            # segment.
            shifted = targets if not pack else targets[:-1]
            out["decoder_input_tokens"][r, d + 1:d + 1 + len(shifted)] = shifted[:dec_len - d - 1]
            if pack:
                out["encoder_segment_ids"][r, e:e + li] = segment
                out["encoder_positions"][r, e:e + li] = np.arange(li)
                out["decoder_segment_ids"][r, d:d + lt] = segment
                out["decoder_positions"][r, d:d + lt] = np.arange(lt)
            e, d = e + li, d + lt
    out["decoder_loss_weights"] = (out["decoder_target_tokens"] != 0).astype(np.int32)
    return out


def prefix_lm(rows: Sequence[Sequence[Example]], batch_size: int, lengths: Mapping[str, int],
              pack: bool) -> Features:
    """The features `seqio.PrefixLMFeatureConverter(pack=pack)` emits for these rows (int32).

    Each example is its inputs then its targets in one decoder sequence of length
    inputs + targets; the loss weights cover the targets only, and `decoder_causal_attention`
    marks the inputs plus one position (where the last input token is read and the first target
    predicted), over which a prefix LM attends bidirectionally.

    Args:
      rows, batch_size, pack: as in `encoder_decoder`.
      lengths: {"inputs": n, "targets": m}: rows are n + m long.
    """
    length = lengths["inputs"] + lengths["targets"]
    shape = (batch_size, length)
    keys = ["decoder_target_tokens", "decoder_input_tokens", "decoder_loss_weights", "decoder_causal_attention"]
    keys += ["decoder_segment_ids", "decoder_positions"] if pack else []
    out = {key: np.zeros(shape, np.int32) for key in keys}
    for r, row in enumerate(rows):
        d = 0
        for segment, (inputs, targets) in enumerate(row, start=1):
            tokens = np.concatenate([np.asarray(inputs), np.asarray(targets)]).astype(np.int32)
            n, li = len(tokens), len(inputs)
            out["decoder_target_tokens"][r, d:d + n] = tokens
            # Shifted right as in `encoder_decoder`: a packed row within the segment.
            shifted = tokens if not pack else tokens[:-1]
            out["decoder_input_tokens"][r, d + 1:d + 1 + len(shifted)] = shifted[:length - d - 1]
            out["decoder_loss_weights"][r, d + li:d + n] = tokens[li:] != 0
            out["decoder_causal_attention"][r, d:d + min(li + 1, n)] = 1
            if pack:
                out["decoder_segment_ids"][r, d:d + n] = segment
                out["decoder_positions"][r, d:d + n] = np.arange(n)
            d += n
    return out


@dataclasses.dataclass(frozen=True)
class Layout:
    """A model's batch layout: its builder, and how much of a row an example takes.

    Attributes:
      build: rows -> features.
      need: an example -> the room it takes in a row, per packed dimension.
      room: task feature lengths -> a row's room, per packed dimension.
    """

    build: Builder
    need: Callable[[Example], tuple[int, ...]]
    room: Callable[[Mapping[str, int]], tuple[int, ...]]


ENCODER_DECODER = Layout(encoder_decoder, need=lambda ex: (len(ex[0]), len(ex[1])),
                         room=lambda lengths: (lengths["inputs"], lengths["targets"]))
PREFIX_LM = Layout(prefix_lm, need=lambda ex: (len(ex[0]) + len(ex[1]),),
                   room=lambda lengths: (lengths["inputs"] + lengths["targets"],))

# Feature converter class -> its layout built in numpy.
LAYOUTS: dict[type, Layout] = {seqio.EncDecFeatureConverter: ENCODER_DECODER, seqio.PrefixLMFeatureConverter: PREFIX_LM}


def layout_for(converter: seqio.FeatureConverter | type) -> Layout | None:
    """The numpy layout of a converter (a class, or an instance that adds nothing the layout
    lacks: BOS 0, no passthrough features, a prefix LM's loss on targets only); None where only
    seqio's converter will do."""
    if isinstance(converter, type):
        return LAYOUTS.get(converter)
    plain = converter.bos_id == 0 and not converter._passthrough_features  # pylint: disable=protected-access
    if isinstance(converter, seqio.PrefixLMFeatureConverter) and not converter.loss_on_targets_only:
        plain = False
    return LAYOUTS.get(type(converter)) if plain else None


def model_input_shapes(converter_cls: type, task_feature_lengths: Mapping[str, int], pack: bool) -> dict[str, tuple[int, int]]:
    """Shapes of the model features for initialisation (batch 1: parameters do not depend on it)."""
    lengths = converter_cls(pack=pack).get_model_feature_lengths(dict(task_feature_lengths))
    return {name: (1, length) for name, length in lengths.items()}


def check_lengths(converter_cls: type, task_feature_lengths: Mapping[str, int],
                  binding: str = "TASK_FEATURE_LENGTHS") -> None:
    """Refuses lengths the model's features cannot be built from, before anything is built.

    Every feature the converter reads (`TASK_FEATURES`: inputs and targets for encoder-decoder
    models) needs a whole number of tokens >= 1: a zero length packs nothing into a row (the
    pipeline would wait forever for an example that fits) and trains on nothing.

    Raises:
      ValueError: naming `binding`, the feature at fault and a value that works.
    """
    required = list(getattr(converter_cls, "TASK_FEATURES", {}) or {})
    if not isinstance(task_feature_lengths, Mapping):
        raise ValueError(f"{binding} must be a dict of feature lengths, e.g. "
                         f"{dict.fromkeys(required, 512)}; got {task_feature_lengths!r}.")

    def whole(value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1

    problems = [f"{key!r} is missing" if key not in task_feature_lengths else
                f"{key!r} is {task_feature_lengths[key]!r}, not a number of tokens >= 1"
                for key in required if not whole(task_feature_lengths.get(key))]
    if problems:
        # A value that works: the user's good lengths, FLAN-T5-like ones for the rest.
        example = {k: task_feature_lengths[k] if whole(task_feature_lengths.get(k)) else {"inputs": 512}.get(k, 128)
                   for k in required}
        flag = "{" + ", ".join(f'"{k}": {v}' for k, v in example.items()) + "}"
        raise ValueError(
            f"{binding} = {dict(task_feature_lengths)!r}: {'; '.join(problems)} ({converter_cls.__name__} builds the "
            f"model's features from {', '.join(repr(k) for k in required)}). Set e.g. --gin.{binding}='{flag}'."
        )
