"""Developer and build scripts (run as files; the package lets tests import them)."""
