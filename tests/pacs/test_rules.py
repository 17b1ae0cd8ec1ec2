"""pacs.rules: what may be sent to a PACS (UID grammar, exact accession numbers, short date
ranges), and refusals that never repeat the value refused."""
import pytest

from pneumo_core.pacs.errors import PacsRefused
from pneumo_core.pacs.rules import MAX_SEARCH_DAYS, check_accession, check_dates, check_uid, is_uid


def _refusal(check, *args) -> str:
    with pytest.raises(PacsRefused) as exc:
        check(*args)
    return str(exc.value)


@pytest.mark.parametrize("uid", ["1.2.840.10008.5.1.4.1.1.104.1", "0", "2.25.0", "2.25." + "9" * 39, "1.0.2",
                                 "1." + "2" * 62])
def test_a_uid_in_the_dicom_grammar_passes(uid):
    assert is_uid(uid) and check_uid(uid, "study") == uid


@pytest.mark.parametrize("uid", ["", "1..2", ".1.2", "1.2.", "01.2", "1.02", "1.2.3a", "1.2.abc", "1 .2", " 1.2",
                                 "1.2\n", "1.2/3", "../../system", "1.2.3/../../../instances", "%2e%2e", "1.-2",
                                 "1." + "2" * 63, "1,2"],
                         ids=lambda u: repr(u)[:24])
def test_a_uid_outside_the_grammar_is_refused_without_being_echoed(uid):
    assert not is_uid(uid)
    with pytest.raises(PacsRefused, match="not a valid DICOM UID") as exc:
        check_uid(uid, "study")
    assert str(exc.value) == _refusal(check_uid, "x", "study")  # one fixed line, whatever was refused


def test_only_strings_are_uids():
    assert not is_uid(None) and not is_uid(1.2) and not is_uid(b"1.2")


@pytest.mark.parametrize("acc", ["ACC-1001", "A", "123456", "RAD.2024/17+#_", "x" * 16, "  ACC-1  "])
def test_an_exact_accession_number_passes_stripped(acc):
    assert check_accession(acc) == acc.strip()


@pytest.mark.parametrize("acc", ["", "   ", "*", "ACC*", "AC?1", "ACC\\1001", "A,B", "A B", "%", "x" * 17, "A\nB",
                                 "DOE^JANE"])
def test_a_wildcard_blank_or_odd_accession_is_refused_without_being_echoed(acc):
    with pytest.raises(PacsRefused, match="exactly") as exc:
        check_accession(acc)
    assert str(exc.value) == _refusal(check_accession, "")  # one fixed line, whatever was refused


def test_a_date_range_of_a_day_to_the_limit_passes():
    assert check_dates("20240105", "20240105") == ("20240105", "20240105")
    assert check_dates("20240101", f"202401{MAX_SEARCH_DAYS:02d}") == ("20240101", f"202401{MAX_SEARCH_DAYS:02d}")


@pytest.mark.parametrize("first,last,words", [("20240101", f"202401{MAX_SEARCH_DAYS + 1:02d}", "at most"),
                                              ("20240101", "20241231", "at most"), ("20240105", None, "both ends"),
                                              (None, "20240105", "both ends"), ("20240105", "20240101", "ends before"),
                                              ("2024-01-05", "20240105", "YYYYMMDD"), ("20240230", "20240301",
                                                                                       "YYYYMMDD")])
def test_an_open_long_reversed_or_malformed_date_range_is_refused(first, last, words):
    with pytest.raises(PacsRefused, match=words):
        check_dates(first, last)
