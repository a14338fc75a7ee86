"""The `spanscope` command line: one module per command."""
