"""The benchmark behind `make bench` (see bench/README.md); not part of the installed package."""
