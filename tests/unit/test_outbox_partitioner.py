"""The relay places each event itself (one record batch per partition), so its partition must be the one
aiokafka's default partitioner gives the key: a subject's events stay on one partition whichever producer
wrote them."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.common.outbox import _murmur2, partition_of


@given(st.binary(max_size=80))
def test_the_hash_is_kafkas_murmur2(key: bytes) -> None:
    assert _murmur2(key) == murmur2(key)


@given(st.binary(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_partition_the_default_partitioner_chooses(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_of(key, partitions) == DefaultPartitioner()(key, every, every)


def test_subject_codes_as_keys() -> None:
    for code in ("91110000MA01ABCD2X", "330106198001011234", "92330100MA2H0E1X3K", "x"):
        key = code.encode()
        assert partition_of(key, 6) == DefaultPartitioner()(key, list(range(6)), list(range(6)))
