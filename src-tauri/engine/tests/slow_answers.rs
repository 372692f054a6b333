//! A renewal answered seconds late (a bad network, a loaded provider): the provider started the
//! new token's life when it handled the request, so the keeper must count that life from when it
//! asked, never from when the answer arrived — otherwise it believes the token lives seconds
//! longer than it does and may hand out one that is already dead.

mod support;

use std::time::Duration;

use support::{Setup, TokenEndpoint};
use tokenkeeper_engine::clock::Clock;

const LIFETIME_S: i64 = 60;
const ANSWER_DELAY: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_late_answer_counts_the_token_life_from_the_request() {
    let setup = Setup::new(TokenEndpoint::start(LIFETIME_S, ANSWER_DELAY));
    let (keeper, _) = setup.signed_in().await;

    let asked_at = setup.clock.now().secs();
    keeper.refresh("svc").await.expect("renewed");
    let answered_at = setup.clock.now().secs();
    assert!(answered_at - asked_at >= 2, "the endpoint answered late ({} s)", answered_at - asked_at);
    assert_eq!(setup.endpoint.count(), 1);

    let view = keeper.status("svc").unwrap().view;
    let expires_at = view.access_expires_at.expect("an expiry");
    assert!(
        expires_at <= asked_at + LIFETIME_S,
        "expiry {expires_at} counted from the answer ({answered_at}), not from the request ({asked_at})"
    );
    assert!(expires_at >= asked_at + LIFETIME_S - 1, "expiry {expires_at} from the request at {asked_at}");
}
