"""The front door: the ``spanscope`` command line, the one room that wires store, analysis, renderers and the TUI."""
