"""The ``symbox`` command line: one module per command group, ``main`` parses and dispatches.

Owns: argument parsing, exit codes and what each command prints (``run``, ``validate``,
``token``, ``users``, ``audit``, ``report``, and the entry points of ``import``, ``test``
and the terminal client). It is the top of the package: it may import any part of
symbox, and nothing but ``symbox.__main__`` imports it.
"""
