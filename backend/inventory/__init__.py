"""The shared core every service stands on: the SQLite store and its migrations, audit, ids,
errors, validation, paths, locks, and the records several services share."""
