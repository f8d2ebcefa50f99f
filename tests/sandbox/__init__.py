"""Tests for the customer-hook sandbox."""
