"""Wire format: round trips through real ZeroMQ sockets, and rejection of malformed input."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
import zmq
from stmocap.realtime.messages import SCHEMA_VERSION, Message, MessageError, decode, encode


def _msg() -> Message:
    return Message(
        kind="frame", seq=7, stream="cam0", track=2, t_capture_ns=123,
        arrays={"image": np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3),
                "pose": np.random.default_rng(0).normal(size=(24, 6)).astype(np.float32),
                "empty": np.zeros((0, 4), np.float32)},
        meta={"fps": 30.0, "size": [640, 480]},
    ).stamp("source")


def test_round_trip_over_push_pull() -> None:
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    try:
        sent = _msg()
        push.send_multipart(encode(sent), copy=False)
        got = decode(pull.recv_multipart(copy=False))
    finally:
        push.close(0)
        pull.close(0)
    assert (got.kind, got.seq, got.stream, got.track, got.t_capture_ns) == ("frame", 7, "cam0", 2, 123)
    assert got.meta == sent.meta and got.stamps == sent.stamps
    for name, arr in sent.arrays.items():
        np.testing.assert_array_equal(got.arrays[name], arr)
        assert got.arrays[name].dtype == arr.dtype


def test_derive_keeps_identity_and_stamps() -> None:
    m = _msg()
    d = m.derive("estimate", {"x": np.ones(1, np.float32)}, seq=9)
    assert (d.kind, d.seq, d.stream, d.t_capture_ns) == ("estimate", 9, "cam0", 123)
    assert d.stamps == m.stamps and d.stamps is not m.stamps


def _header(**over) -> bytes:  # type: ignore[no-untyped-def]
    h = {"v": SCHEMA_VERSION, "kind": "frame", "stream": "s", "seq": 0, "frame_index": 0,
         "track": 0, "t_capture_ns": 0, "stamps": [], "arrays": [["a", "float32", [2]]],
         "meta": {}}
    h.update(over)
    return msgpack.packb(h)


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        ([], "empty"),
        ([b"\xc1garbage"], "not msgpack"),
        ([msgpack.packb([1, 2])], "not a map"),
        ([_header(v=99), b"\0" * 8], "schema version"),
        ([_header(seq="x"), b"\0" * 8], "'seq'"),
        ([_header()], "1 arrays but 0 buffers"),
        ([_header(), b"\0" * 7], "has 7 bytes"),
        ([_header(arrays=[["a", "object", [2]]]), b"\0" * 8], "bad array spec"),
        ([_header(arrays=[["a", "float32", [-2]]]), b"\0" * 8], "bad array spec"),
        ([_header(stamps={"source": 1}), b"\0" * 8], "'stamps'"),
        ([_header(stamps=[["source"]]), b"\0" * 8], "not \\[stage, ns\\]"),
        ([_header(frame_index=None), b"\0" * 8], "'frame_index'"),
    ],
)
def test_malformed_messages_are_rejected(frames: list, match: str) -> None:
    with pytest.raises(MessageError, match=match):
        decode(frames)


def test_unsupported_dtype_is_refused_on_send() -> None:
    with pytest.raises(MessageError, match="unsupported dtype"):
        encode(Message(kind="x", arrays={"o": np.array([object()])}))


def test_buffers_are_little_endian_whatever_the_array() -> None:
    # A big-endian array used to go out as its raw bytes under the name float32.
    big = np.arange(4, dtype=">f4")
    header, buf = encode(Message(kind="x", arrays={"a": big}))
    assert msgpack.unpackb(header)["arrays"] == [["a", "float32", [4]]]
    np.testing.assert_array_equal(np.frombuffer(buf, "<f4"), [0, 1, 2, 3])
    np.testing.assert_array_equal(decode([header, buf]).arrays["a"], [0, 1, 2, 3])


def test_stamps_are_an_ordered_list_of_pairs_and_frame_index_travels() -> None:
    m = Message(kind="x", seq=3, frame_index=3, stamps={"source": 5, "detect": 7, "publish": 9})
    header = msgpack.unpackb(encode(m)[0])
    assert header["stamps"] == [["source", 5], ["detect", 7], ["publish", 9]]
    assert header["frame_index"] == 3 and header["v"] == 2
    got = decode(encode(m))
    assert list(got.stamps.items()) == [("source", 5), ("detect", 7), ("publish", 9)]
    assert got.frame_index == 3 and m.derive("y").frame_index == 3


def test_unknown_header_and_meta_keys_are_ignored() -> None:
    h = msgpack.unpackb(_header(meta={"new_key": [1, 2]}))
    h["future_field"] = {"x": 1}
    got = decode([msgpack.packb(h), np.zeros(2, np.float32).tobytes()])
    assert got.meta == {"new_key": [1, 2]}


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [([2 ** 32, 2 ** 32], "uint8"),  # 2**64: wraps to 0 in int64, and an empty buffer matched
     ([2 ** 31, 2 ** 31, 4], "float32"),
     ([2 ** 20, 2 ** 20], "uint8")],  # no overflow, just over the cap
)
def test_shapes_are_sized_in_python_integers_and_capped(shape: list, dtype: str) -> None:
    with pytest.raises(MessageError, match="over the"):
        decode([_header(arrays=[["a", dtype, shape]]), b""])


def test_stamps_must_be_integer_times() -> None:
    with pytest.raises(MessageError, match="stamps"):
        decode([_header(stamps=[["source", "soon"]]), b"\0" * 8])


def test_an_array_listed_twice_is_rejected() -> None:
    with pytest.raises(MessageError, match="listed twice"):
        decode([_header(arrays=[["a", "float32", [2]], ["a", "float32", [2]]]), b"\0" * 8,
                b"\0" * 8])
