"""Any change to any field of a signed permit makes its signature fail; an unchanged one always verifies."""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.permits.document import canonical, sign_document, verify_envelope
from guichet.permits.signing import SigningKey
from tests.permit_support import sample_document

KEY = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
SIGNED = sign_document(sample_document(), KEY)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


PATHS = _paths(SIGNED["permit"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=30))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                      max_leaves=6)


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(PATHS), value=values)
def test_any_changed_field_fails_verification(path: tuple[Any, ...], value: Any) -> None:
    env = copy.deepcopy(SIGNED)
    before = canonical(env["permit"])
    _set(env["permit"], path, value)
    result = verify_envelope(env)
    if canonical(env["permit"]) == before:  # (True == 1 in Python, not in JSON)
        assert result.valid
    else:
        assert not result.valid


@settings(max_examples=100, deadline=None)
@given(key=st.text(min_size=1, max_size=12), value=values)
def test_an_added_field_fails_verification(key: str, value: Any) -> None:
    env = copy.deepcopy(SIGNED)
    if key in env["permit"]:
        return
    env["permit"][key] = value
    assert not verify_envelope(env).valid


def test_the_untouched_permit_verifies() -> None:
    assert verify_envelope(copy.deepcopy(SIGNED)).valid
