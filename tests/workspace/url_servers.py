"""Loopback servers, a fake resolver and fetch helpers for the URL-fetch tests: a plain
HTTP image server, a TLS one with a self-signed certificate, and a test policy that may
reach loopback (production never may)."""

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from prompts.workspace import url_fetch
from prompts.workspace.url_fetch import UrlRefused, fetch_reference_url, is_public_address

MAX_BYTES = 1_000_000
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def refusal(url: str, **kwargs) -> UrlRefused:
    with pytest.raises(UrlRefused) as caught:
        fetch_reference_url(url, max_bytes=MAX_BYTES, **kwargs)
    assert str(caught.value.message), "every refusal tells the user why"
    return caught.value


def loopback_policy(scheme: str = "http", ssl_context=None) -> url_fetch._FetchPolicy:
    return url_fetch._FetchPolicy(
        schemes=(scheme,),
        address_allowed=lambda address: address.is_loopback or is_public_address(address),
        ssl_context=ssl_context,
    )


def fetch_from_loopback(url: str, policy=None, max_bytes: int = MAX_BYTES, timeout_s: float = 5):
    return url_fetch._fetch(
        url, max_bytes=max_bytes, timeout_s=timeout_s, policy=policy or loopback_policy()
    )


def refusal_from_loopback(url: str, **kwargs) -> UrlRefused:
    with pytest.raises(UrlRefused) as caught:
        fetch_from_loopback(url, **kwargs)
    return caught.value


class ImageServer:
    """A loopback HTTP(S) server: `routes` maps a path to a handler function."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self.routes = {}
        self.requests: list[tuple[str, str]] = []
        self.server_names: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers["Host"]))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should past a limit

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if ssl_context is not None:
            ssl_context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def image(self, path: str, body: bytes = PNG_BYTES, content_type: str = "image/png"):
        def respond(handler):
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

        self.routes[path] = respond

    def redirect(self, path: str, location: str, status: int = 302):
        def respond(handler):
            handler.send_response(status)
            handler.send_header("Location", location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        self.routes[path] = respond

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed_certificate(tmp_path, name: str) -> tuple[str, str, str]:
    """(certificate file, key file, certificate PEM) valid for `name` only."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file), pem


