"""The console: rich views for a person at a terminal (the only package that imports rich)."""
