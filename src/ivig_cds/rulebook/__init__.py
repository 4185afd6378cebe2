"""The rulebook: rule files as data, their condition language, load-time validation and stratification."""
