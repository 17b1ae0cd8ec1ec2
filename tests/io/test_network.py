"""Tests for pneumo_core.io.network: the one loopback rule, and its two callers at the cases where
the launcher's and the PACS client's own copies used to disagree (`LOCALHOST`, `localhost.`, `[::1]`,
padding, None)."""
from __future__ import annotations

import pytest
from requests.auth import HTTPBasicAuth

from pneumo_core.app.serve import exposure_problem
from pneumo_core.io.network import is_loopback
from pneumo_core.pacs.errors import PacsRefused
from pneumo_core.pacs.transport import check_url


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("LOCALHOST", True),      # the hosts file matches any case (the PACS client's copy said no)
    (" localhost ", True),    # padding from a settings file (the PACS client's copy said no)
    ("localhost.", False),    # the root dot skips the hosts file: DNS answers (the launcher's copy said yes)
    ("LOCALHOST.", False),
    (None, False),            # the PACS client's copy raised on None
    ("", False), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("[::1", False),
    ("pneumo.hospital.example", False), ("localhost.hospital.example", False), ("127.1", False),
])
def test_only_loopback_addresses_and_the_name_localhost_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_the_launcher_refuses_localhost_with_a_root_dot_without_login_as_any_name_dns_resolves():
    assert exposure_problem("localhost.", ["localhost"], "no [auth] section.").startswith("refusing to listen")
    assert exposure_problem("[::1]", ["localhost", "LOCALHOST"], "no [auth] section.") is None


@pytest.mark.parametrize("url", ["http://localhost.:8042/dicom-web", "http://localhost.hospital.example/dicom-web"])
def test_the_pacs_client_sends_no_credentials_over_http_to_a_name_dns_resolves(url):
    with pytest.raises(PacsRefused, match="credentials are not sent"):
        check_url(url, HTTPBasicAuth("u", "p"), allow_http=True)


@pytest.mark.parametrize("url", ["http://LOCALHOST:8042/dicom-web", "http://[::1]:8042/dicom-web"])
def test_the_pacs_client_still_sends_credentials_over_http_to_a_loopback_test_server(url):
    assert check_url(url, HTTPBasicAuth("u", "p"), allow_http=True).scheme == "http"
