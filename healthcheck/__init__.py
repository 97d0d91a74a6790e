"""kafka-connect-healthcheck: one HTTP answer for the health of a Kafka Connect cluster."""

__version__ = "1.0.0"
