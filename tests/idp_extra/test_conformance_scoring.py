"""conformance/run_conformance.py counts run.sh's raw logs and applies exclusions only where they fit."""

from __future__ import annotations

from pathlib import Path

from conformance import run_conformance as rc

ROOT = Path(__file__).resolve().parents[2]


def test_excluded_failures_are_counted_apart(tmp_path: Path) -> None:
    log = tmp_path / "scim2-tester.log"
    log.write_text(
        "SUCCESS check_remove_attribute [User]\n"
        "ERROR check_remove_attribute [User]  [PATCH modify() did not remove attribute 'active']\n"
        "ERROR check_remove_attribute [User]  [PATCH modify() did not remove attribute 'displayName']\n"
        "scim2-tester: 1 passed, 2 failed, 0 skipped\n",
        encoding="utf-8",
    )
    rules = rc.load_exclusions(ROOT / "conformance" / "exclusions.toml")
    score = rc.score_suite("scim2-tester", "basic", log, rules)
    assert (score.passed, score.failed, score.excluded) == (1, 1, 1)
    assert score.failures == [
        "ERROR check_remove_attribute [User]  [PATCH modify() did not remove attribute 'displayName']"
    ]
    assert "1/2 passed, 1 failed, 1 excluded" in score.line()


def test_auth_specific_rule_and_missing_summary(tmp_path: Path) -> None:
    rule = rc.Exclusion("okta-spec", "11 *", "a reason with enough words", auth="bearer")
    assert rule.matches("okta-spec", "bearer", "11 Required Test: Check status 401", "")
    assert not rule.matches("okta-spec", "basic", "11 Required Test: Check status 401", "")
    assert not rule.matches("okta-legacy", "bearer", "11 Required Test: Check status 401", "")
    (tmp_path / "run.sh.stdout").write_text(
        "okta-spec: not run (no Runscope export at /x)\n", encoding="utf-8"
    )
    score = rc.score_suite("okta-spec", "bearer", tmp_path / "okta-spec.log", [rule])
    assert score.not_run is not None
    assert score.not_run.startswith("no Runscope export at /x")
    assert "NOT RUN" in score.line()


def test_split_check() -> None:
    assert rc.split_check("FAIL Folder/Request :: Status code is 204  [expected 204 but got 200]") == (
        "Folder/Request :: Status code is 204",
        "expected 204 but got 200",
    )
    assert rc.split_check("FAIL 03 step :: response_status equal_number 200") == (
        "03 step :: response_status equal_number 200",
        "",
    )
