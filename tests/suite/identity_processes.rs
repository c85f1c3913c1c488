//! Identity across real processes: sessions survive a restart (SQLite), work on every instance
//! sharing a Redis, and end everywhere at sign-out; private-room membership changed on one
//! instance ends polls on another; the operator's `accounts` commands work on the store a
//! server uses.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};

use reqwest::{Client, Method, StatusCode};
use serde_json::json;
use tempfile::TempDir;

use crate::common::{
    cluster::Cluster,
    eventually,
    process::{call, client, sign_in, sign_up_and_in, sqlite, until_held, Server, PASSWORD},
};

/// `longpoll-chat --store STORE accounts ARGS...` with `stdin` as its input.
fn operator(store: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_longpoll-chat"))
        .args(["--store", store, "accounts"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

async fn me(client: &Client, server: &Server, token: &str) -> StatusCode {
    call(
        client,
        Method::GET,
        server.url("/api/me"),
        Some(token),
        None,
    )
    .await
    .0
}

#[tokio::test]
async fn accounts_made_by_the_operator_sign_in_and_sessions_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let store = sqlite(&dir);
    let (ok, said) = operator(&store, &["create", "Admin"], &format!("{PASSWORD}\n"));
    assert!(ok, "{said}");
    let (ok, said) = operator(&store, &["create", "admin"], &format!("{PASSWORD}\n"));
    assert!(!ok && said.contains("taken"), "{said}");
    let (ok, said) = operator(&store, &["create", "shorty"], "short\n");
    assert!(!ok && said.contains("at least 8"), "{said}");

    let client = client();
    let server = Server::start(&store, "127.0.0.1:0");
    let (status, session) = sign_in(&client, &server, "admin").await;
    assert_eq!(status, StatusCode::CREATED);
    let token = session["token"].as_str().unwrap().to_owned();
    let addr = server.kill();

    let server = Server::start(&store, &addr.to_string());
    assert_eq!(me(&client, &server, &token).await, StatusCode::OK);

    // Disabled while the server runs: no new sign-in, ever; listed as disabled.
    let (ok, said) = operator(&store, &["disable", "ADMIN"], "");
    assert!(ok, "{said}");
    let (status, refused) = sign_in(&client, &server, "admin").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    let (_, listed) = operator(&store, &["list"], "");
    assert!(listed.starts_with("Admin\tdisabled"), "{listed}");
    // Its session is gone from the store: a restarted server refuses it at once.
    let addr = server.kill();
    let server = Server::start(&store, &addr.to_string());
    assert_eq!(me(&client, &server, &token).await, StatusCode::UNAUTHORIZED);

    let (ok, _) = operator(&store, &["enable", "admin"], "");
    assert!(ok);
    let (ok, said) = operator(
        &store,
        &["reset-password", "admin"],
        "a brand new password\n",
    );
    assert!(ok, "{said}");
    let body = json!({"name": "admin", "password": "a brand new password"});
    let (status, _) = call(
        &client,
        Method::POST,
        server.url("/api/sessions"),
        None,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Nothing the operator typed or the server keeps shows the password.
    let (_, listed) = operator(&store, &["list"], "");
    assert!(!listed.contains("brand new"));
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_the_other_until_signed_out_there() {
    let cluster = Cluster::start();
    let (a, b) = (&cluster.a, &cluster.b);
    let client = client();
    let token = sign_up_and_in(&client, a, "quinn").await;
    assert_eq!(me(&client, b, &token).await, StatusCode::OK);
    // Used on A, so A has it in memory: signing out on B must still end it on A at once.
    assert_eq!(me(&client, a, &token).await, StatusCode::OK);
    let (status, _) = call(
        &client,
        Method::DELETE,
        b.url("/api/sessions/current"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    eventually(
        Duration::from_secs(10),
        "A refuses the revoked session",
        || async { me(&client, a, &token).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    // The account itself is shared: its name is taken on B too.
    let body = json!({"name": "QUINN", "password": PASSWORD});
    let (status, _) = call(
        &client,
        Method::POST,
        b.url("/api/accounts"),
        None,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_member_removed_on_one_instance_loses_their_poll_on_the_other() {
    let cluster = Cluster::start();
    let (a, b) = (&cluster.a, &cluster.b);
    let client = client();
    let owner = sign_up_and_in(&client, a, "rita").await;
    let member = sign_up_and_in(&client, a, "sam").await;
    let create = json!({"name": "shared-secret", "private": true});
    let (status, _) = call(
        &client,
        Method::POST,
        a.url("/api/rooms"),
        Some(&owner),
        Some(create),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // B learns of the room: others get 404 there too.
    let outsider = sign_up_and_in(&client, b, "tess").await;
    eventually(
        Duration::from_secs(10),
        "B hides the private room",
        || async {
            let url = b.url("/api/history?room=shared-secret");
            call(&client, Method::GET, url, Some(&outsider), None)
                .await
                .0
                == StatusCode::NOT_FOUND
        },
    )
    .await;
    let invite = a.url("/api/rooms/shared-secret/members/sam");
    let (status, _) = call(&client, Method::PUT, invite, Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK);
    eventually(
        Duration::from_secs(10),
        "B lets the new member in",
        || async {
            let url = b.url("/api/history?room=shared-secret");
            call(&client, Method::GET, url, Some(&member), None).await.0 == StatusCode::OK
        },
    )
    .await;

    let poll = tokio::spawn({
        let client = client.clone();
        let url = b.url("/api/poll?client_id=sam-tab&room=shared-secret&timeout=30");
        let member = member.clone();
        async move { call(&client, Method::GET, url, Some(&member), None).await }
    });
    until_held(&client, b, 1).await;
    let remove = a.url("/api/rooms/shared-secret/members/sam");
    let (status, _) = call(&client, Method::DELETE, remove, Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "disconnected");
    let url = b.url("/api/history?room=shared-secret");
    assert_eq!(
        call(&client, Method::GET, url, Some(&member), None).await.0,
        StatusCode::NOT_FOUND
    );
}
