//! Blocking playlist reload (RFC 8216bis 6.2.5.2): for the `_HLS_msn` and
//! `_HLS_part` query values of a playlist request, whether the playlist can
//! be answered now, must wait for a later update, or is a 400. Pure: the
//! caller passes where the playlist currently stands.

use std::time::Duration;

/// Where a live playlist stands: its last complete segment and last published part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlaylistPosition {
    /// Media sequence number of the last complete segment, if any.
    pub last_segment: Option<u64>,
    /// The last published part (in the open segment, or the last part of the
    /// last complete segment), if any.
    pub last_part: Option<PartId>,
    /// `EXT-X-ENDLIST` has been written: nothing more will come.
    pub ended: bool,
}

/// A part: its segment's media sequence number and its index in the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartId {
    /// Media sequence number of the parent segment.
    pub msn: u64,
    /// Zero-based index within the parent segment.
    pub part: u64,
}

/// The `_HLS_msn` / `_HLS_part` delivery directives of a playlist request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReloadRequest {
    /// `_HLS_msn`.
    pub msn: Option<u64>,
    /// `_HLS_part`.
    pub part: Option<u64>,
}

/// What to do with a playlist request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadDecision {
    /// The playlist already satisfies the request: answer now.
    Ready,
    /// Hold the request until the playlist reaches the requested position.
    Wait,
    /// Answer 400 Bad Request.
    BadRequest(BadReloadRequest),
}

/// Why a blocking reload request is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadReloadRequest {
    /// `_HLS_part` without `_HLS_msn`.
    #[error("_HLS_part needs _HLS_msn (_HLS_part 参数必须与 _HLS_msn 一起使用)")]
    PartWithoutMsn,
    /// `_HLS_msn` more than two segments past the last one.
    #[error(
        "_HLS_msn {requested} is too far ahead of the playlist (_HLS_msn {requested} 超前播放列表太多)"
    )]
    MsnTooFarAhead {
        /// The requested media sequence number.
        requested: u64,
    },
    /// `_HLS_part` beyond the advance part limit.
    #[error(
        "_HLS_part {requested} is too far ahead of the playlist (_HLS_part {requested} 超前播放列表太多)"
    )]
    PartTooFarAhead {
        /// The requested part index.
        requested: u64,
    },
}

/// Decides a blocking reload request against the playlist's position.
///
/// - No directive: ready. `_HLS_part` alone: 400.
/// - An ended playlist answers every valid request now.
/// - `_HLS_msn=M` more than two past the last complete segment: 400.
/// - `_HLS_part=P` more than the Advance Part Limit (3 / part target when the
///   part target is under one second, otherwise 3) parts past the last
///   published part: 400; parts per segment are estimated as
///   `ceil(segment_target / part_target)` when the request names a later segment.
/// - Ready once the playlist holds segment `M` (without `_HLS_part`) or part
///   `P` of segment `M` or any later part (with it); wait until then.
pub fn decide_reload(
    position: PlaylistPosition,
    request: ReloadRequest,
    segment_target: Duration,
    part_target: Duration,
) -> ReloadDecision {
    let Some(msn) = request.msn else {
        return match request.part {
            Some(_) => ReloadDecision::BadRequest(BadReloadRequest::PartWithoutMsn),
            None => ReloadDecision::Ready,
        };
    };
    let next_segment = position.last_segment.map_or(0, |last| last + 1);
    let open_segment = position.last_part.map_or(next_segment, |p| p.msn);
    // "more than the last Media Segment plus two"; the open segment counts as
    // the last one the client can know of.
    let newest_known = position
        .last_segment
        .map_or(open_segment, |last| last.max(open_segment));
    if msn > newest_known + 2 {
        return ReloadDecision::BadRequest(BadReloadRequest::MsnTooFarAhead { requested: msn });
    }
    if let Some(part) = request.part {
        let limit = advance_part_limit(part_target);
        let per_segment = parts_per_segment(segment_target, part_target);
        let linear =
            |id: PartId| i128::from(id.msn) * i128::from(per_segment) + i128::from(id.part);
        let last = position.last_part.map_or_else(
            || i128::from(next_segment) * i128::from(per_segment) - 1,
            linear,
        );
        let ahead = linear(PartId { msn, part }) - last;
        if ahead > i128::from(limit) {
            return ReloadDecision::BadRequest(BadReloadRequest::PartTooFarAhead {
                requested: part,
            });
        }
    }
    if position.ended {
        return ReloadDecision::Ready;
    }
    let ready = match request.part {
        None => position.last_segment.is_some_and(|last| last >= msn),
        Some(part) => {
            position
                .last_part
                .is_some_and(|last| last >= PartId { msn, part })
                || position.last_segment.is_some_and(|last| last > msn)
        }
    };
    if ready {
        ReloadDecision::Ready
    } else {
        ReloadDecision::Wait
    }
}

/// The Advance Part Limit of RFC 8216bis 6.2.5.2.
fn advance_part_limit(part_target: Duration) -> u64 {
    let seconds = part_target.as_secs_f64();
    if seconds > 0.0 && seconds < 1.0 {
        (3.0 / seconds).ceil() as u64
    } else {
        3
    }
}

fn parts_per_segment(segment_target: Duration, part_target: Duration) -> u64 {
    let part = part_target.as_nanos().max(1);
    u64::try_from(segment_target.as_nanos().div_ceil(part)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEGMENT: Duration = Duration::from_secs(2);
    const HALF_SECOND: Duration = Duration::from_millis(500);

    fn at(last_segment: Option<u64>, last_part: Option<(u64, u64)>) -> PlaylistPosition {
        PlaylistPosition {
            last_segment,
            last_part: last_part.map(|(msn, part)| PartId { msn, part }),
            ended: false,
        }
    }

    fn request(msn: Option<u64>, part: Option<u64>) -> ReloadRequest {
        ReloadRequest { msn, part }
    }

    #[test]
    fn blocking_reload_decisions_follow_rfc_8216bis_6_2_5_2() {
        use ReloadDecision::{BadRequest, Ready, Wait};
        // Segment 4 complete, part 2 of segment 5 published; 0.5 s parts
        // (4 per segment, Advance Part Limit 6).
        let live = at(Some(4), Some((5, 2)));
        let table = [
            ("no directives", live, request(None, None), Ready),
            (
                "part without msn",
                live,
                request(None, Some(0)),
                BadRequest(BadReloadRequest::PartWithoutMsn),
            ),
            ("a listed segment", live, request(Some(4), None), Ready),
            ("an old segment", live, request(Some(0), None), Ready),
            (
                "the open segment, complete",
                live,
                request(Some(5), None),
                Wait,
            ),
            ("two segments ahead", live, request(Some(7), None), Wait),
            (
                "three segments ahead",
                live,
                request(Some(8), None),
                BadRequest(BadReloadRequest::MsnTooFarAhead { requested: 8 }),
            ),
            ("a published part", live, request(Some(5), Some(2)), Ready),
            ("an earlier part", live, request(Some(5), Some(0)), Ready),
            (
                "a part of a complete segment",
                live,
                request(Some(4), Some(9)),
                Ready,
            ),
            ("the next part", live, request(Some(5), Some(3)), Wait),
            (
                "the first part of the next segment",
                live,
                request(Some(6), Some(0)),
                Wait,
            ),
            (
                "at the advance part limit",
                live,
                request(Some(5), Some(8)),
                Wait,
            ),
            (
                "at the limit in a later segment",
                live,
                request(Some(7), Some(0)),
                Wait,
            ),
            (
                "past the advance part limit",
                live,
                request(Some(5), Some(9)),
                BadRequest(BadReloadRequest::PartTooFarAhead { requested: 9 }),
            ),
            (
                "past the limit in the next segment",
                live,
                request(Some(7), Some(1)),
                BadRequest(BadReloadRequest::PartTooFarAhead { requested: 1 }),
            ),
            (
                "an empty playlist, first segment",
                at(None, None),
                request(Some(0), None),
                Wait,
            ),
            (
                "an empty playlist, first part",
                at(None, None),
                request(Some(0), Some(0)),
                Wait,
            ),
            (
                "an empty playlist, far ahead",
                at(None, None),
                request(Some(3), None),
                BadRequest(BadReloadRequest::MsnTooFarAhead { requested: 3 }),
            ),
            (
                "an ended playlist",
                PlaylistPosition {
                    ended: true,
                    ..at(Some(9), Some((9, 3)))
                },
                request(Some(10), Some(0)),
                Ready,
            ),
        ];
        for (name, position, request, expected) in table {
            assert_eq!(
                decide_reload(position, request, SEGMENT, HALF_SECOND),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn the_advance_part_limit_is_three_parts_for_part_targets_of_a_second_or_more() {
        let live = at(Some(4), Some((5, 0)));
        let one_second = Duration::from_secs(1);
        assert_eq!(
            decide_reload(live, request(Some(5), Some(3)), SEGMENT, one_second),
            ReloadDecision::Wait
        );
        assert_eq!(
            decide_reload(live, request(Some(5), Some(4)), SEGMENT, one_second),
            ReloadDecision::BadRequest(BadReloadRequest::PartTooFarAhead { requested: 4 })
        );
    }
}
