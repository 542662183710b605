"""Helpers, apps and store openers shared by the tests (no tests here; fixtures are in ``tests/conftest.py``)."""
