"""Fetching a reference image from a URL (prompts/workspace/url_fetch.py) without SSRF.

Nothing here touches the internet: names resolve through a fake resolver, numeric
hosts are refused before any connection, and the success paths talk to a server on
loopback through a test policy that differs from production only in being allowed to
reach loopback (and, for the plain-HTTP server, in accepting http://).
"""

import ipaddress
import time

import pytest

from prompts.workspace.url_fetch import is_public_address
from tests.workspace.url_servers import (
    MAX_BYTES,
    PNG_BYTES,
    fetch_from_loopback,
    loopback_policy,
    refusal,
    refusal_from_loopback,
)


@pytest.mark.parametrize(
    "url",
    [
        "http://images.example.com/cat.png",
        "file:///etc/passwd",
        "ftp://images.example.com/cat.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
def test_it_refuses_anything_but_https(url, dns):
    assert refusal(url).code == "bad_scheme"
    assert dns.lookups == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/cat.png",
        "https://10.0.0.5/cat.png",
        "https://192.168.1.20/cat.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/cat.png",
        "https://[::ffff:127.0.0.1]/cat.png",
        "https://[fd00::1]/cat.png",
        "https://0.0.0.0/cat.png",
    ],
)
def test_it_refuses_literal_private_addresses(url):
    assert refusal(url).code == "private_address"


def test_it_refuses_a_name_that_resolves_to_loopback(dns):
    dns["images.example.com"] = ["127.0.0.1"]

    assert refusal("https://images.example.com/cat.png").code == "private_address"


def test_it_refuses_a_name_when_any_of_its_addresses_is_private(dns):
    dns["images.example.com"] = ["93.184.215.14", "10.0.0.5"]

    assert refusal("https://images.example.com/cat.png").code == "private_address"


def test_it_refuses_unknown_names_and_urls_with_credentials(dns):
    assert refusal("https://nowhere.invalid/cat.png").code == "unresolvable"
    assert refusal("https://user:pw@images.example.com/cat.png").code == "bad_url"
    assert refusal("https://images.example.com:99999/cat.png").code == "bad_url"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fec0::1", False),  # IPv6 site-local
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.215.14", True),
        ("2002:a00:5::1", False),  # 6to4 wrapping 10.0.0.5
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ],
)
def test_it_tells_public_addresses_from_internal_ones(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_it_fetches_an_image_from_the_vetted_address_with_the_name_as_host(server, dns):
    dns["images.test"] = ["127.0.0.1"]
    server.image("/cat.png")
    url = f"http://images.test:{server.port}/cat.png"

    body, final_url = fetch_from_loopback(url)

    assert (body, final_url) == (PNG_BYTES, url)
    assert server.requests == [("/cat.png", f"images.test:{server.port}")]
    assert dns.lookups == ["images.test"]


def test_it_follows_up_to_three_redirects_checking_each(server, dns):
    dns["a.test"] = dns["b.test"] = ["127.0.0.1"]
    base_a, base_b = f"http://a.test:{server.port}", f"http://b.test:{server.port}"
    server.redirect("/1", f"{base_b}/2", status=301)
    server.redirect("/2", "/3", status=307)
    server.redirect("/3", f"{base_a}/cat.png", status=308)
    server.image("/cat.png")

    body, final_url = fetch_from_loopback(f"{base_a}/1")

    assert (body, final_url) == (PNG_BYTES, f"{base_a}/cat.png")
    assert dns.lookups == ["a.test", "b.test", "b.test", "a.test"]


def test_it_stops_after_three_redirects(server, dns):
    dns["a.test"] = ["127.0.0.1"]
    for hop in range(5):
        server.redirect(f"/{hop}", f"/{hop + 1}")
    server.image("/5")

    refused = refusal_from_loopback(f"http://a.test:{server.port}/0")

    assert refused.code == "too_many_redirects"
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    "location",
    ["http://internal.test/admin", "http://169.254.169.254/latest/meta-data/"],
)
def test_it_refuses_a_redirect_to_a_private_address(server, dns, location):
    dns["images.test"] = ["127.0.0.1"]
    dns["internal.test"] = ["10.0.0.5"]
    server.redirect("/cat.png", location)

    refused = refusal_from_loopback(f"http://images.test:{server.port}/cat.png")

    assert refused.code == "private_address"


def test_it_refuses_a_redirect_that_downgrades_to_http(tls_server, dns):
    dns["images.test"] = ["127.0.0.1"]
    tls_server.redirect("/cat.png", f"http://images.test:{tls_server.port}/cat.png")
    policy = loopback_policy("https", tls_server.client_context)

    refused = refusal_from_loopback(f"https://images.test:{tls_server.port}/cat.png", policy=policy)

    assert refused.code == "bad_scheme"


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "image/svg+xml", ""])
def test_it_refuses_a_response_that_is_not_a_jpeg_png_or_webp(server, dns, content_type):
    dns["images.test"] = ["127.0.0.1"]
    server.image("/cat.png", content_type=content_type)

    refused = refusal_from_loopback(f"http://images.test:{server.port}/cat.png")

    assert refused.code == "wrong_content_type"


def test_it_accepts_a_content_type_with_parameters(server, dns):
    dns["images.test"] = ["127.0.0.1"]
    server.image("/cat.jpg", b"\xff\xd8\xff" + b"\x00" * 10, content_type="Image/JPEG; q=1")

    body, _ = fetch_from_loopback(f"http://images.test:{server.port}/cat.jpg")

    assert body.startswith(b"\xff\xd8\xff")


def test_it_refuses_a_body_declared_larger_than_the_limit(server, dns):
    dns["images.test"] = ["127.0.0.1"]
    server.image("/big.png", b"x" * 2000)

    refused = refusal_from_loopback(f"http://images.test:{server.port}/big.png", max_bytes=1999)

    assert refused.code == "too_large"
    body, _ = fetch_from_loopback(f"http://images.test:{server.port}/big.png", max_bytes=2000)
    assert len(body) == 2000


def test_it_stops_reading_an_undeclared_body_past_the_limit(server, dns):
    dns["images.test"] = ["127.0.0.1"]
    sent = []

    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()
        for _ in range(2000):  # 128 MB if nobody stopped it
            handler.wfile.write(b"x" * 65536)
            sent.append(65536)

    server.routes["/endless.png"] = endless

    refused = refusal_from_loopback(f"http://images.test:{server.port}/endless.png")

    assert refused.code == "too_large"
    time.sleep(0.2)
    assert sum(sent) < 20 * MAX_BYTES


def test_it_times_out_a_server_that_does_not_answer(server, dns):
    dns["images.test"] = ["127.0.0.1"]
    server.routes["/slow.png"] = lambda handler: time.sleep(1.5)

    started = time.monotonic()
    refused = refusal_from_loopback(f"http://images.test:{server.port}/slow.png", timeout_s=0.2)

    assert refused.code == "timeout"
    assert time.monotonic() - started < 1


def test_it_times_out_a_server_that_drips_the_body(server, dns):
    dns["images.test"] = ["127.0.0.1"]

    def drip(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/drip.png"] = drip

    started = time.monotonic()
    refused = refusal_from_loopback(f"http://images.test:{server.port}/drip.png", timeout_s=0.2)

    assert refused.code == "timeout"
    assert time.monotonic() - started < 2


def test_it_refuses_an_error_status(server, dns):
    dns["images.test"] = ["127.0.0.1"]

    refused = refusal_from_loopback(f"http://images.test:{server.port}/missing.png")

    assert refused.code == "bad_status"


def test_it_pins_tls_to_the_vetted_address_with_the_name_for_sni_and_certificate(tls_server, dns):
    dns["images.test"] = ["127.0.0.1"]
    tls_server.image("/cat.png")
    url = f"https://images.test:{tls_server.port}/cat.png"

    body, final_url = fetch_from_loopback(
        url, policy=loopback_policy("https", tls_server.client_context)
    )

    assert (body, final_url) == (PNG_BYTES, url)
    assert tls_server.server_names == ["images.test"]
    assert tls_server.requests == [("/cat.png", f"images.test:{tls_server.port}")]
    assert dns.lookups == ["images.test"]


def test_it_refuses_a_certificate_for_another_name(tls_server, dns):
    dns["elsewhere.test"] = ["127.0.0.1"]
    tls_server.image("/cat.png")

    refused = refusal_from_loopback(
        f"https://elsewhere.test:{tls_server.port}/cat.png",
        policy=loopback_policy("https", tls_server.client_context),
    )

    assert refused.code == "unreachable"
    assert tls_server.requests == []
