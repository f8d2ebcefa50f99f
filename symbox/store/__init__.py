"""SQLite storage: the schema, every SQL statement, the single writer and the readers."""
