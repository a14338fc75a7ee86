"""The store's import paths: the package facade and ``spanscope.collectors.open_store`` (DESIGN §4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spanscope.collectors.model import Span


def test_open_store_from_collectors(tmp_path: Path) -> None:
    from spanscope.collectors import open_store
    from spanscope.collectors.store import Store

    with open_store(tmp_path / "spans.db") as store:
        assert isinstance(store, Store)
        tid = "5759e988bd862e3fe1be46a994272793"
        assert store.write_spans([Span(tid, "a" * 16, None, "api", "GET /", start_ns=1, end_ns=5)]).inserted == 1
        assert store.get_trace(tid).spans[0].name == "GET /"


def test_importing_collectors_does_not_import_the_store() -> None:
    code = "import sys, spanscope.collectors; print('spanscope.collectors.store' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import spanscope.collectors

    try:
        spanscope.collectors.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
