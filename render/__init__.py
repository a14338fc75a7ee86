"""Renderers: analysis results and traces as text, JSON, Markdown, SVG and HTML, for both faces (CLI and TUI)."""
