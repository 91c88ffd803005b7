"""Real clients against a real server: curl and httpx, in the clear and over TLS."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..conftest import ServerFactory

curl = shutil.which("curl")
needs_curl = pytest.mark.skipif(curl is None, reason="curl is not installed")


def run_curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert curl is not None
    return subprocess.run(
        [curl, "--silent", "--show-error", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


@needs_curl
def test_curl_get_and_connection_reuse(serve: ServerFactory) -> None:
    server = serve()
    result = run_curl("--verbose", server.url + "/", server.url + "/scope")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello, world!")
    assert "Re-using existing connection" in result.stderr or "Reusing existing" in result.stderr


@needs_curl
def test_curl_chunked_upload(serve: ServerFactory, tmp_path: Path) -> None:
    server = serve()
    payload = tmp_path / "payload"
    payload.write_bytes(b"0123456789" * 10_000)
    result = run_curl(
        "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{payload}", server.url + "/echo"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0123456789" * 10_000


@needs_curl
def test_curl_large_upload_with_expect_continue(serve: ServerFactory, tmp_path: Path) -> None:
    server = serve()
    payload = tmp_path / "payload"
    payload.write_bytes(b"z" * 3_000_000)  # curl sends Expect: 100-continue above 1 MiB
    result = run_curl(
        "--verbose",
        "--data-binary",
        f"@{payload}",
        server.url + "/echo",
        "-o",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 100 Continue" in result.stderr
    assert (tmp_path / "out").read_bytes() == b"z" * 3_000_000


@needs_curl
def test_curl_http10_and_head(serve: ServerFactory) -> None:
    server = serve()
    result = run_curl("--http1.0", server.url + "/stream")
    assert result.stdout == "chunk0;chunk1;chunk2;"
    head = run_curl("--head", server.url + "/")
    assert "content-length: 13" in head.stdout.lower()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    ca_path = folder / "ca.pem"
    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    yield str(ca_path), str(cert_path), str(key_path)


def test_tls_with_httpx(serve: ServerFactory, tls_files: tuple[str, str, str]) -> None:
    ca_path, cert_path, key_path = tls_files
    server = serve(certfile=cert_path, keyfile=key_path)
    context = ssl.create_default_context(cafile=ca_path)
    with httpx.Client(verify=context) as client:
        response = client.get(f"https://127.0.0.1:{server.port}/scope")
    assert response.json()["scheme"] == "https"
    assert response.http_version == "HTTP/1.1"


@needs_curl
def test_tls_with_curl_negotiates_h2_or_http11(
    serve: ServerFactory, tls_files: tuple[str, str, str]
) -> None:
    ca_path, cert_path, key_path = tls_files
    server = serve(certfile=cert_path, keyfile=key_path)
    url = f"https://127.0.0.1:{server.port}/"
    result = run_curl("--verbose", "--cacert", ca_path, url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, world!"
    assert "ALPN: server accepted h2" in result.stderr
    result = run_curl("--verbose", "--http1.1", "--cacert", ca_path, url)
    assert result.stdout == "Hello, world!"
    assert "ALPN: server accepted http/1.1" in result.stderr
    old = run_curl(
        "--tlsv1.1", "--tls-max", "1.1", "--cacert", ca_path, f"https://127.0.0.1:{server.port}/"
    )
    assert old.returncode != 0  # TLS 1.2 is the minimum


def test_insecure_bind_redirects_to_https(
    serve: ServerFactory, tls_files: tuple[str, str, str]
) -> None:
    ca_path, cert_path, key_path = tls_files
    server = serve(
        certfile=cert_path,
        keyfile=key_path,
        insecure_bind=["127.0.0.1:0"],
        https_redirect=True,
    )
    assert server.server is not None
    https_url, http_url = server.server.urls()
    assert https_url.startswith("https://") and http_url.startswith("http://")
    https_port = int(https_url.rsplit(":", 1)[1])
    response = httpx.get(http_url + "/a?b=c", headers={"host": "localhost:1234"})
    assert response.status_code == 308
    assert response.headers["location"] == f"https://localhost:{https_port}/a?b=c"
    context = ssl.create_default_context(cafile=ca_path)
    with httpx.Client(verify=context) as client:
        assert client.get(https_url + "/").text == "Hello, world!"
