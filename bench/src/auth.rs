//! Scenario 11: the cost of authentication. A second `roadroller serve` on
//! the same broker verifies bearer tokens against a JWKS; ProduceStream runs
//! against it and against the open server in turns, twice each, so that
//! both see the same machine.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use roadroller_client::{Client, ConnectOptions};

use crate::stage::{Result, STREAM, Server, Stage};
use crate::throughput;

const ISSUER: &str = "https://issuer.bench";
const AUDIENCE: &str = "roadroller-bench";

/// Records per second of ProduceStream: (open server, JWT server).
pub async fn produce_stream_with_jwt(stage: &Stage, bin: &Path, n: u64) -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let point = key.public_key_raw();
    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "bench",
        "alg": "ES256", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])}]});
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string())?;
    let jwks_file = jwks_file.to_str().ok_or("a UTF-8 path")?.to_string();
    let secured = Server::spawn_with(
        bin,
        &stage.bootstrap(),
        &[
            "--auth-jwks-file",
            &jwks_file,
            "--auth-jwt-issuer",
            ISSUER,
            "--auth-jwt-audience",
            AUDIENCE,
            "--auth-admin-authorities",
            "bench",
        ],
    )?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = serde_json::json!({"sub": "bench", "groups": ["bench"], "iss": ISSUER,
        "aud": AUDIENCE, "exp": now + 3600});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("bench".into());
    let signing = jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der());
    let token = jsonwebtoken::encode(&header, &claims, &signing)?;
    let options = ConnectOptions::default().with_token(&token)?;
    let client = Client::connect_with(format!("http://{}", secured.grpc), options).await?;

    let (mut open, mut jwt) = (0.0, 0.0);
    for _ in 0..2 {
        open += throughput::produce_stream_with(&stage.client, STREAM, n / 2).await?;
        jwt += throughput::produce_stream_with(&client, STREAM, n / 2).await?;
    }
    drop(secured);
    Ok((open / 2.0, jwt / 2.0))
}
