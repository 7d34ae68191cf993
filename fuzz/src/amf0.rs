//! The AMF0 target: `rml_amf0` deserialization of arbitrary bytes (what
//! RTMP command and data messages carry), its serialize/deserialize round
//! trip, and our `onMetaData` extraction over every object found.

use std::collections::HashMap;
use std::io::Cursor;

use rml_rtmp::rml_amf0::{self, Amf0Value};
use rml_rtmp::sessions::StreamMetadata as RawMetadata;
use yanxiu_ingest::rtmp::StreamMetadata;

/// Deserializes `data` as AMF0 values. Values that deserialize serialize
/// again and deserialize to the same values; every object among them goes
/// through the metadata mapping the ingest reports.
pub fn amf0(data: &[u8]) {
    let Ok(values) = rml_amf0::deserialize(&mut Cursor::new(data)) else {
        return;
    };
    let bytes = rml_amf0::serialize(&values).expect("deserialized values serialize");
    let again =
        rml_amf0::deserialize(&mut Cursor::new(&bytes)).expect("serialized values deserialize");
    assert!(same_values(&values, &again), "AMF0 round trip");
    for value in &values {
        visit_objects(value, &mut |properties| check_metadata(properties.clone()));
    }
}

/// Maps properties as `rml_rtmp` does for `onMetaData`, then as the ingest
/// does; the ingest's view holds only plausible values.
pub(crate) fn check_metadata(properties: HashMap<String, Amf0Value>) {
    let mut raw = RawMetadata::new();
    raw.apply_metadata_values(properties);
    check_stream_metadata(&StreamMetadata::from(&raw));
}

/// What the ingest reports as metadata: no zeros, no NaN, no blank names.
pub(crate) fn check_stream_metadata(metadata: &StreamMetadata) {
    for value in [
        metadata.width,
        metadata.height,
        metadata.video_bitrate_kbps,
        metadata.audio_bitrate_kbps,
        metadata.audio_sample_rate,
    ]
    .into_iter()
    .flatten()
    {
        assert!(value > 0, "zero counts as unknown");
    }
    if let Some(fps) = metadata.frame_rate {
        assert!(fps.is_finite() && fps > 0.0, "frame rate {fps}");
    }
    if let Some(encoder) = &metadata.encoder {
        assert!(!encoder.trim().is_empty(), "blank encoder name");
    }
}

/// Calls `f` with the properties of every object (and ECMA array) inside
/// `value`, depth first. Bounded by the depth of the deserialized value.
fn visit_objects(value: &Amf0Value, f: &mut dyn FnMut(&HashMap<String, Amf0Value>)) {
    match value {
        Amf0Value::Object(properties) => {
            f(properties);
            for inner in properties.values() {
                visit_objects(inner, f);
            }
        }
        Amf0Value::StrictArray(items) => {
            for inner in items {
                visit_objects(inner, f);
            }
        }
        _ => {}
    }
}

/// Value equality where a NaN number equals a NaN with the same bits.
fn same_values(a: &[Amf0Value], b: &[Amf0Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
}

fn same_value(a: &Amf0Value, b: &Amf0Value) -> bool {
    match (a, b) {
        (Amf0Value::Number(a), Amf0Value::Number(b)) => a.to_bits() == b.to_bits(),
        (Amf0Value::Object(a), Amf0Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| same_value(a, b)))
        }
        (Amf0Value::StrictArray(a), Amf0Value::StrictArray(b)) => same_values(a, b),
        _ => a == b,
    }
}
