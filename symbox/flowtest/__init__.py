"""``symbox test``: policy tests for flows, run through the real service and sandbox."""
