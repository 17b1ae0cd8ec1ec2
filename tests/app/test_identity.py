"""Tests for pneumo_core.app.access.identity: who the user is and which roles the ID token gives.

Each test name says the failure it guards against. The Streamlit parts run in AppTest with
its simulated `st.user` and secrets: fast, no server, no model."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pneumo_core.app.access.identity import READER, REPORTER, claim_value, roles_from_claim

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "c",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


@pytest.mark.parametrize("claim, roles", [
    (["reader"], {READER}),
    (["reporter"], {READER, REPORTER}),  # reporter implies reader
    ("reporter", {READER, REPORTER}),
    ("reader reporter", {READER, REPORTER}),
    ("reader,reporter", {READER, REPORTER}),
    (" Reader , ", {READER}),
    (["admin", "reader"], {READER}),  # other roles of the hospital's directory are ignored
    ([], set()),
    ("", set()),
    (None, set()),
    ({"reader": True}, set()),  # not a list nor a string: no role rather than a guess
    ("readers", set()),  # a look-alike is not the role
])
def test_roles_claim_is_read_as_a_list_or_separated_string_and_nothing_else_grants_a_role(claim, roles):
    assert roles_from_claim(claim) == frozenset(roles)


@pytest.mark.parametrize("claims, name, value", [
    ({"roles": ["reader"]}, "roles", ["reader"]),
    ({"realm_access": {"roles": ["reporter"]}}, "realm_access.roles", ["reporter"]),  # Keycloak
    ({"https://pneumo.example/roles": "reader"}, "https://pneumo.example/roles", "reader"),  # Auth0: dots in the name
    ({"realm_access": ["reader"]}, "realm_access.roles", None),
    ({}, "roles", None),
])
def test_a_roles_claim_is_found_by_its_name_or_a_dotted_path(claims, name, value):
    assert claim_value(claims, name) == value


def _who() -> None:
    import streamlit as st

    from pneumo_core.app.access import identity
    st.text(f"{identity.login_configured()}|{identity.current_user()}|{','.join(sorted(identity.current_roles()))}")


def run_as(script, user: dict | None = None, secrets: dict | None = None) -> AppTest:
    """`script` run once by AppTest as `user` (st.user's fields), with `secrets`."""
    at = AppTest.from_function(script)
    if user is not None:
        at.user = user
    at.secrets.update(secrets or {})
    at.run()
    assert not at.exception
    return at


def _run(user: dict | None = None, secrets: dict | None = None) -> str:
    return run_as(_who, user, secrets).text[0].value


def test_without_login_configured_the_one_person_at_the_desk_holds_both_roles():
    assert _run() == "False|local|reader,reporter"


def test_with_login_configured_an_anonymous_visitor_holds_no_role():
    assert _run({"is_logged_in": False}, {"auth": AUTH}) == "True|anonymous|"


def test_a_logged_in_user_holds_only_the_roles_of_the_configured_claim():
    user = {"is_logged_in": True, "email": "r@example.org", "sub": "42", "roles": ["reporter"], "groups": "reader"}
    assert _run(user, {"auth": AUTH}) == "True|r@example.org|reader,reporter"
    assert _run(user, {"auth": AUTH, "pneumo_auth": {"roles_claim": "groups"}}) == "True|r@example.org|reader"


def test_a_user_without_email_is_named_by_subject():
    assert _run({"is_logged_in": True, "sub": "42", "roles": "reader"}, {"auth": AUTH}) == "True|42|reader"
