"""The citizen's notification inbox: rows written in the caller's transaction, read and marked read by
the citizen, optionally also sent as a text message."""
