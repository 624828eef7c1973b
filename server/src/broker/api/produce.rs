//! Produce and InitProducerId.

use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::messages::produce_request::ProduceRequest;
use kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};

use super::{Context, s, write_io};
use crate::broker::log::LogError;
use crate::broker::state::code::{KAFKA_STORAGE_ERROR, UNKNOWN_TOPIC_OR_PARTITION};

const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_REQUEST: i16 = 42;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_RECORD: i16 = 87;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

/// Appends each partition's batches; the answer comes once they are in the
/// log. `acks=0` gets no answer, as from Kafka.
pub fn produce(ctx: &Context, request: ProduceRequest) -> Option<ProduceResponse> {
    let mut response = ProduceResponse::default();
    for topic_data in request.topic_data {
        let topic = ctx.state.topic(topic_data.name.as_str());
        let mut out = TopicProduceResponse::default();
        out.name = topic_data.name.clone();
        for data in topic_data.partition_data {
            let mut p = PartitionProduceResponse::default();
            p.index = data.index;
            p.base_offset = -1;
            p.log_append_time_ms = -1;
            p.log_start_offset = -1;
            let partition = topic.as_ref().and_then(|t| t.partition(data.index).map(|p| (t, p)));
            match (partition, data.records) {
                (None, _) => p.error_code = UNKNOWN_TOPIC_OR_PARTITION,
                (Some(_), None) => p.error_code = CORRUPT_MESSAGE,
                (Some((topic, partition)), Some(records)) => {
                    let config = topic.config();
                    match write_io(ctx, || partition.log.append(&records, &config)) {
                        Ok(appended) => {
                            p.base_offset = appended.base_offset;
                            p.log_start_offset = appended.log_start;
                        }
                        Err(e) => {
                            p.error_code = error_code(&e);
                            p.error_message = Some(s(e.to_string()));
                            if p.error_code == KAFKA_STORAGE_ERROR {
                                tracing::error!(error = %e, topic = %topic.name, "append to the log failed");
                            }
                        }
                    }
                }
            }
            out.partition_responses.push(p);
        }
        response.responses.push(out);
    }
    (request.acks != 0).then_some(response)
}

fn error_code(e: &LogError) -> i16 {
    match e {
        LogError::OffsetOutOfRange { .. } => OFFSET_OUT_OF_RANGE,
        LogError::Corrupt(_) => CORRUPT_MESSAGE,
        LogError::TooLarge { .. } => MESSAGE_TOO_LARGE,
        LogError::InvalidRecord(_) => INVALID_RECORD,
        LogError::OutOfOrderSequence { .. } => OUT_OF_ORDER_SEQUENCE_NUMBER,
        LogError::ProducerFenced { .. } => INVALID_PRODUCER_EPOCH,
        LogError::Transactional => INVALID_REQUEST,
        LogError::Storage(_) | LogError::Closed => KAFKA_STORAGE_ERROR,
    }
}

/// A producer id for an idempotent producer, or the same id with a newer
/// epoch for one that asks to bump its own. Transactions are not offered.
pub fn init_producer_id(ctx: &Context, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut r = InitProducerIdResponse::default();
    r.producer_id = ProducerId(-1);
    r.producer_epoch = -1;
    if request.transactional_id.as_ref().is_some_and(|t| !t.is_empty()) {
        r.error_code = TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return r;
    }
    if request.producer_id.0 >= 0
        && request.producer_epoch >= 0
        && request.producer_epoch < i16::MAX
    {
        r.producer_id = request.producer_id;
        r.producer_epoch = request.producer_epoch + 1;
        return r;
    }
    match ctx.state.new_producer_id() {
        Ok(id) => {
            r.producer_id = ProducerId(id);
            r.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!(error = %e, "the broker journal could not record a producer id");
            r.error_code = KAFKA_STORAGE_ERROR;
        }
    }
    r
}
