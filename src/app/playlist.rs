//! Carrying a query (the playback token) into every URI of an HLS playlist:
//! the URI lines and the `URI="…"` attributes of tags (`EXT-X-MAP`,
//! `EXT-X-MEDIA`, …). Pure.

/// Appends `query` (`k=v`) to every URI in `playlist`.
pub fn add_query_to_uris(playlist: &str, query: &str) -> String {
    // One allocation: every line grows by at most the query and its separator.
    let lines = playlist.bytes().filter(|b| *b == b'\n').count() + 1;
    let mut out = String::with_capacity(playlist.len() + lines * (query.len() + 2));
    for line in playlist.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            out.push_str(line);
        } else if trimmed.starts_with('#') {
            push_uri_attribute(&mut out, line, query);
        } else {
            push_with_query(&mut out, trimmed, query);
        }
        out.push('\n');
    }
    out
}

fn push_with_query(out: &mut String, uri: &str, query: &str) {
    out.push_str(uri);
    out.push(if uri.contains('?') { '&' } else { '?' });
    out.push_str(query);
}

fn push_uri_attribute(out: &mut String, line: &str, query: &str) {
    const KEY: &str = "URI=\"";
    let found = line
        .find(KEY)
        .map(|i| i + KEY.len())
        .and_then(|start| line[start..].find('"').map(|len| (start, start + len)));
    match found {
        Some((start, end)) => {
            out.push_str(&line[..start]);
            push_with_query(out, &line[start..end], query);
            out.push_str(&line[end..]);
        }
        None => out.push_str(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uri_of_a_media_playlist_gets_the_token() {
        let pl =
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000,\nseg-00001.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(
            add_query_to_uris(pl, "token=t"),
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?token=t\"\n#EXTINF:4.000,\nseg-00001.m4s?token=t\n#EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn master_playlists_carry_it_into_renditions_and_variants() {
        let pl = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"audio/index.m3u8\",GROUP-ID=\"audio\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8?x=1\n";
        let out = add_query_to_uris(pl, "token=t");
        assert!(out.contains("URI=\"audio/index.m3u8?token=t\""));
        assert!(out.contains("360p/index.m3u8?x=1&token=t"));
        assert!(out.contains("#EXT-X-STREAM-INF:BANDWIDTH=1\n"));
    }
}
