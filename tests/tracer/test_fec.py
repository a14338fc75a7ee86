"""The FEC codec of the edge uplink: any k shards of a part rebuild it, bad datagrams are refused, memory is bounded."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spanscope.tracer.fec import FecAssembler, FecCode, decode_ack, encode_ack, encode_message

CODE = FecCode(data_shards=8, parity_shards=2, shard_bytes=100)


def parts_of(datagrams: list[bytes]) -> dict[int, list[int]]:
    """Datagram positions by part number (header bytes 12-13)."""
    out: dict[int, list[int]] = {}
    for i, d in enumerate(datagrams):
        out.setdefault(int.from_bytes(d[12:14], "big"), []).append(i)
    return out


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 3000), seed=st.integers(0, 2**32 - 1))
def test_any_parity_sized_loss_per_part_is_rebuilt(size: int, seed: int) -> None:
    payload = random.Random(seed).randbytes(size)
    datagrams = encode_message(7, payload, CODE)
    rng = random.Random(seed)
    kept: list[bytes] = []
    for positions in parts_of(datagrams).values():
        k, n = datagrams[positions[0]][16], datagrams[positions[0]][17]
        assert n - k == CODE.parity_for(k) >= 1
        kept.extend(datagrams[i] for i in rng.sample(positions, k))  # any k of the n shards
    rng.shuffle(kept)
    assembler = FecAssembler()
    outcomes = [assembler.feed(d, "dev") for d in kept]
    assert outcomes[-1] == ("complete", 7, payload)
    assert all(o[0] == "partial" for o in outcomes[:-1])
    assert assembler.held_bytes == 0


def test_one_shard_too_few_is_not_enough_and_a_repeat_is_a_duplicate() -> None:
    payload = os.urandom(800)  # one part of 8 data shards and 2 parity shards
    datagrams = encode_message(1, payload, CODE)
    assert len(datagrams) == 10
    assembler = FecAssembler()
    assert [assembler.feed(d)[0] for d in datagrams[3:10]] == ["partial"] * 7  # 7 of the 8 needed
    assert assembler.feed(datagrams[0]) == ("complete", 1, payload)
    assert assembler.rebuilt_parts == 1
    assert assembler.feed(datagrams[1])[0] == "duplicate"
    assembler.forget(None, 1)  # the store refused it: take it again
    assert [assembler.feed(d)[0] for d in datagrams[:8]][-1] == "complete"


def test_datagrams_fit_the_path_mtu_and_parity_costs_what_it_says() -> None:
    code = FecCode()
    payload = os.urandom(100_000)
    datagrams = encode_message(3, payload, code)
    assert max(len(d) for d in datagrams) == code.shard_bytes + 30 <= 1232
    overhead = sum(len(d) for d in datagrams) / len(payload)
    assert overhead == pytest.approx(code.overhead, rel=0.02)  # 1.28: 25 % parity + 2.5 % headers
    plain = encode_message(3, payload, FecCode(parity_shards=0))
    assert len(plain) == -(-len(payload) // 1200)


def test_bad_datagrams_are_refused_by_reason() -> None:
    good = encode_message(9, b"x" * 150, CODE)[0]
    assembler = FecAssembler()
    assert assembler.feed(b"hello")[0] == "bad_magic"
    assert assembler.feed(good[:-1])[0] == "bad_header"  # shard shorter than its header says
    flipped = good[:-1] + bytes([good[-1] ^ 1])
    assert assembler.feed(flipped)[0] == "bad_crc"
    assert assembler.feed(good)[0] == "partial"


def test_incomplete_records_are_bounded_oldest_first() -> None:
    assembler = FecAssembler(max_messages=3)
    for mid in range(10):
        assembler.feed(encode_message(mid, b"y" * 500, CODE)[0], "dev")
    assert assembler.evicted == 7
    assembler = FecAssembler(max_bytes=550)
    for mid in range(10):
        assembler.feed(encode_message(mid, b"z" * 500, CODE)[0], "dev")
    assert assembler.held_bytes <= 550 and assembler.evicted == 5


def test_acknowledgements_round_trip() -> None:
    assert decode_ack(encode_ack([1, 2**64 - 1], clock_ns=5)) == (5, [1, 2**64 - 1])
    assert decode_ack(b"SFA1" + b"\0" * 9) is None
    assert decode_ack(b"nope") is None
