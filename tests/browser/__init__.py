"""The status page in a real headless Chromium (Debian packages), against the console script and the fake Connect."""
