//! While its provider is down, the keeper still hands out the current token as long as it has a
//! few seconds left (a script can use it), and never one about to die: a token with less than
//! 3 s left is refused with a plain "unavailable" instead of failing at the service.

mod support;

use std::time::Duration;

use support::{Setup, TokenEndpoint};
use tokenkeeper_engine::clock::Clock;
use tokenkeeper_engine::{Keeper, KeeperError};

/// Sleeps until `left_ms` before the token's recorded expiry (wall clock).
async fn sleep_until_left(setup: &Setup, keeper: &Keeper, left_ms: i64) {
    let expires_ms = keeper.status("svc").unwrap().view.access_expires_at.expect("an expiry") * 1000;
    let wait = expires_ms - left_ms - setup.clock.now_millis();
    assert!(wait > 0, "the token already has less than {left_ms} ms left");
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
}

#[tokio::test]
async fn a_token_with_seconds_left_is_handed_out_while_the_provider_is_down() {
    // 10 s: renewed in its last 5 s; at 4 s left the renewal fails and the token still works
    let setup = Setup::new(TokenEndpoint::unreachable(10));
    let (keeper, _) = setup.signed_in().await;
    sleep_until_left(&setup, &keeper, 4_000).await;
    let token = keeper.token("svc").await.expect("the current token, 4 s left");
    assert_eq!(token.expose(), "at-0");
}

#[tokio::test]
async fn a_token_about_to_die_is_not_handed_out() {
    // 6 s: at 2.5 s left the renewal fails and the token is too close to its end
    let setup = Setup::new(TokenEndpoint::unreachable(6));
    let (keeper, _) = setup.signed_in().await;
    sleep_until_left(&setup, &keeper, 2_500).await;
    match keeper.token("svc").await {
        Err(KeeperError::Unavailable(why)) => assert!(why.contains("no valid token right now"), "{why}"),
        other => panic!("expected unavailable, got {:?}", other.map(|t| t.expose().len())),
    }
}
