#![allow(dead_code)] // each test crate uses a different part of this helper
//! A real Kubernetes API server (with its own etcd) for the k8s provider's
//! tests, started and stopped by `scripts/kube-apiserver.sh` (which builds
//! kube-apiserver from the Go module once and reuses it), and the Pod
//! objects a test places its members in. No kubelet runs: a test sets a
//! pod's phase and IP through the status subresource.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};

/// The namespace every test pod lives in (the API server creates it).
pub const NAMESPACE: &str = "default";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-apiserver.sh")
}

/// Runs the script; a failure fails the test with its output (the API
/// server could not be built or started: never a silent skip).
fn run_script(command: &str, dir: &Path) {
    let out = Command::new("bash")
        .arg(script())
        .arg(command)
        .arg(dir)
        .output()
        .expect("run scripts/kube-apiserver.sh");
    assert!(
        out.status.success(),
        "scripts/kube-apiserver.sh {command} {} failed ({}):\n{}{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running kube-apiserver + etcd, stopped and removed on drop.
pub struct KubeApi {
    dir: PathBuf,
    /// Its kubeconfig (token user, server certificate not verified).
    pub kubeconfig: PathBuf,
    /// A client for the test's own requests.
    pub client: Client,
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

impl KubeApi {
    /// Starts one (off the async workers: the first start may build).
    pub async fn start() -> KubeApi {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "protogossip-kube-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let d = dir.clone();
        tokio::task::spawn_blocking(move || run_script("start", &d))
            .await
            .unwrap();
        let kubeconfig = dir.join("kubeconfig");
        let client = client(&kubeconfig).await;
        KubeApi {
            dir,
            kubeconfig,
            client,
        }
    }

    /// Stops etcd and the API server and starts them again (same ports and
    /// data); returns when the API server is ready.
    pub async fn restart(&self) {
        let d = self.dir.clone();
        tokio::task::spawn_blocking(move || run_script("restart", &d))
            .await
            .unwrap();
    }

    /// The pods of [`NAMESPACE`].
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Creates pod `name` with `labels` and makes it `Running` at `ip`
    /// (status subresource).
    pub async fn running_pod(&self, name: &str, labels: &[(&str, &str)], ip: &str) {
        let pods = self.pods();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name,
                "labels": labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            },
            "spec": { "containers": [{ "name": "app", "image": "protogossip:test" }] },
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod)
            .await
            .unwrap_or_else(|e| panic!("create pod {name}: {e}"));
        let status = serde_json::json!({ "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{ "ip": ip }],
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap_or_else(|e| panic!("set status of pod {name}: {e}"));
    }

    /// Sets (`Some`) or removes (`None`) labels of pod `name`.
    pub async fn label(&self, name: &str, labels: &[(&str, Option<&str>)]) {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    v.map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect();
        self.pods()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "metadata": { "labels": labels } })),
            )
            .await
            .unwrap_or_else(|e| panic!("label pod {name}: {e}"));
    }

    /// Deletes pod `name` at once.
    pub async fn delete_pod(&self, name: &str) {
        self.pods()
            .delete(name, &DeleteParams::default().grace_period(0))
            .await
            .unwrap_or_else(|e| panic!("delete pod {name}: {e}"));
    }

    /// The labels of pod `name`.
    pub async fn labels(&self, name: &str) -> BTreeMap<String, String> {
        self.pods()
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("get pod {name}: {e}"))
            .metadata
            .labels
            .unwrap_or_default()
    }
}

async fn client(kubeconfig: &Path) -> Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    Client::try_from(config).unwrap()
}
