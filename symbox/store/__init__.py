"""SQLite storage: the schema, every SQL statement, the single writer and the readers.

All SQL lives here. May import: ``config``, ``engine``, the shapes of the rows it
writes (``audit.chain``, ``notify.model``) and the shared top-level modules.
"""
