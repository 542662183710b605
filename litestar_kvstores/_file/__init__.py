"""The parts of :class:`~litestar_kvstores.file.FileStore`, one module per layer (private; import ``FileStore`` from
:mod:`litestar_kvstores.file` or :mod:`litestar_kvstores`).

- :mod:`.format`: the on-disk format (file names, the entry header, expiry semantics).
- :mod:`.os_calls`: POSIX primitives: the directory lock, atomic replacement, reads that never wait for the disk.
- :mod:`.errors`: the translation of ``OSError`` into the package's errors, naming the path.
- :mod:`.fast_path`: reads served from the page cache on the event loop, without a thread hop.
- :mod:`.blocking`: every operation's blocking work on one directory, run in a worker thread
  (:mod:`litestar_kvstores._threads`, shared with the SQLite store).
"""
