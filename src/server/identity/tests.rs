use super::*;

async fn identity(config: IdentityConfig) -> Identity {
    Identity::open(config, &StoreConfig::Memory)
        .await
        .unwrap()
        .0
}

fn name_keys(identity: &Identity) -> usize {
    identity.shared.limits.sign_in_by_name.len()
}

#[tokio::test]
async fn refused_sign_ins_with_long_names_leave_nothing_in_the_limiter() {
    let identity = identity(IdentityConfig {
        sign_in_per_address: NonZeroU32::new(5).unwrap(),
        ..IdentityConfig::default()
    })
    .await;
    let address = "203.0.113.9".parse().unwrap();
    for i in 0..300 {
        let name = format!("{i}{}", "x".repeat(10_000));
        let refused = identity
            .sign_in(&name, "not the password", address)
            .await
            .unwrap_err();
        let expected = if i < 5 { 401 } else { 429 };
        assert_eq!(refused.status_code(), expected, "attempt {i}: {refused:?}");
    }
    assert_eq!(name_keys(&identity), 0);
}

#[tokio::test]
async fn a_full_sign_up_queue_refuses_sign_ups_but_not_sign_ins() {
    let identity = identity(IdentityConfig {
        parallel_hashes: 1,
        hash_queue: 1,
        ..IdentityConfig::default()
    })
    .await;
    let address = "203.0.113.9".parse().unwrap();
    let password = Password::parse("correct horse battery").unwrap();
    identity
        .create_account(AccountName::parse("early").unwrap(), password.clone())
        .await
        .unwrap();
    let hasher = &identity.shared.hasher;
    let (release, blocker) = secrets::tests::occupied(hasher).await;
    let waiting = secrets::tests::queued(hasher, secrets::Priority::SignUp);
    let refused = identity
        .sign_up("late", "correct horse battery", address)
        .await
        .unwrap_err();
    assert_eq!(refused.status_code(), 503, "{refused:?}");
    assert!(refused.retry_after_secs().is_some());
    // A sign-in waits in its own queue and is served first.
    let sign_in = tokio::spawn({
        let identity = identity.clone();
        async move {
            identity
                .sign_in("early", "correct horse battery", address)
                .await
        }
    });
    release.send(()).unwrap();
    blocker.await.unwrap();
    assert!(sign_in.await.unwrap().is_ok());
    waiting.await.unwrap();
    assert!(!identity
        .account_exists(&AccountName::parse("late").unwrap())
        .await
        .unwrap());
}
