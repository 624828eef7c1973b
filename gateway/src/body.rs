//! Reading a JSON request body within the limits: the media type, the
//! content encoding (identity, gzip, deflate), the size as sent and the size
//! once decompressed.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use bytes::{Bytes, BytesMut};
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use futures::StreamExt;

use crate::Limits;
use crate::error::ApiError;

/// How the body was compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

/// The body of a JSON request, decompressed, after checking its media type
/// and every limit. A body without a Content-Type is read as JSON, as Data
/// Highway's clients did not always send one.
pub async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limits: &Limits,
) -> Result<Bytes, ApiError> {
    check_json_media_type(headers)?;
    let encoding = encoding(headers)?;
    let sent = collect(headers, body, limits.max_body_bytes).await?;
    match encoding {
        Encoding::Identity if sent.len() > limits.max_inflated_bytes => {
            Err(inflated_too_large(limits.max_inflated_bytes))
        }
        Encoding::Identity => Ok(sent),
        compressed => {
            let cap = limits.max_inflated_bytes;
            // Inflating megabytes is CPU work; keep it off the async threads.
            tokio::task::spawn_blocking(move || inflate(compressed, &sent, cap))
                .await
                .map_err(|e| ApiError::internal(format!("decompression failed: {e}")))?
        }
    }
}

/// `application/json` or any `application/<x>+json` (such as
/// `application/json-patch+json`), with any parameters.
fn check_json_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else { return Ok(()) };
    let text = value.to_str().unwrap_or("");
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media(format!(
            "Unsupported media type {text:?}: send application/json"
        )))
    }
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else { return Ok(Encoding::Identity) };
    let text = value.to_str().unwrap_or("");
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "deflate" => Ok(Encoding::Deflate),
        _ => Err(ApiError::unsupported_media(format!(
            "Unsupported Content-Encoding {text:?}: send gzip, deflate or identity"
        ))),
    }
}

fn body_too_large(max: usize) -> ApiError {
    ApiError::too_large(format!("The request body is larger than {max} bytes"))
}

fn inflated_too_large(max: usize) -> ApiError {
    ApiError::too_large(format!("The request body is larger than {max} bytes once decompressed"))
}

/// The body as sent, refused as soon as it passes `max`: a declared length
/// is checked before reading, and the bytes are counted as they come.
async fn collect(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(body_too_large(max));
    }
    let mut stream = body.into_data_stream();
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("Reading the body: {e}")))?;
        if out.len() + chunk.len() > max {
            return Err(body_too_large(max));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Decompresses `sent`, reading at most one byte past `cap`: more than `cap`
/// is refused without inflating the rest.
pub(crate) fn inflate(encoding: Encoding, sent: &[u8], cap: usize) -> Result<Bytes, ApiError> {
    let reader: Box<dyn Read + '_> = match encoding {
        Encoding::Gzip => Box::new(MultiGzDecoder::new(sent)),
        // HTTP's "deflate" is the zlib format, but some clients send a raw
        // deflate stream; the zlib header tells them apart.
        Encoding::Deflate if has_zlib_header(sent) => Box::new(ZlibDecoder::new(sent)),
        Encoding::Deflate => Box::new(DeflateDecoder::new(sent)),
        Encoding::Identity => Box::new(sent),
    };
    let mut out = Vec::new();
    reader.take(cap as u64 + 1).read_to_end(&mut out).map_err(|e| {
        ApiError::unparsable(format!("the body is not valid {encoding:?} data ({e})"))
    })?;
    if out.len() > cap {
        return Err(inflated_too_large(cap));
    }
    Ok(out.into())
}

/// RFC 1950: compression method 8 and a header checksum divisible by 31.
fn has_zlib_header(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn compress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
        match encoding {
            Encoding::Gzip => {
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).expect("write");
                e.finish().expect("finish")
            }
            Encoding::Deflate => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).expect("write");
                e.finish().expect("finish")
            }
            Encoding::Identity => data.to_vec(),
        }
    }

    #[test]
    fn gzip_and_both_deflate_framings_inflate() {
        let data = br#"[{"a":1}]"#;
        for encoding in [Encoding::Gzip, Encoding::Deflate] {
            let sent = compress(encoding, data);
            assert_eq!(inflate(encoding, &sent, 100).expect("inflates"), &data[..]);
        }
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(data).expect("write");
        let raw = raw.finish().expect("finish");
        assert_eq!(inflate(Encoding::Deflate, &raw, 100).expect("raw deflate"), &data[..]);
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let sent = compress(Encoding::Gzip, &vec![b' '; 10 << 20]);
        assert!(sent.len() < 64 << 10, "the bomb is small: {}", sent.len());
        let err = inflate(Encoding::Gzip, &sent, 1 << 20).expect_err("over the cap");
        assert_eq!(err.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(inflate(Encoding::Gzip, &sent, 10 << 20).is_ok(), "exactly at the cap is fine");
    }

    #[test]
    fn corrupt_data_is_a_parse_error() {
        let err = inflate(Encoding::Gzip, b"not gzip at all", 100).expect_err("corrupt");
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(err.message.starts_with("Unable to parse message: "), "{}", err.message);
    }

    #[test]
    fn media_types_and_encodings() {
        let mut headers = HeaderMap::new();
        assert!(check_json_media_type(&headers).is_ok(), "absent is JSON");
        for ok in
            ["application/json", "application/json; charset=utf-8", "application/json-patch+json"]
        {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_json_media_type(&headers).is_ok(), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(bad));
            let err = check_json_media_type(&headers).expect_err(bad);
            assert_eq!(err.status, axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("GZIP"));
        assert_eq!(encoding(&headers).expect("gzip"), Encoding::Gzip);
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        let err = encoding(&headers).expect_err("br");
        assert_eq!(err.status, axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
