"""Trainer-test plumbing: the helpers beside this file import as `tiny_setup`; a `multihost` mark."""
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "multihost: starts several JAX processes on 127.0.0.1 (select with -m multihost)")
