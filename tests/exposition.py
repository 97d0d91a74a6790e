"""Reading one sample out of a Prometheus text exposition, as a scraper would."""

from __future__ import annotations


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` with exactly `labels` in `text`, or fail."""
    wanted = {f'{key}="{value}"' for key, value in labels.items()}
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        sample_name, _, sample_labels = sample.partition("{")
        if (
            not line.startswith("#")
            and sample_name == name
            and set(filter(None, sample_labels.rstrip("}").split(","))) == wanted
        ):
            return float(value)
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")
