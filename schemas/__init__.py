"""The JSON schema of the plan format (package data)."""
