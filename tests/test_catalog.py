"""Self-tests of the catalog (requirements/criteria.yaml) and of the YAML checker behind it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from stackfast_conformance import _yamlcheck as yc
from stackfast_conformance.catalog import (
    ENVIRONMENTS,
    OBSERVATIONS,
    ConfigFileError,
    default_catalog_path,
    fingerprint,
    load_catalog,
)

# The spec's shape: criteria per requirement (R1 has 6 criteria, ..., R14 has 5).
CRITERIA_PER_REQUIREMENT = {
    "R1": 6, "R2": 9, "R3": 8, "R4": 9, "R5": 4, "R6": 4, "R7": 6,
    "R8": 6, "R9": 5, "R10": 5, "R11": 5, "R12": 7, "R13": 5, "R14": 5,
}  # fmt: skip
EXPECTED_IDS = [f"{rid}.{n}" for rid, count in CRITERIA_PER_REQUIREMENT.items() for n in range(1, count + 1)]


# --------------------------------------------------------------------------- the shipped catalog


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STACKFAST_CATALOG", raising=False)
    return load_catalog()


def test_shipped_catalog_has_exactly_the_84_spec_criteria_in_order(shipped) -> None:
    assert len(EXPECTED_IDS) == 84
    assert list(shipped.criteria) == EXPECTED_IDS
    assert [r.id for r in shipped.requirements] == list(CRITERIA_PER_REQUIREMENT)
    for requirement in shipped.requirements:
        assert len(requirement.criteria) == CRITERIA_PER_REQUIREMENT[requirement.id]
        for cid in requirement.criteria:
            criterion = shipped.get(cid)
            assert criterion.requirement == requirement.id
            assert criterion.requirement_title == requirement.title


def test_shipped_catalog_records_the_spec_source(shipped) -> None:
    assert shipped.spec["repository"] == "Nether403/Stackfast-2026"
    assert shipped.spec["commit"] in shipped.spec["url"]
    assert shipped.spec["url"].endswith(shipped.spec["path"])


def test_every_criterion_without_automated_observation_says_why(shipped) -> None:
    for criterion in shipped.criteria.values():
        if criterion.manual_only or criterion.permissive:
            assert criterion.why_not_automated, criterion.id
        else:
            assert criterion.why_not_automated is None, criterion.id


def test_permissive_criteria_are_exactly_the_may_and_exemption_clauses(shipped) -> None:
    permissive = {c.id for c in shipped.criteria.values() if c.permissive}
    assert permissive == {"R2.7", "R2.9", "R12.5"}
    assert {c.id: c.modality for c in shipped.criteria.values() if c.modality != "shall"} == {
        "R2.7": "may",
        "R12.5": "may",
        "R2.9": "exemption",
    }
    for cid in permissive:
        assert shipped.get(cid).observation == ("permissive",)
        assert not shipped.get(cid).blocking


def test_environment_scoped_criteria(shipped) -> None:
    assert shipped.get("R3.6").applies_to == ("local",)
    assert shipped.get("R11.5").applies_to == ("local",)
    assert shipped.get("R2.9").applies_to == ("local", "ci", "staging")
    for requirement in shipped.requirements:
        if requirement.id == "R13":
            assert all(shipped.get(cid).applies_to == ("staging",) for cid in requirement.criteria)


def test_shipped_statements_are_one_line_and_fingerprinted(shipped) -> None:
    for criterion in shipped.criteria.values():
        assert "\n" not in criterion.statement
        assert criterion.fingerprint == fingerprint(criterion.statement)
        assert set(criterion.observation) <= set(OBSERVATIONS)
        assert set(criterion.applies_to) <= set(ENVIRONMENTS)
        assert criterion.line > 0


def test_get_of_an_unknown_id_suggests_the_closest(shipped) -> None:
    with pytest.raises(KeyError, match=r"unknown criterion id 'R4\.77' \(did you mean 'R4\.7'\?\)"):
        shipped.get("R4.77")
    assert "R4.7" in shipped
    assert "R4.77" not in shipped


def test_fingerprint_ignores_wrapping_and_case_but_not_wording() -> None:
    base = fingerprint("GET /health answers 200 with body OK.")
    assert re.fullmatch(r"sha256:[0-9a-f]{12}", base)
    assert fingerprint("  get /health\n   answers 200\twith BODY ok. ") == base
    assert fingerprint("GET /health answers 204 with body OK.") != base


def test_catalog_path_can_be_overridden_by_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("STACKFAST_CATALOG", raising=False)
    assert default_catalog_path().parts[-2:] == ("requirements", "criteria.yaml")
    assert default_catalog_path().is_file()
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("STACKFAST_CATALOG", str(path))
    assert default_catalog_path() == path
    assert list(load_catalog().criteria) == ["R1.1", "R1.2", "R2.1"]


def test_load_catalog_picks_up_an_edited_file(tmp_path) -> None:
    path = write(tmp_path, MINIMAL)
    assert load_catalog(path) is load_catalog(path)
    before = load_catalog(path)
    path.write_text(MINIMAL.replace("title: Two\n", "title: Two, renamed\n"))
    assert load_catalog(path) is not before
    assert load_catalog(path).requirements[1].title == "Two, renamed"


# --------------------------------------------------------------------------- broken catalogs

ONE = "GET /health answers 200 with body OK."
TWO = "GET /health needs no authentication headers."
THREE = "Operators sign off on the rollout."

MINIMAL = f"""\
schema_version: 1
spec:
  repository: Nether403/Stackfast-2026
  path: .kiro/specs/phase-8-deployment/requirements.md
  commit: d4bc1f71f638e2cab4aff76f51db884b1ad5d81c
  url: https://github.com/Nether403/Stackfast-2026/blob/d4bc1f71f638e2cab4aff76f51db884b1ad5d81c/x.md
requirements:
  - id: R1
    title: One
    criteria:
      - id: R1.1
        statement: "{ONE}"
        modality: shall
        observation: [http]
        applies_to: [production]
        severity: blocking
        fingerprint: "{fingerprint(ONE)}"
      - id: R1.2
        statement: "{TWO}"
        modality: shall
        observation: [http, repo]
        applies_to: [staging, production]
        severity: advisory
        fingerprint: "{fingerprint(TWO)}"
  - id: R2
    title: Two
    criteria:
      - id: R2.1
        statement: "{THREE}"
        modality: shall
        observation: [manual]
        applies_to: [production]
        severity: blocking
        fingerprint: "{fingerprint(THREE)}"
        why_not_automated: "Only an operator knows."
"""


def write(tmp_path: Path, text: str, name: str = "criteria.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def load_error(tmp_path: Path, text: str) -> ConfigFileError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as info:
        load_catalog(path)
    error = info.value
    assert error.path == path
    assert str(error).startswith(f"{path}:{error.line}: ") or str(error).startswith(
        f"{path.name}:{error.line}: "
    )
    return error


def test_minimal_catalog_loads(tmp_path) -> None:
    catalog = load_catalog(write(tmp_path, MINIMAL))
    assert list(catalog.criteria) == ["R1.1", "R1.2", "R2.1"]
    r11, r12, r21 = catalog.criteria.values()
    assert (r11.blocking, r11.permissive, r11.manual_only) == (True, False, False)
    assert r12.observation == ("http", "repo") and not r12.blocking
    assert r21.manual_only and r21.why_not_automated == "Only an operator knows."
    assert r11.line == line_of(MINIMAL, "- id: R1.1")


def test_typo_in_a_key_names_file_line_and_the_intended_key(tmp_path) -> None:
    text = MINIMAL.replace(f'statement: "{TWO}"', f'statment: "{TWO}"')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "statment:")
    assert error.message == "unknown key 'statment' in criterion R1.2 (did you mean 'statement'?)"
    assert str(error).endswith(f"criteria.yaml:{error.line}: {error.message}")


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path) -> None:
    text = MINIMAL.replace("    title: Two\n", "    title: Two\n    owner: someone\n")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "owner:")
    assert (
        "unknown key 'owner' in requirement R2 (expected one of: 'id', 'title', 'criteria')" in error.message
    )


def test_duplicate_criterion_id_names_both_lines(tmp_path) -> None:
    text = MINIMAL.replace("- id: R1.2", "- id: R1.1")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "- id: R1.1", occurrence=2)
    assert f"duplicate criterion id 'R1.1' (first at line {line_of(text, '- id: R1.1')})" in error.message


def test_duplicate_mapping_key_is_an_error(tmp_path) -> None:
    text = MINIMAL.replace(
        "        severity: advisory\n", "        severity: advisory\n        severity: blocking\n"
    )
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "severity: blocking", occurrence=2)
    assert "duplicate key 'severity' in criterion R1.2" in error.message


def test_criterion_listed_under_the_wrong_requirement(tmp_path) -> None:
    text = MINIMAL.replace("- id: R2.1", "- id: R1.3")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "- id: R1.3")
    assert "criterion R1.3 is listed under requirement R2" in error.message


def test_malformed_criterion_id(tmp_path) -> None:
    text = MINIMAL.replace("- id: R1.2", "- id: R1-2")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "- id: R1-2")
    assert error.message == "'id' in criterion R1-2: expected a criterion id like R4.7, found 'R1-2'"


def test_malformed_yaml_reports_the_line_of_the_syntax_error(tmp_path) -> None:
    text = MINIMAL.replace("observation: [http, repo]", "observation: [http, repo")
    error = load_error(tmp_path, text)
    assert error.message.startswith("invalid YAML: ")
    assert line_of(text, "observation: [http, repo") <= error.line <= line_of(text, "applies_to: [staging")


def test_wrong_enum_value_lists_the_expected_values(tmp_path) -> None:
    text = MINIMAL.replace("modality: shall", "modality: must", 1)
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "modality: must")
    assert error.message == (
        "'modality' in criterion R1.1: expected one of 'shall', 'may', 'exemption', found 'must'"
    )


def test_wrong_item_in_a_list_of_enums_names_its_position(tmp_path) -> None:
    text = MINIMAL.replace("observation: [http, repo]", "observation: [http, rep]")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "observation: [http, rep]")
    assert error.message.startswith("'observation[1]' in criterion R1.2: expected one of 'http', 'prop',")
    assert error.message.endswith("found 'rep' (did you mean 'repo'?)")


def test_repeated_item_in_a_list_of_enums(tmp_path) -> None:
    text = MINIMAL.replace("applies_to: [staging, production]", "applies_to: [staging, staging]")
    error = load_error(tmp_path, text)
    assert "'staging' is listed twice" in error.message


def test_missing_required_key(tmp_path) -> None:
    text = MINIMAL.replace("        severity: blocking\n", "", 1)
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "- id: R1.1")
    assert error.message == "missing required key 'severity' in criterion R1.1"


def test_edited_statement_is_a_stale_link_with_the_new_fingerprint(tmp_path) -> None:
    edited = "GET /health answers 200 with body OK or ok."
    text = MINIMAL.replace(f'statement: "{ONE}"', f'statement: "{edited}"')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, f'fingerprint: "{fingerprint(ONE)}"')
    assert "stale link" in error.message
    assert "statement of criterion R1.1 changed since it was fingerprinted" in error.message
    assert f"record fingerprint: '{fingerprint(edited)}'" in error.message


def test_rewrapped_statement_keeps_its_fingerprint(tmp_path) -> None:
    text = MINIMAL.replace(f'statement: "{ONE}"', f'statement: "  {ONE.upper()}  "')
    assert load_catalog(write(tmp_path, text)).get("R1.1").fingerprint == fingerprint(ONE)


def test_missing_fingerprint_prints_the_value_to_record(tmp_path) -> None:
    text = MINIMAL.replace(f'        fingerprint: "{fingerprint(TWO)}"\n', "")
    error = load_error(tmp_path, text)
    assert error.message == f"criterion R1.2 has no fingerprint; record fingerprint: '{fingerprint(TWO)}'"


def test_manual_only_criterion_needs_why_not_automated(tmp_path) -> None:
    text = MINIMAL.replace('        why_not_automated: "Only an operator knows."\n', "")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "observation: [manual]")
    assert "criterion R2.1 has no automated observation" in error.message
    assert "why_not_automated" in error.message


def test_why_not_automated_on_an_automated_criterion_is_an_error(tmp_path) -> None:
    text = MINIMAL.replace("observation: [manual]", "observation: [manual, config]")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "why_not_automated:")
    assert "remove it" in error.message


def test_multi_line_statement_is_rejected(tmp_path) -> None:
    text = MINIMAL.replace(f'statement: "{ONE}"', 'statement: "first line\\nsecond line"')
    error = load_error(tmp_path, text)
    assert "'statement' in criterion R1.1: expected a one-line string" in error.message


def test_empty_and_missing_files(tmp_path) -> None:
    error = load_error(tmp_path, "# nothing here\n")
    assert error.line == 1 and "the file is empty" in error.message
    with pytest.raises(ConfigFileError, match=r"nope\.yaml: cannot read the file"):
        load_catalog(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path) -> None:
    error = load_error(tmp_path, "- R1.1\n")
    assert error.line == 1
    assert error.message == "the catalog: expected a mapping, found a list"


# --------------------------------------------------------------------------- the YAML checker itself

WAIVER = yc.Mapping(
    required={"criterion": yc.Str(pattern=r"R\d+\.\d+"), "expires": yc.Date()},
    optional={"count": yc.Int(minimum=1), "active": yc.Bool(), "hooks": yc.DictOf(yc.ListOf(yc.Str()))},
    name="waiver",
    id_key="criterion",
)
WAIVERS = yc.Mapping({"waivers": yc.ListOf(WAIVER)}, name="waivers file")


def check(tmp_path: Path, text: str):
    return yc.load(write(tmp_path, text, "waivers.yaml"), WAIVERS)


def check_error(tmp_path: Path, text: str) -> yc.ConfigFileError:
    with pytest.raises(yc.ConfigFileError) as info:
        check(tmp_path, text)
    return info.value


def test_yamlcheck_returns_plain_data_that_knows_its_lines(tmp_path) -> None:
    text = (
        "waivers:\n"
        "  - criterion: R4.7\n"
        "    expires: 2026-12-31\n"
        "    count: 2\n"
        "    active: true\n"
        "    hooks:\n"
        "      restart-api: [railway, restart]\n"
        "  - criterion: R5.1\n"
        "    expires: '2027-01-01'\n"
    )
    data = check(tmp_path, text)
    first, second = data["waivers"]
    assert first == {
        "criterion": "R4.7",
        "expires": dt.date(2026, 12, 31),
        "count": 2,
        "active": True,
        "hooks": {"restart-api": ["railway", "restart"]},
    }
    assert isinstance(first, dict) and isinstance(first, yc.MappingData)
    assert first.line == 2 and first.line_of("count") == 4 and first.line_of("absent") == 2
    assert second == {"criterion": "R5.1", "expires": dt.date(2027, 1, 1)}
    assert second.line_of("expires") == 9


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "expires: 2026-02-30",
            "'expires' in waiver R4.7: expected a date YYYY-MM-DD, found date 2026-02-30",
        ),
        ("expires: soon", "'expires' in waiver R4.7: expected a date YYYY-MM-DD, found 'soon'"),
        ("count: 0", "'count' in waiver R4.7: expected an integer >= 1, found integer 0"),
        ("count: two", "'count' in waiver R4.7: expected an integer >= 1, found 'two'"),
        ("active: maybe", "'active' in waiver R4.7: expected true or false, found 'maybe'"),
        (
            "hooks: [x]",
            "'hooks' in waiver R4.7: expected a mapping of a string to a list of items, each a string, found a list",
        ),
        ("hooks: {a: [1]}", "'hooks.a[0]' in waiver R4.7: expected a string, found integer 1 (quote it"),
        (
            "expires: 2026-01-01\n    expiry: x",
            "unknown key 'expiry' in waiver R4.7 (did you mean 'expires'?)",
        ),
    ],
)
def test_yamlcheck_messages_say_what_was_expected_and_found(tmp_path, field, message) -> None:
    text = "waivers:\n  - criterion: R4.7\n    " + field + "\n"
    if not field.startswith("expires"):
        text += "    expires: 2026-01-01\n"
    error = check_error(tmp_path, text)
    assert error.message.startswith(message), error.message
    assert error.line == line_of(text, field.splitlines()[-1].strip())


def test_yamlcheck_rejects_non_string_keys_and_merge_keys(tmp_path) -> None:
    error = check_error(tmp_path, "waivers: []\n1: x\n")
    assert error.line == 2 and "keys must be strings, found integer 1" in error.message
    text = "waivers:\n  - &b {criterion: R1.1, expires: 2026-01-01}\n  - <<: *b\n"
    error = check_error(tmp_path, text)
    assert "merge keys" in error.message


def test_yamlcheck_rejects_several_documents(tmp_path) -> None:
    error = check_error(tmp_path, "waivers: []\n---\nwaivers: []\n")
    assert error.line == 2 and error.message.startswith("invalid YAML: ")


def test_config_file_error_renders_path_and_line() -> None:
    error = yc.ConfigFileError("requirements/criteria.yaml", 57, "unknown key 'statment'")
    assert str(error) == "requirements/criteria.yaml:57: unknown key 'statment'"
    assert (error.path, error.line, error.message) == (
        Path("requirements/criteria.yaml"),
        57,
        "unknown key 'statment'",
    )
    assert str(yc.ConfigFileError("x.yaml", None, "cannot read")) == "x.yaml: cannot read"
