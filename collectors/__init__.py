"""spanscope collectors: receive, normalize, store and map spans. Owns the span model."""
