"""The bottom layer every room shares: settings, the signal record and quarantine row, feature
contracts, the bundle manifest, the warehouse and its SQL, staging files, errors.

Nothing here imports another room of ours (see ``docs/ARCHITECTURE.md`` and the import-linter
contracts in ``pyproject.toml``).
"""

__version__ = "0.1.0"
