"""Coverage of the catalog: every automatable criterion has a check and a fault that makes it fail.

A check that no fault can make fail is a defect; so is an automatable criterion without a check.
Faults are the reference's named faults (HTTP, edge, ops) and the broken variants of the config
snapshots and the fixture checkout (config, repo).
"""

from __future__ import annotations

import pytest
from fixtures.stackfast_checkout import CHECKOUT_VARIANTS, SNAPSHOT_VARIANTS

from stackfast_conformance.catalog import load_catalog
from stackfast_conformance.cli import list_checks
from stackfast_conformance.reference import load_faults

AUTOMATABLE = {"http", "prop", "edge", "config", "repo", "ops"}
CATALOG = load_catalog()
AUTOMATED = [c for c in CATALOG.criteria.values() if set(c.observation) & AUTOMATABLE and not c.permissive]


@pytest.fixture(scope="module")
def checks_by_criterion():
    found: dict[str, list[str]] = {}
    for check in list_checks():
        for cid in check["criteria"]:
            found.setdefault(cid, []).append(check["id"])
    return found


@pytest.fixture(scope="module")
def breakers():
    found: dict[str, list[str]] = {}
    for fault in load_faults().values():
        for cid in fault.breaks:
            found.setdefault(cid, []).append(f"fault {fault.name}")
    for table, kind in ((CHECKOUT_VARIANTS, "checkout"), (SNAPSHOT_VARIANTS, "snapshot")):
        for name, (_, breaks) in table.items():
            for cid in breaks:
                found.setdefault(cid, []).append(f"{kind} variant {name}")
    return found


def test_every_automatable_criterion_has_at_least_one_check(checks_by_criterion):
    missing = [c.id for c in AUTOMATED if c.id not in checks_by_criterion]
    assert not missing, f"automatable criteria without a check: {missing}"


def test_every_automatable_criterion_has_a_fault_that_makes_it_fail(breakers):
    missing = [c.id for c in AUTOMATED if c.id not in breakers]
    assert not missing, f"automatable criteria that no fault or broken variant breaks: {missing}"


def test_every_fault_names_only_known_criteria(breakers):
    unknown = sorted(cid for cid in breakers if cid not in CATALOG.criteria)
    assert not unknown


def test_manual_and_permissive_criteria_say_why_they_are_not_automated():
    for crit in CATALOG.criteria.values():
        if crit.manual_only:
            assert crit.why_not_automated, crit.id


def test_every_check_is_linked_and_classified(checks_by_criterion):
    for check in list_checks():
        assert check["criteria"], check["id"]
        assert check["safety"] in ("read-only", "quota", "disruptive", "mutating"), check["id"]
