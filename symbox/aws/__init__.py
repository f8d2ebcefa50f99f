"""AWS access: long-lived clients, Identity Center and IAM, and AWS errors classified.

A client library for the parts that reach AWS (strategies, secrets for hooks, the
Kinesis audit sink). May import only ``config`` and the shared top-level modules: what
AWS access means for a grant lives in ``symbox.strategies``.
"""
