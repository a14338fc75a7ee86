"""Renderers that turn analysis results into plain or Rich text, safely."""
