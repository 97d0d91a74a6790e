"""The deployment examples in deploy/."""
