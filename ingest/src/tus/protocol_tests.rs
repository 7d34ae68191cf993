//! Unit tests of the pure protocol core.

use super::*;
use axum::http::HeaderValue;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_static(v));
    }
    h
}

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn requests_without_tus_resumable_1_0_0_fail_with_412() {
    assert!(matches!(
        check_resumable(&headers(&[])),
        Err(TusError::UnsupportedVersion)
    ));
    let err = check_resumable(&headers(&[("tus-resumable", "0.2.2")])).unwrap_err();
    assert_eq!(err.status().as_u16(), 412);
    assert!(check_resumable(&headers(&[("tus-resumable", "1.0.0")])).is_ok());
}

#[test]
fn metadata_decodes_base64_pairs_and_keys_without_values() {
    // "filename" = "课程.mp4", "title" = "Lecture 1", "draft" without value.
    let value = format!(
        "filename {},title {},draft",
        STANDARD.encode("课程.mp4"),
        STANDARD.encode("Lecture 1")
    );
    let map = parse_metadata(&value).unwrap();
    assert_eq!(map["filename"], "课程.mp4");
    assert_eq!(map["title"], "Lecture 1");
    assert_eq!(map["draft"], "");
    assert_eq!(parse_metadata(&encode_metadata(&map)).unwrap(), map);
}

#[test]
fn malformed_metadata_is_rejected_with_400() {
    for bad in ["a !!!", "a YQ==,a YQ==", "a YQ== extra", "a /w=="] {
        let err = parse_metadata(bad).unwrap_err();
        assert_eq!(err.status().as_u16(), 400, "{bad}");
    }
    assert!(parse_metadata("").unwrap().is_empty());
}

#[test]
fn checksum_header_names_algorithm_and_base64_digest_of_the_right_size() {
    let sha1 = parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").unwrap();
    assert_eq!(sha1.algorithm, ChecksumAlgorithm::Sha1);
    assert_eq!(sha1.digest.len(), 20);
    assert!(matches!(
        parse_checksum("crc32 AAAAAA=="),
        Err(TusError::UnsupportedChecksumAlgorithm)
    ));
    assert!(matches!(
        parse_checksum("sha256 Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        Err(TusError::InvalidChecksum)
    ));
    assert!(matches!(
        parse_checksum("md5"),
        Err(TusError::InvalidChecksum)
    ));
}

#[test]
fn creation_requires_a_length_within_the_maximum() {
    let base = [("tus-resumable", "1.0.0")];
    assert!(matches!(
        creation_request(&headers(&base), 100),
        Err(TusError::MissingLength)
    ));
    let deferred = headers(&[("tus-resumable", "1.0.0"), ("upload-defer-length", "1")]);
    assert_eq!(
        creation_request(&deferred, 100)
            .unwrap_err()
            .status()
            .as_u16(),
        400
    );
    let negative = headers(&[("tus-resumable", "1.0.0"), ("upload-length", "-1")]);
    assert!(matches!(
        creation_request(&negative, 100),
        Err(TusError::InvalidLength)
    ));
    let big = headers(&[("tus-resumable", "1.0.0"), ("upload-length", "101")]);
    let err = creation_request(&big, 100).unwrap_err();
    assert_eq!(err.status().as_u16(), 413);
    let ok = headers(&[("tus-resumable", "1.0.0"), ("upload-length", "100")]);
    let req = creation_request(&ok, 100).unwrap();
    assert_eq!(req.length, 100);
    assert!(!req.with_data);
}

#[test]
fn creation_with_upload_needs_the_offset_stream_content_type() {
    let wrong = headers(&[
        ("tus-resumable", "1.0.0"),
        ("upload-length", "10"),
        ("content-type", "text/plain"),
        ("content-length", "5"),
    ]);
    assert_eq!(
        creation_request(&wrong, 100).unwrap_err().status().as_u16(),
        415
    );
    let right = headers(&[
        ("tus-resumable", "1.0.0"),
        ("upload-length", "10"),
        ("content-type", "application/offset+octet-stream"),
        ("content-length", "5"),
    ]);
    assert!(creation_request(&right, 100).unwrap().with_data);
    let too_much = headers(&[
        ("tus-resumable", "1.0.0"),
        ("upload-length", "10"),
        ("content-type", "application/offset+octet-stream"),
        ("content-length", "11"),
    ]);
    assert_eq!(
        creation_request(&too_much, 100)
            .unwrap_err()
            .status()
            .as_u16(),
        413
    );
}

#[test]
fn patch_needs_offset_stream_and_an_offset() {
    let no_type = headers(&[("tus-resumable", "1.0.0"), ("upload-offset", "0")]);
    assert_eq!(patch_request(&no_type).unwrap_err().status().as_u16(), 415);
    let no_offset = headers(&[
        ("tus-resumable", "1.0.0"),
        ("content-type", "application/offset+octet-stream"),
    ]);
    assert_eq!(
        patch_request(&no_offset).unwrap_err().status().as_u16(),
        400
    );
    let ok = headers(&[
        ("tus-resumable", "1.0.0"),
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", "42"),
        ("content-length", "8"),
    ]);
    let req = patch_request(&ok).unwrap();
    assert_eq!((req.offset, req.content_length), (42, Some(8)));
}

#[test]
fn patch_decision_checks_expiry_then_offset_then_length() {
    let state = UploadState {
        length: 100,
        offset: 40,
        expires: t(1000),
    };
    let req = |offset, content_length| PatchRequest {
        offset,
        content_length,
        checksum: None,
    };
    assert_eq!(
        decide_patch(&state, &req(40, Some(60)), t(10)).unwrap(),
        PatchPlan { max_bytes: 60 }
    );
    assert_eq!(
        decide_patch(&state, &req(30, Some(10)), t(10))
            .unwrap_err()
            .status()
            .as_u16(),
        409
    );
    assert_eq!(
        decide_patch(&state, &req(40, Some(61)), t(10))
            .unwrap_err()
            .status()
            .as_u16(),
        413
    );
    assert_eq!(
        decide_patch(&state, &req(40, Some(1)), t(1000))
            .unwrap_err()
            .status()
            .as_u16(),
        410
    );
}

#[test]
fn complete_uploads_never_expire() {
    let state = UploadState {
        length: 10,
        offset: 10,
        expires: t(5),
    };
    assert!(decide_head(&state, t(6)).is_ok());
    let unfinished = UploadState { offset: 9, ..state };
    assert_eq!(
        decide_head(&unfinished, t(6))
            .unwrap_err()
            .status()
            .as_u16(),
        410
    );
}

#[test]
fn upload_expires_is_an_rfc_7231_date() {
    assert_eq!(http_date(t(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(expires_after(t(10), Duration::from_secs(5)), t(15));
}

#[test]
fn discovery_announces_version_extensions_size_and_algorithms() {
    let h = discovery_headers(1234);
    let get = |name: &str| h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    assert_eq!(get("tus-version").as_deref(), Some("1.0.0"));
    assert_eq!(get("tus-max-size").as_deref(), Some("1234"));
    assert_eq!(
        get("tus-checksum-algorithm").as_deref(),
        Some("sha1,md5,sha256")
    );
    let extensions = get("tus-extension").unwrap();
    for ext in [
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
    ] {
        assert!(extensions.split(',').any(|e| e == ext), "{ext}");
    }
}
