//! A road's schema versions: `/paver/v1/roads/{name}/schemas[/{version}]`.
//! Schemas travel as the exact JSON text the client sent.

use axum::body::Body;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use roadroller_api::v1 as pb;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::Gateway;
use crate::body;
use crate::error::{ApiError, success};
use crate::forward::Calling;

const ADDED: &str = "Request to add a new schema received.";

/// Versions in ascending order, serialized as `{"1": <schema>, "2": ...}`.
struct ByVersion(Vec<(i32, Box<RawValue>)>);

impl Serialize for ByVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (version, schema) in &self.0 {
            map.serialize_entry(&version.to_string(), schema)?;
        }
        map.end()
    }
}

fn raw(schema: &pb::Schema) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(schema.schema.clone()).map_err(|e| {
        ApiError::bad_upstream(format!("schema version {} is not JSON: {e}", schema.version))
    })
}

fn json(text: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], text).into_response()
}

/// `GET /roads/{name}/schemas`: the active versions.
pub async fn list(
    Calling(gateway): Calling,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let request = pb::ListSchemasRequest { road: name.clone(), include_deleted: false };
    let schemas = gateway
        .upstream
        .paver
        .clone()
        .list_schemas(request)
        .await
        .map_err(|s| ApiError::from_status(&s, &name))?
        .into_inner()
        .schemas;
    let mut versions = Vec::with_capacity(schemas.len());
    for schema in schemas.iter().filter(|s| !s.deleted) {
        versions.push((schema.version, raw(schema)?));
    }
    versions.sort_by_key(|(v, _)| *v);
    let text = serde_json::to_string(&ByVersion(versions))
        .map_err(|e| ApiError::internal(format!("the schema list: {e}")))?;
    Ok(json(text))
}

/// `POST /roads/{name}/schemas`: the next version.
pub async fn add(
    Calling(gateway): Calling,
    Path(name): Path<String>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    register(&gateway, &name, 0, &headers, request).await
}

/// `POST /roads/{name}/schemas/{version}`: an explicit version, above every
/// earlier one.
pub async fn add_version(
    Calling(gateway): Calling,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    let version = number(&version)?;
    register(&gateway, &name, version, &headers, request).await
}

async fn register(
    gateway: &Gateway,
    name: &str,
    version: i32,
    headers: &HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    let text = body::read_json(headers, request, &gateway.limits).await?;
    let schema = std::str::from_utf8(&text)
        .map_err(|e| ApiError::unparsable(format!("the schema is not UTF-8 ({e})")))?;
    serde_json::from_str::<&RawValue>(schema).map_err(ApiError::unparsable)?;
    let request =
        pb::RegisterSchemaRequest { road: name.to_string(), schema: schema.to_string(), version };
    gateway
        .upstream
        .paver
        .clone()
        .register_schema(request)
        .await
        .map_err(|s| ApiError::from_status(&s, name))?;
    Ok(success(ADDED))
}

/// `GET /roads/{name}/schemas/{version}`, where `latest` is the latest
/// active version.
pub async fn get(
    Calling(gateway): Calling,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let number = if version == "latest" { 0 } else { number(&version)? };
    let request = pb::GetSchemaRequest { road: name.clone(), version: number };
    let schema = gateway
        .upstream
        .paver
        .clone()
        .get_schema(request)
        .await
        .map_err(|s| ApiError::from_status(&s, &name))?
        .into_inner()
        .schema
        .ok_or_else(|| ApiError::bad_upstream("GetSchema answered without a schema"))?;
    if schema.deleted {
        return Err(ApiError::not_found(format!(
            "Schema version {} of road \"{name}\" was deleted.",
            schema.version
        )));
    }
    Ok(json(schema.schema))
}

/// `DELETE /roads/{name}/schemas/{version}`: only the latest active version.
pub async fn delete(
    Calling(gateway): Calling,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let version = number(&version)?;
    gateway
        .upstream
        .paver
        .clone()
        .delete_schema(pb::DeleteSchemaRequest { road: name.clone(), version })
        .await
        .map_err(|s| ApiError::from_status(&s, &name))?;
    Ok(success("Request to delete a schema received."))
}

/// A schema version in a path: a positive number.
fn number(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid schema version {text:?}: expected a positive number"
        ))
    })
}
