"""The terminal client: ``symbox request``, ``pending``, ``grants``... against a running server."""
