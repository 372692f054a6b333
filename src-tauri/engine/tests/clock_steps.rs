//! The wall clock stepped an hour back or forward under a running keeper: token times came
//! from `expires_in` (a duration), so the next renewal must stay "receipt + lifetime − margin"
//! in real time — no renewal an hour late, none at once, no false alarm — and a keeper started
//! after the step reads the shifted times.
//!
//! The in-process keeper runs on a [`SteppableClock`] with the in-memory secret store, against a
//! tiny local token endpoint (tests/support) that answers every POST with a fresh token pair.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Setup, TokenEndpoint};
use tokenkeeper_engine::clock::Clock;
use tokenkeeper_engine::model::{NextAction, State};
use tokenkeeper_engine::{Event, Keeper};

/// Every token this endpoint issues lives this long.
const LIFETIME_S: i64 = 8;
/// The renewal margin of an 8 s token (a quarter, at least min(60 s, half)): 4 s.
const MARGIN_S: i64 = 4;
const HOUR_MS: i64 = 3_600_000;

/// The renewal time shown, in the clock's current frame (whole seconds).
fn renew_at(keeper: &Keeper) -> i64 {
    match keeper.status("svc").unwrap().view.next {
        NextAction::Renew(at) => at,
        other => panic!("expected a renewal next, got {other:?}"),
    }
}

/// States seen in events, collected until the test ends.
fn record_states(keeper: &Keeper) -> Arc<Mutex<Vec<State>>> {
    let states = Arc::new(Mutex::new(Vec::new()));
    let (mut events, seen) = (keeper.subscribe(), states.clone());
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let Event::Changed { view } = event {
                seen.lock().unwrap().push(view.state);
            }
        }
    });
    states
}

async fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// Steps the clock by `step_ms` right after sign-in and checks that the renewal stays where the
/// token's lifetime puts it in real time.
async fn renewal_follows_a_step(step_ms: i64) {
    let setup = Setup::new(TokenEndpoint::start(LIFETIME_S, Duration::ZERO));
    let (keeper, received) = setup.signed_in().await;
    let expires_before = keeper.status("svc").unwrap().view.access_expires_at.unwrap();
    let states = record_states(&keeper);
    let running = tokio::spawn({
        let keeper = keeper.clone();
        async move { keeper.run(None).await }
    });

    setup.clock.step(step_ms);
    let shifted = expires_before + step_ms / 1000;
    assert!(
        wait_for(Duration::from_secs(2), || keeper.status("svc").unwrap().view.access_expires_at == Some(shifted))
            .await,
        "the expiry moved with the step: {:?}, expected {shifted}",
        keeper.status("svc").unwrap().view.access_expires_at
    );
    // still "expiry − margin" (jitter only moves it up to a tenth of the margin earlier)
    let at = renew_at(&keeper);
    assert!((shifted - MARGIN_S - 1..=shifted - MARGIN_S).contains(&at), "renews at {at}, expiry {shifted}");
    assert_eq!(setup.endpoint.count(), 0, "no renewal at the moment of the step");

    assert!(wait_for(Duration::from_secs(15), || setup.endpoint.count() >= 1).await, "renewed at all");
    let after = setup.endpoint.first().unwrap() - received;
    // ideal: 4 s after receipt, up to 0.4 s earlier (jitter) and up to 1 s earlier (token times
    // are whole seconds); an hour late or at once (the bugs) are far outside
    let ideal = Duration::from_secs((LIFETIME_S - MARGIN_S) as u64);
    assert!(after >= ideal - Duration::from_millis(1_500), "renewed too early: {after:?} after receipt");
    assert!(after <= ideal + Duration::from_secs(2), "renewed late: {after:?} after receipt");
    assert!(
        wait_for(Duration::from_secs(2), || keeper.status("svc").unwrap().view.access_expires_at
            >= Some(setup.clock.now().secs() + LIFETIME_S - 2))
        .await,
        "the new token's expiry is in the stepped frame"
    );

    running.abort();
    let seen = states.lock().unwrap().clone();
    assert!(!seen.iter().any(|s| matches!(s, State::Offline | State::NeedsSignIn | State::Retrying)), "{seen:?}");
    assert!(setup.notices.0.lock().unwrap().is_empty(), "no notice: {:?}", setup.notices.0.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_back_does_not_make_the_renewal_an_hour_late() {
    renewal_follows_a_step(-HOUR_MS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_forward_does_not_make_the_token_look_expired() {
    renewal_follows_a_step(HOUR_MS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keeper_started_after_a_step_reads_the_shifted_times() {
    let setup = Setup::new(TokenEndpoint::start(LIFETIME_S, Duration::ZERO));
    let (keeper, _) = setup.signed_in().await;
    let expires_before = keeper.status("svc").unwrap().view.access_expires_at.unwrap();
    let renew_before = renew_at(&keeper);
    drop(keeper);

    // stepped while no keeper ran: the record and the keychain item both hold the old frame
    setup.clock.step(HOUR_MS);
    let keeper = setup.open();
    let view = keeper.status("svc").unwrap().view;
    assert_eq!(view.access_expires_at, Some(expires_before + 3600));
    assert_eq!(renew_at(&keeper), renew_before + 3600);
    assert_eq!(view.state, State::Working);
    // the token is handed out as it is: it has seconds left, not minus an hour
    let token = keeper.token("svc").await.expect("a token");
    assert_eq!(token.expose(), "at-0");
    assert_eq!(setup.endpoint.count(), 0, "no refresh for a token that still has its lifetime");
    keeper.flush_notices().await;
    assert!(setup.notices.0.lock().unwrap().is_empty());
}
