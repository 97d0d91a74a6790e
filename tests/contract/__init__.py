"""The HTTP contract, one file per endpoint, through the Flask app against a fake Connect."""
