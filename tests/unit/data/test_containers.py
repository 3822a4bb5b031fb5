"""Compressed uploads: several members are read whole, bytes after the last member are refused, bombs stop."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest

from dlxai import errors
from dlxai.data.containers import decompress
from dlxai.errors import UserInputError

TEXT = b"a,b\n" + b"".join(f"{i},{i % 3}\n".encode() for i in range(1000))


@pytest.mark.parametrize("kind, compress", [("gzip", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)])
def test_several_members_one_after_another_are_read_whole(kind, compress):
    raw = compress(TEXT[:2000]) + compress(TEXT[2000:])  # `cat a.gz b.gz`, pbzip2, pixz
    assert decompress(raw, kind, "t", 10**9)[0] == TEXT


@pytest.mark.parametrize("kind, compress", [("gzip", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)])
def test_bytes_after_the_last_member_are_refused_zero_padding_is_not(kind, compress):
    assert decompress(compress(TEXT) + bytes(512), kind, "t", 10**9)[0] == TEXT
    with pytest.raises(UserInputError, match="bytes after the compressed data are not part of it"):
        decompress(compress(TEXT) + b"garbage", kind, "t", 10**9)


def test_a_member_that_ends_early_is_a_truncated_file():
    with pytest.raises(UserInputError, match="ends early"):
        decompress(gzip.compress(TEXT)[:-20], "gzip", "t", 10**9)


def test_a_bomb_stops_at_the_limit_while_it_unpacks():
    bomb = gzip.compress(bytes(30_000_000))
    with pytest.raises(UserInputError) as err:
        decompress(bomb, "gzip", "bomb.gz", 10_000_000)
    assert str(err.value).startswith(errors.UPLOAD_DECOMPRESSION_BOMB.split("{")[0])
