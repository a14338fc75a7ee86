"""Service maps with X-Ray semantics, built as NetworkX graphs."""
