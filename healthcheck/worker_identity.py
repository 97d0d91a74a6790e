"""`--connect-worker-id auto`: the worker ids this host's own Connect worker may report (host:port)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

AUTO = "auto"
Resolve = Callable[[str], Iterable[str]]


def addresses_of(host: str) -> list[str]:
    """The IP addresses a name resolves to here (/etc/hosts or DNS); none when it does not resolve."""
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (OSError, UnicodeError):
        return []


def own_worker_ids(
    connect_url: str,
    *,
    hostname: Callable[[], str] = socket.gethostname,
    fqdn: Callable[[], str] = socket.getfqdn,
    resolve: Resolve = addresses_of,
) -> frozenset[str]:
    """host:port for every name and address of this host, with the port of --connect-url.

    A sidecar shares its pod's network: the worker advertises the pod's IP or hostname (as Connect's
    rest.advertised.host.name, by default the host's name), and --connect-url's host (often localhost) is this
    host too. Lower-cased, as worker ids are compared case-insensitively.
    """
    url = urlsplit(connect_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    names = {name for name in (url.hostname, hostname(), fqdn()) if name}
    hosts = set(names)
    for name in names:
        hosts.update(resolve(name))
    ids = set()
    for host in hosts:
        host = host.lower().split("%", 1)[0]  # an IPv6 zone id (fe80::1%eth0) is not part of a worker id
        ids.add(f"{host}:{port}")
        if ":" in host:  # IPv6: Connect may print it bracketed or not
            ids.add(f"[{host}]:{port}")
    return frozenset(ids)
