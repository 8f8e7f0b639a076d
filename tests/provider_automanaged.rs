//! Automanaged providers on loopback find each other through `/_health`,
//! serve Go's exact JSON, and drop a stopped node after the grace period.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use net::{free_port, wait_for_ids};

use std::time::Duration;

use protogossip::provider::{
    self, ProviderConfig, SelfMember,
    automanaged::{AutomanagedConfig, HEALTH_CONTENT_TYPE},
};

fn me(id: &str, port: u16) -> SelfMember {
    SelfMember {
        cluster_name: "amcluster".into(),
        system_id: id.into(),
        host: "127.0.0.1".into(),
        port,
        kinds: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_discover_each_other_and_drop_a_stopped_one() {
    let health_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let hosts: Vec<String> = health_ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let ids = ["node-a", "node-b", "node-c"];
    let mut handles = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let cfg = AutomanagedConfig::default()
            .with_port(health_ports[i])
            .with_hosts(hosts.clone())
            .with_refresh(Duration::from_millis(100))
            .with_request_timeout(Duration::from_millis(500))
            .with_missed_polls_before_leave(3);
        handles.push(
            provider::start(ProviderConfig::Automanaged(cfg), me(id, 9000 + i as u16))
                .await
                .unwrap(),
        );
    }
    for h in &handles {
        wait_for_ids(h, &ids, Duration::from_secs(10)).await;
    }
    let snapshot = handles[0].members().borrow().clone();
    assert_eq!(snapshot[1].port, 9001);
    assert_eq!(snapshot[1].host, "127.0.0.1");

    // The raw /_health answer is Go's: content type, field order, newline.
    let resp = http::get(&hosts[2], "/_health").await.unwrap();
    assert_eq!(resp.header("content-type"), Some(HEALTH_CONTENT_TYPE));
    assert_eq!(
        resp.body,
        format!(
            "{{\"id\":\"node-c\",\"address\":\"127.0.0.1\",\"auto_manage_port\":{},\"port\":9002,\"kinds\":[],\"cluster_name\":\"amcluster\"}}\n",
            health_ports[2]
        )
    );

    let mut c = handles.pop().unwrap();
    c.shutdown(Duration::from_secs(5)).await;
    for h in &handles {
        wait_for_ids(h, &ids[..2], Duration::from_secs(10)).await;
    }
    for mut h in handles {
        h.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = AutomanagedConfig::default()
        .with_port(port)
        .with_hosts(vec![format!("127.0.0.1:{port}")]);
    let err = provider::start(ProviderConfig::Automanaged(cfg), me("x", 9000))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
