"""Real servers on free loopback ports for the test suite and the benchmarks (not part of the package).

``redis``: Redis and Valkey single servers, Sentinels and 3-master clusters from PyPI wheels; ``mongo``: a MongoDB
wire-protocol server (SecantusDB); ``process``: starting and stopping such child processes. The test fixtures
(``tests/conftest.py``) and ``benchmarks/`` both use these launchers.
"""
