"""Tests of pneumo_core.pacs against a real Orthanc; a package so its conftest does not replace tests/conftest.py as the module `conftest`."""
