"""spanscope analysis: pure functions over the span model (critical path, hotspots, failure chains, ...)."""
