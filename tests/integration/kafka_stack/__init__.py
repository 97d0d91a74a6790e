"""A real single-node Kafka broker (KRaft) plus a real Kafka Connect distributed worker, for tests and the demo.

Stdlib only (Python 3.11). The jars come from Maven Central through ``tests/integration/kafka/pom.xml``
and are cached per Kafka version (see :func:`ensure_jars`). Verified versions: 4.4.0, 3.9.2, 3.4.1
with OpenJDK 17; facts and timings are in ``docs/real-kafka-connect.md``.

Modules: ``jars`` (versions, the jar cache), ``stack`` (the processes), ``rest`` (the worker's REST API),
``recipes`` (connector configs that reach known states), ``sasl`` (the broker's SASL/PLAIN listener),
``recording`` (fixtures for the fake Connect),
``__main__`` (the command line).

Library use::

    with KafkaStack("4.4.0") as stack:
        stack.create_connector("ok", recipes.running_sink(stack.workdir))
        stack.wait_for_state("ok", "RUNNING", ["RUNNING"])

Command line::

    # prints one JSON line {"connect_url", "worker_id", "version"}, then waits for SIGINT/SIGTERM
    python -m tests.integration.kafka_stack --version 4.4.0 [--demo]
    python -m tests.integration.kafka_stack --version 3.9.2 --record tests/fixtures/connect/3.9.2
"""

from tests.integration.kafka_stack import recipes
from tests.integration.kafka_stack.errors import ConnectRestError, StackError, UnsupportedFeatureError
from tests.integration.kafka_stack.jars import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    default_cache_dir,
    ensure_jars,
    version_tuple,
)
from tests.integration.kafka_stack.recipes import create_demo_connectors
from tests.integration.kafka_stack.recording import record_fixtures
from tests.integration.kafka_stack.rest import ConnectRest, RestResponse
from tests.integration.kafka_stack.sasl import SaslPlainListener
from tests.integration.kafka_stack.stack import KafkaStack

__all__ = [
    "DEFAULT_VERSION",
    "SUPPORTED_VERSIONS",
    "ConnectRest",
    "ConnectRestError",
    "KafkaStack",
    "RestResponse",
    "SaslPlainListener",
    "StackError",
    "UnsupportedFeatureError",
    "create_demo_connectors",
    "default_cache_dir",
    "ensure_jars",
    "recipes",
    "record_fixtures",
    "version_tuple",
]
