"""Fields bound for the log lines of one context: one field at a time binds as the keyword form does."""

from __future__ import annotations

import contextvars

import structlog

from bridge.log_fields import bind_log_field, bind_log_fields, merge_log_fields


def _bound() -> dict[str, object]:
    return dict(merge_log_fields(None, "info", {}))


def _as_keywords() -> dict[str, object]:
    bind_log_fields(request_id="r-1")
    bind_log_fields(idp_dialect="generic")
    bind_log_fields(idp="okta")
    bind_log_fields(idp_dialect="entra")
    return _bound()


def _one_by_one() -> dict[str, object]:
    bind_log_field("request_id", "r-1")
    bind_log_field("idp_dialect", "generic")
    bind_log_field("idp", "okta")
    bind_log_field("idp_dialect", "entra")
    return _bound()


def test_one_field_binds_keep_order_and_the_last_value() -> None:
    keywords = contextvars.copy_context().run(_as_keywords)
    one_by_one = contextvars.copy_context().run(_one_by_one)
    assert list(one_by_one.items()) == list(keywords.items())
    assert list(one_by_one) == ["request_id", "idp_dialect", "idp"]
    assert one_by_one["idp_dialect"] == "entra"


def test_an_event_field_wins_over_a_bound_one() -> None:
    def run() -> dict[str, object]:
        bind_log_field("idp", "okta")
        return dict(merge_log_fields(structlog.get_logger(), "info", {"idp": "mine"}))

    assert contextvars.copy_context().run(run) == {"idp": "mine"}
