"""Renderers: analysis results and traces turned into text, JSON, Markdown, SVG and HTML, for both faces (CLI and TUI)."""
