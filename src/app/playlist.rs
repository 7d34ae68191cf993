//! Carrying a query (the playback token) into every URI of an HLS playlist:
//! the URI lines and the `URI="…"` attributes of tags (`EXT-X-MAP`,
//! `EXT-X-MEDIA`, …). Pure.

/// Appends `query` (`k=v`) to every URI in `playlist`.
pub fn add_query_to_uris(playlist: &str, query: &str) -> String {
    let mut out = String::with_capacity(playlist.len() + 64);
    for line in playlist.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            out.push_str(line);
        } else if trimmed.starts_with('#') {
            out.push_str(&rewrite_uri_attribute(line, query));
        } else {
            out.push_str(&with_query(trimmed, query));
        }
        out.push('\n');
    }
    out
}

fn with_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

fn rewrite_uri_attribute(line: &str, query: &str) -> String {
    const KEY: &str = "URI=\"";
    let Some(start) = line.find(KEY).map(|i| i + KEY.len()) else {
        return line.to_owned();
    };
    let Some(len) = line[start..].find('"') else {
        return line.to_owned();
    };
    let uri = &line[start..start + len];
    format!(
        "{}{}{}",
        &line[..start],
        with_query(uri, query),
        &line[start + len..]
    )
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
