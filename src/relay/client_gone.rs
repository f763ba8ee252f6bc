//! Whether the client that sent a request is still there. The relay runs on a task of its own,
//! so a client that leaves after its request went upstream does not cancel it (the answer is
//! read on and billed, `drain`); waits that come before the upstream is asked (a slot, a pacing
//! turn) end at once when the client leaves, so they hold no place for nobody.
use tokio::sync::watch;

/// Held by the request's handler: dropped with it when the client leaves (or when it returns).
pub struct ClientHere {
    _sender: watch::Sender<()>,
}

/// The relay's side: resolves once the handler is gone.
#[derive(Clone)]
pub struct ClientGone(watch::Receiver<()>);

impl ClientGone {
    pub fn pair() -> (ClientHere, ClientGone) {
        let (tx, rx) = watch::channel(());
        (ClientHere { _sender: tx }, ClientGone(rx))
    }

    /// Whether the client has gone already.
    pub fn has_gone(&self) -> bool {
        self.0.has_changed().is_err()
    }

    /// Resolves when the client has gone.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        while rx.changed().await.is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn fires_when_the_handler_side_is_dropped() {
        let (here, gone) = ClientGone::pair();
        let waiting = tokio::spawn({
            let gone = gone.clone();
            async move { gone.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(here);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("fired")
            .unwrap();
    }
}
