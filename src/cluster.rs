//! Who this `serve` node is among many on one database: its id (from `[cluster] node_id`,
//! or kept in `DATA_DIR/node-id` so that a restarted node is the same node and takes its own
//! live channels back at once) and the URL other nodes reach it at (`[cluster]
//! advertise_url`, or the address its own listener is bound to).

use std::path::Path;

use anyhow::Context;
use yanxiu_control::live_leases::{LiveNode, NodeIdentity};

use crate::config::ServeConfig;

/// The file in the data directory holding the node's id.
pub const NODE_ID_FILE: &str = "node-id";

/// The node's id: configured, or read from (first written to) `DATA_DIR/node-id`.
pub fn node_id(config: &ServeConfig) -> anyhow::Result<String> {
    if let Some(id) = &config.cluster.node_id {
        anyhow::ensure!(
            !id.trim().is_empty() && id.len() <= 128,
            "cluster.node_id must be 1 to 128 characters"
        );
        return Ok(id.trim().to_owned());
    }
    persisted_id(&config.data_dir.join(NODE_ID_FILE))
}

fn persisted_id(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let id = uuid::Uuid::new_v4().to_string();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, format!("{id}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// The live node of this process: its id, the URL others reach it at (the advertised one,
/// else `own_url`, the listener it is bound to), and the lease time.
pub fn live_node(config: &ServeConfig, own_url: Option<String>) -> anyhow::Result<LiveNode> {
    let url = match (&config.cluster.advertise_url, own_url) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(url)) => url,
        (None, None) => anyhow::bail!(
            "cluster.advertise_url must be set when no HTTP listener is bound, so that other \
             nodes can reach this one"
        ),
    };
    Ok(LiveNode {
        identity: NodeIdentity {
            id: node_id(config)?,
            url,
        },
        lease_ms: i64::try_from(config.cluster.live_lease_seconds.clamp(3, 600) * 1000)
            .unwrap_or(15_000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_keeps_its_id_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServeConfig {
            data_dir: dir.path().join("data"),
            ..ServeConfig::default()
        };
        let first = node_id(&config).expect("id");
        assert_eq!(node_id(&config).expect("id"), first);
        config.cluster.node_id = Some("node-a".into());
        assert_eq!(node_id(&config).expect("id"), "node-a");
    }

    #[test]
    fn the_advertised_url_wins_over_the_bound_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServeConfig {
            data_dir: dir.path().to_owned(),
            ..ServeConfig::default()
        };
        let bound = Some("http://127.0.0.1:8080".to_owned());
        assert_eq!(
            live_node(&config, bound).expect("node").identity.url,
            "http://127.0.0.1:8080"
        );
        config.cluster.advertise_url = Some("http://10.0.0.11:8080/".into());
        let node = live_node(&config, None).expect("node");
        assert_eq!(node.identity.url, "http://10.0.0.11:8080");
        assert_eq!(node.lease_ms, 15_000);
        config.cluster.advertise_url = None;
        assert!(live_node(&config, None).is_err());
    }
}
