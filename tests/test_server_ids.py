"""Opaque API ids: a keyed permutation per kind, canonical, and silent about what it hides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from truceguard.errors import NotFoundError
from truceguard.server.ids import PREFIX, IdCodec, derive_key

CODEC = IdCodec(derive_key(b"k" * 32))


@given(st.integers(0, 2**64 - 1), st.sampled_from(sorted(PREFIX)))
def test_every_number_round_trips_through_its_token(n, kind):
    token = CODEC.encode(kind, n)
    assert token.startswith(PREFIX[kind] + "_") and len(token) == 17
    assert CODEC.decode(kind, token) == n


def test_sequential_numbers_give_unrelated_tokens_and_another_key_other_tokens():
    tokens = [CODEC.encode("observation", n) for n in range(1, 1001)]
    assert len(set(tokens)) == 1000
    # no order leaks: sorted tokens are not the numbers' order
    assert sorted(tokens) != tokens
    other = IdCodec(derive_key(b"j" * 32))
    assert all(other.encode("observation", n) != t for n, t in enumerate(tokens, 1))


def test_a_token_of_another_kind_or_malformed_is_not_found():
    token = CODEC.encode("violation", 7)
    with pytest.raises(NotFoundError) as err:
        CODEC.decode("observation", token)
    assert err.value.code == "not_found.observation"
    for bad in ["7", "obs_", "obs_AAAAAAAAAAAAA", "obs_aaaaaaaaaaaa1", "x" * 10_000,
                token.replace("vio", "obs") + "a"]:
        with pytest.raises(NotFoundError):
            CODEC.decode("observation", bad)


def test_only_the_canonical_spelling_of_a_token_decodes():
    token = CODEC.encode("observation", 42)
    last = token[-1]
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    twin = token[:-1] + alphabet[alphabet.index(last) ^ 1]  # flips the spare bit only
    with pytest.raises(NotFoundError):
        CODEC.decode("observation", twin)


def test_the_key_must_be_long_enough():
    with pytest.raises(ValueError):
        IdCodec(b"short")
