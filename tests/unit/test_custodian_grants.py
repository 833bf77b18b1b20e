"""The custodian's grants: scopes per kind, purpose grammar, and bounds the hub's own batches fit."""

from __future__ import annotations

import inspect

import pyarrow as pa
import pytest

from guichet.custodian import grants as g
from guichet.custodian.nir import INVALID_PSA_INPUTS
from guichet.custodian.server import _ipc, route_of
from guichet.deposit.duplicates import DEFAULT_CAP
from guichet.engine.execute import Engine
from guichet.errors import BadInput, Refused


def test_a_producer_has_one_scope_and_the_hub_never_gets_a_level1_key() -> None:
    assert g.KIND_SCOPES[g.KIND_PRODUCER] == {g.DOMAIN_KEY}
    assert g.DOMAIN_KEY not in g.KIND_SCOPES[g.KIND_HUB]
    assert g.KIND_SCOPES[g.KIND_CUSTODIAN] == g.KIND_SCOPES[g.KIND_HUB] | {g.DOMAIN_KEY}
    producer = g.Grant("atih", g.KIND_PRODUCER, "snds")
    producer.require_domain("snds")
    with pytest.raises(Refused):
        producer.require_domain("other")
    with pytest.raises(Refused):
        producer.require(g.UNWRAP)
    with pytest.raises(BadInput):
        g.Grant("x", "operator")


def test_every_route_names_a_scope_from_its_headers_alone() -> None:
    project = route_of("POST", "/v1/pseudonymise", "level=project&purpose=x")
    assert project is not None and project.scope == g.PSEUDONYMISE_PROJECT
    for query in ("", "level=hub", "level=nope", "level=project&level=hub"):
        route = route_of("POST", "/v1/pseudonymise", query)
        assert route is not None and route.arrow and route.scope in (g.PSEUDONYMISE_HUB, g.PSEUDONYMISE_PROJECT)
    expected = {("GET", "/v1/status"): g.STATUS, ("GET", "/v1/domain-key"): g.DOMAIN_KEY,
                ("POST", "/v1/optout-pseudonyms"): g.OPTOUT, ("POST", "/v1/data-keys"): g.DATA_KEYS,
                ("POST", "/v1/unwrap"): g.UNWRAP, ("POST", "/v1/shred"): g.SHRED, ("POST", "/v1/rotation"): g.ROTATION,
                ("POST", "/v1/rotation/rot-1/complete"): g.ROTATION, ("POST", "/v1/rotation/rot-1/abort"): g.ROTATION}
    for (method, path), scope in expected.items():
        route = route_of(method, path, "")
        assert route is not None and route.scope == scope and not route.arrow, path
    for method, path in (("GET", "/v1/shred"), ("POST", "/v1/status"), ("POST", "/v1/rotation/a/b/complete"),
                         ("POST", "/v1/nope")):
        assert route_of(method, path, "") is None


@pytest.mark.parametrize("dataset", ["IR_BEN_R", "T_MCO23B", "ER_PHA_F", "a", "x.y-z_1", "9" * 128])
def test_every_dataset_name_makes_a_deposit_purpose(dataset: str) -> None:
    assert g.check_pseudonymise_purpose("hub", f"deposit:{dataset}", None) == f"deposit:{dataset}"


@pytest.mark.parametrize("purpose", ["deposit", "deposit:", "deposit:_x", "deposit:a/b", "deposit:a..b",
                                     "deposit:a b", "Deposit:X", "deposit:" + "x" * 129, "lake", ""])
def test_hub_purposes_outside_the_grammar(purpose: str) -> None:
    with pytest.raises(BadInput):
        g.check_pseudonymise_purpose("hub", purpose, None)


def test_project_purposes_name_the_project_asked() -> None:
    assert g.check_pseudonymise_purpose("project", "extract:p-1", "p-1") == "extract:p-1"
    for purpose, project in (("extract:p-1", "p-2"), ("extract:p-1", None), ("extract:P1", "P1"), ("extract", "p")):
        with pytest.raises(BadInput):
            g.check_pseudonymise_purpose("project", purpose, project)


def test_the_hubs_biggest_batches_fit_the_default_bounds() -> None:
    """A deposit sends one engine batch at a time, and once per table its held-back duplicate candidates
    (under the finder's cap plus the batch that crossed it): both must fit one call and one body."""
    engine_batch = inspect.signature(Engine.batches).parameters["rows"].default
    assert g.DEFAULT_MAX_BATCH >= 2 * (DEFAULT_CAP + engine_batch)
    longest = pa.array([INVALID_PSA_INPUTS] * g.DEFAULT_MAX_BATCH)  # longer than any level-1 pseudonym
    assert len(_ipc(pa.table({"value": longest}))) < g.DEFAULT_MAX_BODY / 2
    with pytest.raises(BadInput):
        g.check_batch(g.DEFAULT_MAX_BATCH + 1, g.DEFAULT_MAX_BATCH)
