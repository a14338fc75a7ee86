"""Fixtures for the command-line tests: the TUI's fixed sample store, for `spanscope tui` on a post-mortem store."""

from tests.tui.conftest import sample_db

__all__ = ["sample_db"]
