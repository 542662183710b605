"""The private parts of :class:`litestar_kvstores.mongo.MongoStore`, by layer.

- :mod:`.documents`: the document layout, expiry filters and counter values (no I/O);
- :mod:`.errors`: PyMongo's exceptions translated into this package's, naming server addresses only;
- :mod:`.connection`: client options, default timeouts and what a store shares with its namespaces.
"""
