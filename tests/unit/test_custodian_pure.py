"""NIR rules, pseudonym encodings (test vectors of docs/custodian.md) and Shamir arithmetic."""

from __future__ import annotations

import hmac

import pytest

from guichet.custodian import escrow, nir
from guichet.custodian import pseudonyms as ps
from guichet.errors import BadInput

KEY = bytes(range(32))


@pytest.mark.parametrize(("value", "valid", "reason"), [
    (nir.with_key("1850575123456"), True, None),
    (nir.with_key("2850375123456")[:-2] + "00", False, "control key"),
    (nir.with_key("185072A123456"), True, None),
    (nir.with_key("185072B123456"), True, None),
    (nir.with_key("755057512345" + "6"), False, "provisional"),
    (nir.with_key("2555555123042"), False, "fictitious"),
    (nir.with_key("9850575123456"), False, "sex digit"),
    (nir.with_key("1851575123456"), False, "month"),
    (nir.with_key("1850500123456"), False, "département"),
    ("18505751234", False, "length (13 characters + 2-digit key)"),
    ("18505X512345673", False, "characters"),
])
def test_nir_rules(value: str, valid: bool, reason: str | None) -> None:
    result = nir.check(value)
    assert (result.valid, result.reason) == (valid, reason)


def test_corsica_keys_follow_insee() -> None:
    # 2A is read as 19 and 2B as 18 for the key
    assert nir.control_key("185072A123456") == 97 - int("1850719123456") % 97
    assert nir.control_key("185072B123456") == 97 - int("1850718123456") % 97


def test_spaces_and_lowercase_are_normalised() -> None:
    n = nir.with_key("185072A123456")
    assert nir.check(" ".join([n[:1], n[1:3], n[3:5], n[5:7].lower(), n[7:10], n[10:13], n[13:]])).valid


def test_level1_encoding_vectors() -> None:
    n = nir.with_key("1850575123456")
    ano = ps.level1_ano(KEY, n)
    assert ano == ps.encode(hmac.digest(KEY, b"guichet/level1/ano/v1\x00" + n.encode(), "sha256"))
    psa = ps.level1_psa(KEY, n, "1985-05-03", "1")
    assert psa == ps.encode(hmac.digest(KEY, b"guichet/level1/psa/v1\x00" + n.encode() + b"\x001985-05-03\x001",
                                        "sha256"))
    assert ps.is_pseudonym(ano) and ps.is_pseudonym(psa) and ano != psa
    # the documented vectors (docs/custodian.md)
    assert ano == DOC_ANO and psa == DOC_PSA
    assert ps.level1_psa(KEY, n, "03/05/1985", "1") == psa  # accepted date spellings agree


DOC_ANO = "PU6OSHTLLFGL327LV"  # key bytes 0..31, NIR 1 85 05 75 123 456 73 (synthetic)
DOC_PSA = "OVWH5VNBR4MR7KDFB"  # same key and NIR, born 1985-05-03, sex 1


def test_markers() -> None:
    n = nir.with_key("1850575123456")
    assert ps.level1_ano(KEY, n[:-1] + str((int(n[-1]) + 1) % 10)) == nir.INVALID_NIR_KEY
    assert ps.level1_psa(KEY, n, "1985-02-30", "1") == nir.INVALID_PSA_INPUTS
    assert ps.level1_psa(KEY, n, "1985-05-03", "3") == nir.INVALID_PSA_INPUTS


def test_vectorised_equals_scalar_and_keeps_order() -> None:
    import pyarrow as pa

    values = ["A" * 17, None, "", "B" * 17, "A" * 17]
    out = ps.pseudonymise_column(KEY, ps.LABEL_HUB, pa.array(values)).to_pylist()
    assert out[0] == out[4] == ps.hub_pseudonym(KEY, "A" * 17)
    assert out[1] is None and out[2] == "" and out[3] == ps.hub_pseudonym(KEY, "B" * 17)


def test_shamir_any_threshold_subset_rebuilds() -> None:
    secret = bytes(range(32))
    points = escrow.split(secret, 5, 3)
    from itertools import combinations

    for subset in combinations(points, 3):
        assert escrow.combine(list(subset)) == secret
    try:  # below the threshold the secret does not come out
        assert escrow.combine(points[:2]) != secret
    except BadInput:
        pass
    with pytest.raises(BadInput):
        escrow.combine([points[0], points[0], points[1]])
    with pytest.raises(BadInput):
        escrow.split(secret, 2, 3)
