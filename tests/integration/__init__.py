"""Tests against a real Kafka broker and Kafka Connect worker (see conftest.py and kafka_stack.py)."""
