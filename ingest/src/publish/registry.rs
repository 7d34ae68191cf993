//! Which publisher is live on which channel: one per channel, a new one
//! replaces the old (an encoder reconnecting), and a cap on how many
//! channels may be live at once. Pure bookkeeping, no IO; the server keeps
//! it behind a mutex.

use std::collections::HashMap;

use uuid::Uuid;

/// The live publisher of each channel, with a handle to stop it.
#[derive(Debug)]
pub(crate) struct PublisherRegistry<H> {
    live: HashMap<String, (Uuid, H)>,
    max_publishers: usize,
}

/// The registry's answer to a new publish.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission<H> {
    /// The publisher is now the channel's live one; `replaced` is the
    /// handle of the publisher it displaced, which the caller must stop.
    Admitted {
        /// The displaced publisher's handle, if the channel was live.
        replaced: Option<H>,
    },
    /// As many channels as allowed are live already.
    Full,
}

impl<H> PublisherRegistry<H> {
    /// An empty registry allowing `max_publishers` live channels.
    pub(crate) fn new(max_publishers: usize) -> Self {
        Self {
            live: HashMap::new(),
            max_publishers,
        }
    }

    /// Makes `session_id` the live publisher of `channel_id`. Replacing the
    /// publisher of a live channel never counts against the cap.
    pub(crate) fn admit(&mut self, channel_id: &str, session_id: Uuid, handle: H) -> Admission<H> {
        if let Some(slot) = self.live.get_mut(channel_id) {
            let (_, old) = std::mem::replace(slot, (session_id, handle));
            return Admission::Admitted {
                replaced: Some(old),
            };
        }
        if self.live.len() >= self.max_publishers {
            return Admission::Full;
        }
        self.live
            .insert(channel_id.to_owned(), (session_id, handle));
        Admission::Admitted { replaced: None }
    }

    /// Forgets `session_id` as the publisher of `channel_id`, unless another
    /// session has replaced it meanwhile. Returns whether it was live.
    pub(crate) fn release(&mut self, channel_id: &str, session_id: Uuid) -> bool {
        match self.live.get(channel_id) {
            Some((live, _)) if *live == session_id => {
                self.live.remove(channel_id);
                true
            }
            _ => false,
        }
    }

    /// Number of live channels.
    pub(crate) fn live_count(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_publisher_of_a_channel_is_admitted_without_replacement() {
        let mut registry = PublisherRegistry::new(2);
        assert_eq!(
            registry.admit("a", Uuid::new_v4(), 1),
            Admission::Admitted { replaced: None }
        );
        assert_eq!(registry.live_count(), 1);
    }

    #[test]
    fn second_publisher_on_a_live_channel_replaces_the_first() {
        let mut registry = PublisherRegistry::new(1);
        registry.admit("a", Uuid::new_v4(), 1);
        assert_eq!(
            registry.admit("a", Uuid::new_v4(), 2),
            Admission::Admitted { replaced: Some(1) }
        );
        assert_eq!(registry.live_count(), 1);
    }

    #[test]
    fn a_new_channel_beyond_the_cap_is_refused_but_a_replacement_is_not() {
        let mut registry = PublisherRegistry::new(1);
        registry.admit("a", Uuid::new_v4(), 1);
        assert_eq!(registry.admit("b", Uuid::new_v4(), 2), Admission::Full);
        assert!(matches!(
            registry.admit("a", Uuid::new_v4(), 3),
            Admission::Admitted { .. }
        ));
    }

    #[test]
    fn a_replaced_session_releasing_does_not_evict_its_successor() {
        let mut registry = PublisherRegistry::new(4);
        let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
        registry.admit("a", old, 1);
        registry.admit("a", new, 2);
        assert!(!registry.release("a", old));
        assert_eq!(registry.live_count(), 1);
        assert!(registry.release("a", new));
        assert_eq!(registry.live_count(), 0);
    }
}
