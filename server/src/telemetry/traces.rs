//! OpenTelemetry traces, exported over OTLP/gRPC when an endpoint is set.
//!
//! Spans are made through the OpenTelemetry API on a tracer provider of this
//! server instance (not a process-wide one), so that several instances in
//! one process each export their own, and so that links and messaging
//! attributes are set exactly:
//! - a server span per RPC, continuing the caller's `traceparent`;
//! - a `send <topic>` producer span per Onramp batch, whose context is what
//!   the records' headers carry;
//! - a `process <topic>` consumer span per delivered Offramp batch, linked
//!   to the producers' contexts found in the records' headers.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Link, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

pub use opentelemetry::trace::Span;

/// How traces are sampled and where they go.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSettings {
    /// The OTLP/gRPC endpoint; `None` turns tracing off.
    pub endpoint: Option<String>,
    pub service_name: String,
    pub sampler: SamplerKind,
    /// For the ratio samplers, from 0 to 1.
    pub sampler_arg: f64,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: "roadroller".into(),
            sampler: SamplerKind::ParentBasedAlwaysOn,
            sampler_arg: 1.0,
        }
    }
}

/// The samplers of `OTEL_TRACES_SAMPLER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplerKind {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio,
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio,
}

impl SamplerKind {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::TraceIdRatio,
            "parentbased_always_on" => Self::ParentBasedAlwaysOn,
            "parentbased_always_off" => Self::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => Self::ParentBasedTraceIdRatio,
            _ => {
                return Err(
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                            parentbased_always_off or parentbased_traceidratio"
                        .into(),
                );
            }
        })
    }

    fn sampler(self, arg: f64) -> Sampler {
        match self {
            Self::AlwaysOn => Sampler::AlwaysOn,
            Self::AlwaysOff => Sampler::AlwaysOff,
            Self::TraceIdRatio => Sampler::TraceIdRatioBased(arg),
            Self::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            Self::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            Self::ParentBasedTraceIdRatio => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(arg)))
            }
        }
    }
}

/// This instance's tracer, or none when tracing is off. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tracing {
    inner: Option<(SdkTracerProvider, SdkTracer)>,
}

/// The span a server opened for an RPC, for what the call does within it.
#[derive(Clone, Debug)]
pub struct ServerSpan(pub Context);

impl Tracing {
    /// Starts exporting; must run on the Tokio runtime (the exporter's
    /// channel lives there).
    pub fn start(settings: &TraceSettings, instance_id: &str) -> Result<Self, String> {
        let Some(endpoint) = &settings.endpoint else { return Ok(Self::default()) };
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| format!("the OTLP exporter for {endpoint}: {e}"))?;
        // The builder also reads OTEL_RESOURCE_ATTRIBUTES.
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(settings.service_name.clone())
            .with_attributes([KeyValue::new("service.instance.id", instance_id.to_string())])
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(settings.sampler.sampler(settings.sampler_arg))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("roadroller");
        Ok(Self { inner: Some((provider, tracer)) })
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Exports what is left, within `within`.
    pub async fn shutdown(&self, within: Duration) {
        let Some((provider, _)) = self.inner.clone() else { return };
        let done = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(within));
        match tokio::time::timeout(within + Duration::from_millis(100), done).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "traces were not all exported"),
            _ => tracing::warn!("exporting traces did not finish within the grace period"),
        }
    }

    /// A server span for `service`/`method`, continuing `traceparent`.
    pub fn server(
        &self,
        service: &str,
        method: &str,
        traceparent: Option<&str>,
        tracestate: Option<&str>,
    ) -> Option<(opentelemetry_sdk::trace::Span, Context)> {
        let (_, tracer) = self.inner.as_ref()?;
        let parent = extract(traceparent, tracestate);
        let span = tracer
            .span_builder(format!("{service}/{method}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service.to_string()),
                KeyValue::new("rpc.method", method.to_string()),
            ])
            .start_with_context(tracer, &parent);
        let cx = parent.with_remote_span_context(span.span_context().clone());
        Some((span, cx))
    }

    /// A producer span for one batch to `topic`, child of `parent`.
    pub fn send(
        &self,
        parent: Option<&Context>,
        topic: &str,
        records: usize,
    ) -> Option<opentelemetry_sdk::trace::Span> {
        let (_, tracer) = self.inner.as_ref()?;
        let parent = parent.cloned().unwrap_or_default();
        Some(
            tracer
                .span_builder(format!("send {topic}"))
                .with_kind(SpanKind::Producer)
                .with_attributes([
                    KeyValue::new("messaging.system", "kafka"),
                    KeyValue::new("messaging.operation.type", "send"),
                    KeyValue::new("messaging.operation.name", "send"),
                    KeyValue::new("messaging.destination.name", topic.to_string()),
                    KeyValue::new("messaging.batch.message_count", records as i64),
                ])
                .start_with_context(tracer, &parent),
        )
    }

    /// A consumer span for one delivered batch from `topic`, linked to the
    /// contexts the records' `traceparent` headers carry.
    pub fn process<'a>(
        &self,
        topic: &str,
        group: Option<&str>,
        records: usize,
        traceparents: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    ) {
        let Some((_, tracer)) = self.inner.as_ref() else { return };
        let links: Vec<Link> = traceparents
            .filter_map(|(tp, ts)| {
                let cx = extract(Some(tp), ts);
                let span = cx.span().span_context().clone();
                span.is_valid().then(|| Link::with_context(span))
            })
            .collect();
        let mut attributes = vec![
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.operation.type", "process"),
            KeyValue::new("messaging.operation.name", "process"),
            KeyValue::new("messaging.destination.name", topic.to_string()),
            KeyValue::new("messaging.batch.message_count", records as i64),
        ];
        if let Some(group) = group {
            attributes.push(KeyValue::new("messaging.consumer.group.name", group.to_string()));
        }
        let mut span = tracer
            .span_builder(format!("process {topic}"))
            .with_kind(SpanKind::Consumer)
            .with_attributes(attributes)
            .with_links(links)
            .start(tracer);
        span.end();
    }
}

/// Ends an RPC's server span with its gRPC code.
pub fn end_server(mut span: opentelemetry_sdk::trace::Span, code: tonic::Code) {
    span.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
    if code != tonic::Code::Ok {
        span.set_status(Status::error(format!("{code:?}")));
    }
    span.end();
}

/// The W3C headers for `span`'s context: (traceparent, tracestate).
pub fn inject(span: &SpanContext) -> (Option<String>, Option<String>) {
    let cx = Context::new().with_remote_span_context(span.clone());
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    (carrier.remove("traceparent"), carrier.remove("tracestate").filter(|s| !s.is_empty()))
}

fn extract(traceparent: Option<&str>, tracestate: Option<&str>) -> Context {
    let mut carrier = HashMap::new();
    if let Some(tp) = traceparent {
        carrier.insert("traceparent".to_string(), tp.to_string());
    }
    if let Some(ts) = tracestate {
        carrier.insert("tracestate".to_string(), ts.to_string());
    }
    TraceContextPropagator::new().extract(&carrier)
}
