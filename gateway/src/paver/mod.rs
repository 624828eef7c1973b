//! Paver's REST routes under `/paver/v1`, each onto one or two PaverService
//! calls: roads here, schemas and the Hive destination in their modules.

mod hive;
mod patch;
mod road_json;
mod schemas;

use axum::body::Body;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use roadroller_api::v1 as pb;

use crate::Gateway;
use crate::body;
use crate::error::{ApiError, success};
use crate::forward::Calling;

pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/paver/v1/roads", get(list_roads).post(create_road))
        .route(
            "/paver/v1/roads/{name}",
            get(get_road).put(patch_road).patch(patch_road).delete(delete_road),
        )
        .route("/paver/v1/roads/{name}/schemas", get(schemas::list).post(schemas::add))
        .route(
            "/paver/v1/roads/{name}/schemas/{version}",
            get(schemas::get).post(schemas::add_version).delete(schemas::delete),
        )
        .route(
            "/paver/v1/roads/{name}/destinations/hive",
            get(hive::get).post(hive::create).put(hive::update).delete(hive::delete),
        )
}

/// A request body as JSON, within the limits.
async fn json_body(
    gateway: &Gateway,
    headers: &HeaderMap,
    request: Body,
) -> Result<serde_json::Value, ApiError> {
    let text = body::read_json(headers, request, &gateway.limits).await?;
    serde_json::from_slice(&text).map_err(ApiError::unparsable)
}

/// `GET /roads`: every road's name, sorted.
async fn list_roads(Calling(gateway): Calling) -> Result<Json<Vec<String>>, ApiError> {
    let mut paver = gateway.upstream.paver.clone();
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListRoadsRequest { page_size: 1000, page_token, r#type: 0 };
        let page = paver
            .list_roads(request)
            .await
            .map_err(|s| ApiError::from_status(&s, ""))?
            .into_inner();
        names.extend(page.roads.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    names.sort();
    Ok(Json(names))
}

/// `POST /roads`.
async fn create_road(
    Calling(gateway): Calling,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    let input = road_json::parse_input(json_body(&gateway, &headers, request).await?)?;
    let road = road_json::new_road(input)?;
    let name = road.name.clone();
    gateway
        .upstream
        .paver
        .clone()
        .create_road(pb::CreateRoadRequest { road: Some(road) })
        .await
        .map_err(|s| ApiError::from_status(&s, &name))?;
    Ok(success(format!("Request to create road \"{name}\" received")))
}

/// `GET /roads/{name}`.
async fn get_road(
    Calling(gateway): Calling,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let road = gateway.upstream.road(&name).await?;
    Ok(Json(road_json::view(&road)).into_response())
}

/// `PUT` and `PATCH /roads/{name}`: a JSON Patch on the road view, written
/// with UpdateRoad under the etag it was read with, so a concurrent change
/// is refused (409) instead of lost.
async fn patch_road(
    Calling(gateway): Calling,
    Path(name): Path<String>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    let body = json_body(&gateway, &headers, request).await?;
    let ops: Vec<patch::Operation> = serde_path_to_error::deserialize(body).map_err(|e| {
        ApiError::unparsable(format!("a JSON Patch array: {}: {}", e.path(), e.inner()))
    })?;
    let mask = patch::mask(&ops)?;
    let current = gateway.upstream.road(&name).await?;
    if mask.is_empty() {
        return Ok(success("Patch applied"));
    }
    let mut doc = serde_json::to_value(road_json::view(&current))
        .map_err(|e| ApiError::internal(format!("the road view: {e}")))?;
    patch::apply(&mut doc, &ops)?;
    let patched = road_json::parse_input(doc)?;
    let mut road =
        pb::Road { name: name.clone(), etag: current.etag.clone(), ..Default::default() };
    road_json::set_fields(&mut road, &patched)?;
    let request = pb::UpdateRoadRequest {
        road: Some(road),
        update_mask: Some(prost_types::FieldMask { paths: mask }),
    };
    gateway
        .upstream
        .paver
        .clone()
        .update_road(request)
        .await
        .map_err(|s| ApiError::from_status(&s, &name))?;
    Ok(success("Patch applied"))
}

/// `DELETE /roads/{name}`: only a disabled road; Traffic Control then
/// deletes its topic and the road.
async fn delete_road(
    Calling(gateway): Calling,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    gateway
        .upstream
        .paver
        .clone()
        .delete_road(pb::DeleteRoadRequest { name: name.clone(), etag: String::new() })
        .await
        .map_err(|s| ApiError::from_status(&s, &name))?;
    Ok(success(format!("Request to delete road \"{name}\" received")))
}
