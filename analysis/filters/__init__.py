"""X-Ray filter expressions compiled into predicates over traces."""
