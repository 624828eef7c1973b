//! A Rust client for Roadroller.
//!
//! ```no_run
//! # async fn example() -> Result<(), roadroller_client::Error> {
//! use futures::StreamExt;
//! use roadroller_client::{Client, Event, Record, SubscribeOptions};
//!
//! let client = Client::connect("http://127.0.0.1:50051").await?;
//! client.produce("customers", [Record::keyed("42", &serde_json::json!({"name": "Ada"}))]).await?;
//!
//! // The current state, then every change.
//! let mut changes = client.subscribe(SubscribeOptions::snapshot("customers")).await?;
//! while let Some(event) = changes.next().await {
//!     match event? {
//!         Event::Message(m) => println!("{:?} = {:?}", m.key, m.payload),
//!         Event::SnapshotComplete(_) => println!("-- up to date; following changes"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod cli;
mod connect;
mod error;
mod loading_bay;
mod produce;
mod roads;
mod streams;
mod subscribe;
mod tables;

pub use connect::ConnectOptions;
pub use error::Error;
pub use produce::{Outcome, Producer, Record, Violation};
pub use roadroller_api::v1 as pb;
pub use streams::StreamPosition;
pub use subscribe::{
    Control, DEFAULT_WINDOW, Event, InitialPosition, Message, SeekTo, SubscribeOptions,
    Subscription,
};
pub use tables::{Entry, EntryPage, ReadOptions, offsets_after};

use roadroller_api::v1::loading_bay_service_client::LoadingBayServiceClient;
use roadroller_api::v1::offramp_service_client::OfframpServiceClient;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_api::v1::stream_service_client::StreamServiceClient;
use roadroller_api::v1::table_service_client::TableServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use connect::Credentials;

/// A channel whose calls carry the client's credentials.
pub type AuthChannel = InterceptedService<Channel, Credentials>;

/// A connection to one Roadroller server (or a load balancer in front of
/// several). Cheap to clone; clones share the connection.
#[derive(Clone, Debug)]
pub struct Client {
    paver: PaverServiceClient<AuthChannel>,
    onramp: OnrampServiceClient<AuthChannel>,
    offramp: OfframpServiceClient<AuthChannel>,
    streams: StreamServiceClient<AuthChannel>,
    tables: TableServiceClient<AuthChannel>,
    loading_bay: LoadingBayServiceClient<AuthChannel>,
}

impl Client {
    /// Connects to `endpoint`, e.g. `http://127.0.0.1:50051` (or `https://`
    /// with the `tls` feature).
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self, Error> {
        Self::connect_with(endpoint, ConnectOptions::default()).await
    }

    /// Connects with explicit options (timeouts, TLS, a bearer token).
    pub async fn connect_with(
        endpoint: impl Into<String>,
        options: ConnectOptions,
    ) -> Result<Self, Error> {
        let channel = options.connect(endpoint.into()).await?;
        Ok(Self::from_channel_with(channel, options.credentials()))
    }

    /// Uses a channel configured elsewhere, without credentials.
    pub fn from_channel(channel: Channel) -> Self {
        Self::from_channel_with(channel, Credentials::default())
    }

    /// Uses a channel configured elsewhere; every call carries
    /// `credentials`.
    pub fn from_channel_with(channel: Channel, credentials: Credentials) -> Self {
        let channel = InterceptedService::new(channel, credentials);
        // Records and batches can be large; the server enforces its own
        // limits and says so.
        const MAX_MESSAGE: usize = 64 << 20;
        Self {
            paver: PaverServiceClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE),
            onramp: OnrampServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
            offramp: OfframpServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            streams: StreamServiceClient::new(channel.clone()),
            tables: TableServiceClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE),
            loading_bay: LoadingBayServiceClient::new(channel),
        }
    }

    /// The generated PaverService client, for calls the helpers don't cover.
    pub fn paver(&self) -> PaverServiceClient<AuthChannel> {
        self.paver.clone()
    }
}
