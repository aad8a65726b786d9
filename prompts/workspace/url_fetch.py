"""Fetch a reference image from a user-supplied https URL, and post a webhook to one,
without becoming an SSRF proxy.

Every hop is vetted: https only, every address the name resolves to must be public, and
the connection goes to the address that was vetted, so a DNS answer that changes between
the check and the connect (rebinding) cannot point us at an internal service. A webhook
URL is vetted when it is saved and again before every delivery, since DNS can change.
"""

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from grokweb.refusals import Refusal

MAX_REDIRECTS = 3
ALLOWED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")
# Read timeouts reset on every byte, so a server dripping data could hold a worker for ever.
TOTAL_TIMEOUT_FACTOR = 3
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"https": 443, "http": 80}
_CHUNK_BYTES = 64 * 1024
# 64:ff9b::/96 is NAT64: a NAT64 router forwards to the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Refusal):
    """The URL cannot be fetched as a reference."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to. Tests replace this to fake DNS."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def is_public_address(address: IpAddress) -> bool:
    """True only for a globally routable unicast address, looking inside IPv6 forms that
    carry an IPv4 address (mapped ::ffff:a.b.c.d, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
        if address.teredo is not None:
            return is_public_address(address.teredo[1])
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class _FetchPolicy:
    """What a fetch may reach. Production uses _PUBLIC_INTERNET; tests build a policy
    that reaches their loopback server, and still check everything else."""

    schemes: tuple[str, ...]
    address_allowed: Callable[[IpAddress], bool]
    ssl_context: ssl.SSLContext | None


_PUBLIC_INTERNET = _FetchPolicy(
    schemes=("https",),
    address_allowed=is_public_address,
    ssl_context=ssl.create_default_context(cafile=certifi.where()),
)
PUBLIC_INTERNET = _PUBLIC_INTERNET


def fetch_reference_url(url: str, *, max_bytes: int, timeout_s: float = 10) -> tuple[bytes, str]:
    """Download an image; return (body, final URL) or raise UrlRefused.

    timeout_s applies to connecting and to each read; the whole fetch, redirects
    included, must end within TOTAL_TIMEOUT_FACTOR times that.
    """
    return _fetch(url, max_bytes=max_bytes, timeout_s=timeout_s, policy=_PUBLIC_INTERNET)


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    address: str
    path: str


def _fetch(
    url: str, *, max_bytes: int, timeout_s: float, policy: _FetchPolicy
) -> tuple[bytes, str]:
    deadline = time.monotonic() + TOTAL_TIMEOUT_FACTOR * timeout_s
    for _hop in range(MAX_REDIRECTS + 1):
        target = _vet(url, policy)
        remaining_s = deadline - time.monotonic()
        if remaining_s <= 0:
            raise _timed_out()
        response, pool = _request(target, min(timeout_s, remaining_s), policy)
        try:
            if response.status in _REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise _bad_status()
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise _bad_status()
            _check_content_type(response.headers.get("Content-Type", ""))
            return _read_body(response, max_bytes, deadline), url
        finally:
            response.release_conn()
            pool.close()
    raise UrlRefused(
        "too_many_redirects",
        format_lazy(
            _("The link redirects more than {count} times. Please link to the image itself."),
            count=MAX_REDIRECTS,
        ),
    )


def _vet(url: str, policy: _FetchPolicy) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad_url() from exc
    if parts.scheme not in policy.schemes:
        raise UrlRefused("bad_scheme", _("Only https:// links to images can be used."))
    port = port or _DEFAULT_PORTS[parts.scheme]
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise _bad_url()
    try:
        addresses = [
            ipaddress.ip_address(a.split("%")[0]) for a in resolve_host(parts.hostname, port)
        ]
    except (OSError, UnicodeError, ValueError) as exc:
        raise UrlRefused("unresolvable", _("This link's server name could not be found.")) from exc
    if not addresses:
        raise UrlRefused("unresolvable", _("This link's server name could not be found."))
    # One bad address refuses the lot: a name whose answers mix public and private
    # addresses is exactly what a rebinding attack looks like.
    if not all(policy.address_allowed(address) for address in addresses):
        raise UrlRefused(
            "private_address",
            _("This link points to a private or local network address, which is not allowed."),
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(parts.scheme, parts.hostname, port, str(addresses[0]), path)


def _request(
    target: _Target, timeout_s: float, policy: _FetchPolicy, *, method: str = "GET",
    body: bytes | None = None, headers: dict[str, str] | None = None,
) -> tuple[urllib3.BaseHTTPResponse, urllib3.HTTPConnectionPool]:
    """GET from the vetted address itself.

    A one-off urllib3 pool is opened on the IP, while TLS still sends the name as SNI and
    the ssl module checks the certificate against it (server_hostname), and the Host
    header carries the name: the server
    sees an ordinary request, and nothing resolves the name a second time. Plain urllib3
    rather than a requests adapter keeps the pinning visible in a few lines. Proxies from
    the environment are not used, on purpose: the proxy would resolve the name again.
    """
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == _DEFAULT_PORTS[target.scheme] else f"{host}:{target.port}"
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            ssl_context=policy.ssl_context,
            server_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    try:
        response = pool.urlopen(
            method,
            target.path,
            body=body,
            headers=headers | {"Host": host_header} if headers is not None else {
                "Host": host_header,
                "User-Agent": "GrokWeb reference fetcher",
                "Accept": ", ".join(ALLOWED_CONTENT_TYPES),
                # The byte limit then counts what is stored, and no gzip bomb can inflate.
                "Accept-Encoding": "identity",
            },
            redirect=False,
            preload_content=False,
            decode_content=False,
        )
    except urllib3.exceptions.TimeoutError as exc:
        pool.close()
        raise _timed_out() from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        pool.close()
        raise UrlRefused(
            "unreachable", _("The server for this link could not be reached securely.")
        ) from exc
    return response, pool


def url_vet(url: str, *, policy: _FetchPolicy = _PUBLIC_INTERNET) -> None:
    """Refuse (UrlRefused) a URL that could not be fetched under the policy: not https,
    unresolvable, or any of its addresses private."""
    _vet(url, policy)


@dataclass(frozen=True)
class PostAnswer:
    status: int
    excerpt: str  # the start of the answer's body, as text


def post_to_url(url: str, *, body: bytes, headers: dict[str, str], timeout_s: float,
                policy: _FetchPolicy = _PUBLIC_INTERNET, excerpt_bytes: int = 2048) -> PostAnswer:
    """POST to a vetted, pinned address; redirects are not followed (the answer is the 3xx).
    Raises UrlRefused when the URL is refused, or the server cannot be reached in time."""
    deadline = time.monotonic() + TOTAL_TIMEOUT_FACTOR * timeout_s
    target = _vet(url, policy)
    response, pool = _request(target, timeout_s, policy, method="POST", body=body,
                              headers=headers | {"Accept-Encoding": "identity"})
    try:
        excerpt = bytearray()
        try:
            while len(excerpt) < excerpt_bytes and (
                    chunk := response.read1(excerpt_bytes - len(excerpt), decode_content=False)):
                excerpt += chunk
                if time.monotonic() > deadline:
                    raise _timed_out()
        except urllib3.exceptions.TimeoutError as exc:
            raise _timed_out() from exc
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # the status is what counts; a cut body is only a shorter excerpt
        return PostAnswer(response.status, bytes(excerpt).decode("utf-8", "replace"))
    finally:
        response.release_conn()
        pool.close()


def _check_content_type(content_type: str) -> None:
    if content_type.split(";")[0].strip().lower() not in ALLOWED_CONTENT_TYPES:
        raise UrlRefused(
            "wrong_content_type",
            _("This link does not lead to a JPEG, PNG or WebP image."),
        )


def _read_body(response: urllib3.BaseHTTPResponse, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    try:
        # read1 returns what one socket read brings, so the deadline is checked while a
        # slow server drips bytes; read() would wait for a whole chunk first.
        while chunk := response.read1(_CHUNK_BYTES, decode_content=False):
            body += chunk
            if len(body) > max_bytes:
                raise _too_large(max_bytes)
            if time.monotonic() > deadline:
                raise _timed_out()
    except urllib3.exceptions.TimeoutError as exc:
        raise _timed_out() from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UrlRefused("unreachable", _("The download from this link was interrupted.")) from exc
    return bytes(body)


def _too_large(max_bytes: int) -> UrlRefused:
    return UrlRefused(
        "too_large",
        format_lazy(
            _("The image at this link is larger than {limit_mb} MB."),
            limit_mb=f"{max_bytes / 2**20:.3g}",
        ),
    )


def _bad_url() -> UrlRefused:
    return UrlRefused("bad_url", _("This is not a valid image link."))


def _bad_status() -> UrlRefused:
    return UrlRefused("bad_status", _("The server did not return an image for this link."))


def _timed_out() -> UrlRefused:
    return UrlRefused("timeout", _("The server for this link took too long to answer."))
