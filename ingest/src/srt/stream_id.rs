//! The SRT `streamid` of a caller, read as a publish request: which channel
//! and key, in what the publish gate takes as RTMP's publishing name
//! (`<stream name>?key=<key>`, or the bare name or key). Pure.
//!
//! Forms taken:
//! - the SRT access-control form `#!::r=<stream name>,k=<key>,m=publish`
//!   (`u=` for the user is read and ignored; `m` absent means publish;
//!   `m=request` or `m=bidirectional` is refused: this server only ingests);
//! - `<stream name>?key=<key>` (OBS's stream-key field, as for RTMP);
//! - a bare `<stream name or key>`, passed to the gate as it is.

/// What a streamid asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    /// What the gate gets as `stream_name_or_key` (like RTMP's publishing
    /// name). It holds the key: never log it, log its fingerprint.
    pub stream_name_or_key: String,
}

/// Why a streamid is not a publish request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamIdError {
    /// No streamid, or an empty one.
    #[error("no streamid (没有 streamid)")]
    Missing,
    /// The caller wants to play (`m=request`) or to play and publish.
    #[error("streamid mode {0:?} is not publish; this server only takes publishing (只接受推流)")]
    NotPublish(String),
    /// An access-control streamid without a resource name or key.
    #[error("streamid has neither r= nor k= (streamid 缺少 r= 或 k=)")]
    NoResource,
}

/// Reads `stream_id` (at most 512 characters, as SRT limits it).
pub fn parse_stream_id(stream_id: &str) -> Result<PublishRequest, StreamIdError> {
    let stream_id = stream_id.trim();
    if stream_id.is_empty() {
        return Err(StreamIdError::Missing);
    }
    let Some(pairs) = stream_id.strip_prefix("#!::") else {
        return Ok(PublishRequest {
            stream_name_or_key: stream_id.to_owned(),
        });
    };
    let (mut resource, mut key, mut mode) = (None, None, None);
    for pair in pairs.split(',') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        match name.trim() {
            "r" => resource = Some(value.trim()),
            "k" => key = Some(value.trim()),
            "m" => mode = Some(value.trim()),
            // u= (user), s= (session), t= (type) and custom keys: not ours.
            _ => {}
        }
    }
    if let Some(mode) = mode
        && !mode.eq_ignore_ascii_case("publish")
    {
        return Err(StreamIdError::NotPublish(mode.to_owned()));
    }
    let stream_name_or_key = match (resource.filter(|r| !r.is_empty()), key) {
        (Some(resource), Some(key)) if !key.is_empty() => format!("{resource}?key={key}"),
        (Some(resource), _) => resource.to_owned(),
        (None, Some(key)) if !key.is_empty() => key.to_owned(),
        _ => return Err(StreamIdError::NoResource),
    };
    Ok(PublishRequest { stream_name_or_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate_string(stream_id: &str) -> String {
        parse_stream_id(stream_id)
            .map(|r| r.stream_name_or_key)
            .unwrap_or_else(|e| panic!("{stream_id:?}: {e}"))
    }

    #[test]
    fn the_access_control_form_becomes_the_rtmp_publishing_name() {
        assert_eq!(
            gate_string("#!::r=lecture-7,k=s3cr3t,m=publish"),
            "lecture-7?key=s3cr3t"
        );
        assert_eq!(
            gate_string("#!::m=publish,u=teacher,k=s3cr3t,r=lecture-7"),
            "lecture-7?key=s3cr3t"
        );
    }

    #[test]
    fn an_access_control_form_without_mode_is_a_publish() {
        assert_eq!(gate_string("#!::r=lecture-7,k=abc"), "lecture-7?key=abc");
    }

    #[test]
    fn an_access_control_form_with_only_a_resource_or_only_a_key_passes_that() {
        assert_eq!(gate_string("#!::r=lecture-7?key=abc"), "lecture-7?key=abc");
        assert_eq!(gate_string("#!::k=abc,m=publish"), "abc");
    }

    #[test]
    fn playing_or_bidirectional_mode_is_refused() {
        assert_eq!(
            parse_stream_id("#!::r=lecture-7,m=request"),
            Err(StreamIdError::NotPublish("request".into()))
        );
        assert!(matches!(
            parse_stream_id("#!::r=lecture-7,k=a,m=bidirectional"),
            Err(StreamIdError::NotPublish(_))
        ));
    }

    #[test]
    fn the_obs_form_and_a_bare_name_pass_as_they_are() {
        assert_eq!(gate_string("lecture-7?key=s3cr3t"), "lecture-7?key=s3cr3t");
        assert_eq!(gate_string("lecture-7"), "lecture-7");
    }

    #[test]
    fn an_empty_or_resourceless_streamid_is_refused() {
        assert_eq!(parse_stream_id(""), Err(StreamIdError::Missing));
        assert_eq!(parse_stream_id("  "), Err(StreamIdError::Missing));
        assert_eq!(
            parse_stream_id("#!::u=teacher,m=publish"),
            Err(StreamIdError::NoResource)
        );
    }

    #[test]
    fn the_error_text_never_contains_the_key() {
        let e = parse_stream_id("#!::r=x,k=s3cr3t,m=request").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"));
    }
}
