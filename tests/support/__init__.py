"""Helpers shared by the test suites (servers the tests start, builders of test data)."""
