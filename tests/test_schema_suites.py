"""The official NGFF schema test suites and examples, run through omezarr.validate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from omezarr.validate import validate_document

NGFF = Path(__file__).parent / "data" / "ngff"
VERSIONS = ("0.4", "0.5")

# The one case whose expected verdict no JSON schema can give: the path's first part must be
# one of the rows. The upstream schema has no way to say so; our rule layer refuses it (see
# test_rules_refuse_what_the_schema_cannot_see).
SCHEMA_CANNOT_SEE = {
    ("0.5", "plate_suite", "plate/well_path_has_column_before_row"): (
        "upstream: a JSON schema cannot relate a well path to the rows and columns lists"
    ),
}

# Cases the official suites call valid that our stricter rule layer refuses, with the rule.
# They are invalid by the specification's text; the 0.5 suite fixed each of them.
RULES_REFUSE = {
    ("0.4", "image_suite", "valid/mismatch_axes_units.json"): "transformations",
    ("0.4", "plate_suite", "plate/minimal_no_acquisitions"): "plate-well",
    ("0.4", "plate_suite", "plate/minimal_acquisitions"): "plate-well",
    ("0.4", "plate_suite", "plate/non_alphanumeric_row"): "plate-well",
    ("0.4", "strict_plate_suite", "plate/strict_no_acquisitions"): "plate-well",
    ("0.4", "strict_plate_suite", "plate/strict_acquisitions"): "plate-well",
}


def _schema_stem(schema_path: str) -> tuple[str, bool]:
    """("image", True) for "schemas/strict_image.schema"."""
    stem = schema_path.rsplit("/", 1)[-1].removesuffix(".schema")
    return stem.removeprefix("strict_"), stem.startswith("strict_")


def _suite_cases(mark_upstream_failures: bool) -> list[Any]:
    cases = []
    for version in VERSIONS:
        for suite_file in sorted((NGFF / version / "tests").glob("*_suite.json")):
            suite = json.loads(suite_file.read_text())
            kind, strict = _schema_stem(suite["schema"]["id"])
            seen: Counter[str] = Counter()
            for test in suite["tests"]:
                name = test.get("formerly") or test.get("description") or "case"
                seen[name] += 1
                key = (version, suite_file.stem, name)
                case_id = "/".join(key) + (f"#{seen[name]}" if seen[name] > 1 else "")
                marks = []
                if mark_upstream_failures and key in SCHEMA_CANNOT_SEE:
                    marks.append(pytest.mark.xfail(strict=True, reason=SCHEMA_CANNOT_SEE[key]))
                cases.append(
                    pytest.param(
                        version,
                        kind,
                        strict,
                        test["data"],
                        test["valid"],
                        key,
                        id=case_id,
                        marks=marks,
                    )
                )
    return cases


SUITE_CASES = _suite_cases(mark_upstream_failures=True)


def test_every_suite_is_found() -> None:
    suites = {(case.values[0], case.values[5][1]) for case in SUITE_CASES}
    assert len(suites) == 16  # eight suites for each of 0.4 and 0.5
    assert len(SUITE_CASES) > 100
    assert len({case.id for case in SUITE_CASES}) == len(SUITE_CASES)


@pytest.mark.parametrize(("version", "kind", "strict", "data", "valid", "key"), SUITE_CASES)
def test_suite_case_gets_the_expected_verdict(
    version: str, kind: str, strict: bool, data: Any, valid: bool, key: tuple[str, str, str]
) -> None:
    violations = validate_document(data, kind, version, strict=strict)
    assert (violations == []) is valid, [str(v) for v in violations]
    assert all(v.rule == "schema" and v.location.startswith("#") for v in violations)


@pytest.mark.parametrize(
    ("version", "kind", "strict", "data", "valid", "key"),
    _suite_cases(mark_upstream_failures=False),
)
def test_rules_refuse_only_known_suite_cases(
    version: str, kind: str, strict: bool, data: Any, valid: bool, key: tuple[str, str, str]
) -> None:
    violations = validate_document(data, kind, version, strict=strict, rules=True)
    if key in RULES_REFUSE:
        assert valid
        assert RULES_REFUSE[key] in {v.rule for v in violations}
    else:
        assert (violations == []) is (valid and key not in SCHEMA_CANNOT_SEE)


def test_rules_refuse_what_the_schema_cannot_see() -> None:
    suite = json.loads((NGFF / "0.5" / "tests" / "plate_suite.json").read_text())
    (case,) = [
        t for t in suite["tests"] if t["formerly"] == "plate/well_path_has_column_before_row"
    ]
    violations = validate_document(case["data"], "plate", "0.5", rules=True)
    assert [v.rule for v in violations] == ["plate-well"]
    assert violations[0].location == "#/ome/plate/wells/0"
    assert "row '1'" in violations[0].message


def _example_cases() -> list[Any]:
    cases = []
    for version in VERSIONS:
        for folder in sorted(p for p in (NGFF / version / "examples").iterdir() if p.is_dir()):
            config = json.loads((folder / ".config.json").read_text())
            kind, strict = _schema_stem(config["schema"])
            for example in sorted(folder.glob("[!.]*.json")):
                cases.append(
                    pytest.param(
                        version,
                        kind,
                        strict,
                        example,
                        id=f"{version}/{folder.name}/{example.name}",
                    )
                )
    return cases


def _read_example(path: Path) -> Any:
    """The example's JSON without its ``//`` comment lines."""
    text = "".join(line for line in path.open() if not line.lstrip().startswith("//"))
    return json.loads(text)


@pytest.mark.parametrize(("version", "kind", "strict", "path"), _example_cases())
def test_example_is_valid(version: str, kind: str, strict: bool, path: Path) -> None:
    document = _read_example(path)
    if version == "0.5":  # 0.5 examples are whole zarr.json documents
        assert document["zarr_format"] == 3
        document = document["attributes"]
    violations = validate_document(document, kind, version, strict=strict, rules=True)
    assert violations == []


def test_every_example_is_found() -> None:
    assert len(_example_cases()) == 20
