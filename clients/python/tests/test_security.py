"""The Python client against secured servers: bearer tokens (JWTs checked
against a JWKS file) with typed UNAUTHENTICATED and PERMISSION_DENIED errors,
TLS with a private CA, and TLS with client certificates."""

from __future__ import annotations

import datetime
import ipaddress
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from roadroller import (
    Client,
    InitialPosition,
    Message,
    PermissionDeniedError,
    Record,
    RoadrollerError,
    RoadType,
    UnauthenticatedError,
    pb,
)

ISSUER = "https://issuer.test"
AUDIENCE = "roadroller"
SCHEMA = {"type": "object", "properties": {"n": {"type": "number"}}}


def road_name() -> str:
    return f"py_{uuid.uuid4().hex[:12]}"


# Tokens.


@dataclass
class Issuer:
    """An ES256 signing key, its public half in a JWKS file as key ``k1``."""

    key: ec.EllipticCurvePrivateKey
    jwks: Path

    def token(
        self,
        sub: str,
        groups: list[str],
        *,
        expires_in: float = 600,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "groups": groups,
            "iat": now,
            "exp": now + int(expires_in),
        }
        return jwt.encode(claims, key or self.key, algorithm="ES256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}))
    return Issuer(key, jwks)


@pytest.fixture(scope="module")
def auth_server(start_server: Callable[..., str], issuer: Issuer) -> str:
    return start_server(
        "--auth-jwks-file", str(issuer.jwks),
        "--auth-jwt-issuer", ISSUER,
        "--auth-jwt-audience", AUDIENCE,
        "--auth-admin-authorities", "admins",
    )  # fmt: skip


@pytest.fixture(autouse=True)
def no_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROADROLLER_TOKEN", raising=False)


def test_an_admin_token_may_create_and_list_roads(auth_server: str, issuer: Issuer) -> None:
    name = road_name()
    with Client(auth_server, token=issuer.token("alice", ["admins"])) as alice:
        created = alice.create_road(name, RoadType.COMPACTED, description="made by alice")
        assert created.name == name
        assert name in [r.name for r in alice.list_roads()]


def test_a_call_without_a_token_is_unauthenticated(auth_server: str) -> None:
    with Client(auth_server) as anonymous:
        with pytest.raises(UnauthenticatedError) as refused:
            list(anonymous.list_roads())
        assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert isinstance(refused.value, RoadrollerError)
        with pytest.raises(UnauthenticatedError):
            anonymous.create_road(road_name(), RoadType.STREAM)


def test_an_expired_or_foreign_token_is_unauthenticated(auth_server: str, issuer: Issuer) -> None:
    expired = issuer.token("alice", ["admins"], expires_in=-3600)
    foreign = issuer.token("alice", ["admins"], key=ec.generate_private_key(ec.SECP256R1()))
    for token in (expired, foreign, "not-a-jwt"):
        with Client(auth_server, token=token) as client:
            with pytest.raises(UnauthenticatedError):
                list(client.list_roads())


def test_a_principal_without_the_authority_is_permission_denied(
    auth_server: str, issuer: Issuer
) -> None:
    with Client(auth_server, token=issuer.token("bob", ["nobody"])) as bob:
        with pytest.raises(PermissionDeniedError) as refused:
            bob.create_road(road_name(), RoadType.COMPACTED)
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert not isinstance(refused.value, UnauthenticatedError)


def test_the_token_can_come_from_a_file(auth_server: str, issuer: Issuer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {issuer.token('alice', ['admins'])}\n")
    name = road_name()
    with Client(auth_server, token_file=token_file) as alice:
        alice.create_road(name, RoadType.STREAM)
        assert name in [r.name for r in alice.list_roads(RoadType.STREAM)]
    with Client(auth_server, token_file=str(token_file)) as alice:
        assert alice.get_road(name).name == name


def test_the_token_can_come_from_the_environment(
    auth_server: str, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROADROLLER_TOKEN", issuer.token("alice", ["admins"]))
    with Client(auth_server) as alice:
        list(alice.list_roads())
    with Client(auth_server, token=issuer.token("bob", ["nobody"])) as bob:
        with pytest.raises(PermissionDeniedError):
            bob.create_road(road_name(), RoadType.STREAM)


def test_streaming_calls_carry_the_token(auth_server: str, issuer: Issuer) -> None:
    with Client(auth_server, token=issuer.token("alice", ["admins"])) as alice:
        road = road_name()
        alice.create_road(road, RoadType.COMPACTED)
        alice.wait_for_topic(road)
        alice.register_schema(road, SCHEMA)
        alice.set_enabled(road)
        assert all(r.ok for r in alice.produce(road, [Record("k", {"n": 1})]))
        with alice.subscribe(road, "secured", initial_position=InitialPosition.EARLIEST) as sub:
            message = sub.poll(30)
            assert isinstance(message, Message) and message.key == "k"
        # The generated stubs go through the same channel, token included.
        assert alice.paver.GetRoad(pb.GetRoadRequest(name=road), timeout=30).road.enabled

    with Client(auth_server) as anonymous:
        with anonymous.subscribe(road, "secured") as sub:
            with pytest.raises(UnauthenticatedError):
                sub.poll(30)


def test_token_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", token="a", token_file=tmp_path / "token")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", token_file=tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        Client("127.0.0.1:1", token_file=tmp_path / "missing")
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", token="a", metadata=[("authorization", "Bearer b")])


# TLS.


@dataclass
class Pki:
    """A private CA; a server certificate for 127.0.0.1 and localhost; and a
    client certificate for ``alice``; all as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("Roadroller test CA", ca_key, None, ca=True)
    ca = (ca_cert.subject, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _issue(
        "localhost",
        server_key,
        ca,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue("alice", client_key, ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    ca_path, _ = _write(directory, "ca", ca_cert, ca_key)
    server_paths = _write(directory, "server", server_cert, server_key)
    client_paths = _write(directory, "client", client_cert, client_key)
    return Pki(ca_path, *server_paths, *client_paths)


@pytest.fixture(scope="module")
def tls_server(start_server: Callable[..., str], pki: Pki) -> str:
    return start_server(
        "--tls-cert-file", str(pki.server_cert),
        "--tls-key-file", str(pki.server_key),
    )  # fmt: skip


@pytest.fixture(scope="module")
def mtls_server(start_server: Callable[..., str], pki: Pki) -> str:
    return start_server(
        "--tls-cert-file", str(pki.server_cert),
        "--tls-key-file", str(pki.server_key),
        "--tls-client-ca-file", str(pki.ca),
        "--tls-require-client-cert", "true",
    )  # fmt: skip


def test_tls_with_the_private_ca(tls_server: str, pki: Pki) -> None:
    name = road_name()
    with Client(tls_server, ca_cert=pki.ca) as client:
        client.create_road(name, RoadType.STREAM)
    with Client(f"https://{tls_server}", ca_cert=str(pki.ca)) as client:
        assert name in [r.name for r in client.list_roads()]


def test_tls_refuses_a_server_it_does_not_trust(tls_server: str) -> None:
    # The system's roots do not include the test CA.
    with Client(f"https://{tls_server}", timeout=10) as client:
        with pytest.raises(RoadrollerError) as refused:
            list(client.list_roads())
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    # Nor does a plaintext client get an answer from a TLS server.
    with Client(tls_server, timeout=10) as client:
        with pytest.raises(RoadrollerError):
            list(client.list_roads())


def test_mutual_tls_with_a_client_certificate(mtls_server: str, pki: Pki) -> None:
    with Client(
        f"https://{mtls_server}",
        ca_cert=pki.ca,
        client_cert=pki.client_cert,
        client_key=pki.client_key,
    ) as client:
        list(client.list_roads())


def test_mutual_tls_without_a_client_certificate_fails(mtls_server: str, pki: Pki) -> None:
    with Client(mtls_server, ca_cert=pki.ca, timeout=10) as client:
        with pytest.raises(RoadrollerError):
            list(client.list_roads())


def test_tls_options_are_checked(pki: Pki) -> None:
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", ca_cert=pki.ca, client_cert=pki.client_cert)
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:1", ca_cert=pki.ca)
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", ca_cert=pki.ca, credentials=grpc.ssl_channel_credentials())
