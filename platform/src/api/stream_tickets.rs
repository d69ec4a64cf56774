//! One-time tickets that open `GET /v1/stream` from a browser.
//!
//! A browser's WebSocket cannot send an `Authorization` header, and an API key in a URL would
//! end up in histories and proxy logs. So the page asks for a ticket with its key
//! (`POST /v1/stream/tickets`) and puts the ticket in the upgrade URL instead. A ticket is 256
//! random bits, good for one upgrade within [`TICKET_TTL_MS`], and acts for the key that asked
//! for it; revoking that key drops its tickets. Tickets live in this process's memory only
//! (as their SHA-256), so a ticket opens a stream on the instance that issued it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::auth::Caller;
use super::error::ApiError;
use crate::registry::{random_256_bits, KeyHash};

/// How long a ticket may wait for its upgrade.
pub const TICKET_TTL_MS: i64 = 30_000;
/// Unused tickets one key may hold; asking for more drops its oldest.
pub const MAX_PENDING_PER_KEY: usize = 8;
/// Unused tickets this process holds at most (expired ones are dropped first).
pub const MAX_PENDING: usize = 100_000;
/// What every ticket starts with, so a ticket is not mistaken for an API key (`smk_`).
pub const TICKET_PREFIX: &str = "smt_";

/// The unused tickets, by the SHA-256 of their text (hashed as API keys are).
#[derive(Default)]
pub struct StreamTickets {
    pending: Mutex<HashMap<KeyHash, Pending>>,
}

struct Pending {
    caller: Caller,
    expires_ms: i64,
}

fn refused() -> ApiError {
    ApiError::unauthorized(
        "invalid_stream_ticket",
        "this stream ticket is unknown, used or expired; POST /v1/stream/tickets issues a new \
         one (each opens one stream, within 30 s)",
    )
}

impl StreamTickets {
    fn pending(&self) -> Result<MutexGuard<'_, HashMap<KeyHash, Pending>>, ApiError> {
        self.pending
            .lock()
            .map_err(|_| ApiError::internal("stream tickets lock poisoned"))
    }

    /// A new ticket for `caller` and when it expires.
    pub fn issue(&self, caller: &Caller, now_ms: i64) -> Result<(String, i64), ApiError> {
        let secret = random_256_bits().map_err(ApiError::internal)?;
        let ticket = format!("{TICKET_PREFIX}{}", hex::encode(secret));
        let expires_ms = now_ms + TICKET_TTL_MS;
        let mut pending = self.pending()?;
        if pending.len() >= MAX_PENDING {
            pending.retain(|_, p| p.expires_ms > now_ms);
            if pending.len() >= MAX_PENDING {
                return Err(ApiError::unavailable(
                    "too many stream tickets are waiting to be used; try again in 30 s",
                ));
            }
        }
        let mine: Vec<(KeyHash, i64)> = pending
            .iter()
            .filter(|(_, p)| p.caller.key_id == caller.key_id)
            .map(|(h, p)| (*h, p.expires_ms))
            .collect();
        if mine.len() >= MAX_PENDING_PER_KEY {
            if let Some((oldest, _)) = mine.iter().min_by_key(|(_, expires)| *expires) {
                pending.remove(oldest);
            }
        }
        pending.insert(
            KeyHash::of(&ticket),
            Pending {
                caller: caller.clone(),
                expires_ms,
            },
        );
        Ok((ticket, expires_ms))
    }

    /// The caller a ticket was issued to; the ticket is used up either way.
    pub fn redeem(&self, ticket: &str, now_ms: i64) -> Result<Caller, ApiError> {
        match self.pending()?.remove(&KeyHash::of(ticket)) {
            Some(p) if p.expires_ms > now_ms => Ok(p.caller),
            _ => Err(refused()),
        }
    }

    /// Drops the tickets a revoked key asked for.
    pub fn forget_key(&self, key_id: i64) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.retain(|_, p| p.caller.key_id != key_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Account, AccountId, Role};

    fn caller(key_id: i64) -> Caller {
        Caller {
            account: Account {
                id: AccountId(key_id * 10),
                name: format!("a{key_id}").parse().unwrap(),
                role: Role::Consumer,
                created_at_ms: 0,
            },
            key_id,
        }
    }

    #[test]
    fn a_ticket_opens_once_for_its_caller() {
        let tickets = StreamTickets::default();
        let (ticket, expires) = tickets.issue(&caller(1), 1_000).unwrap();
        assert_eq!(expires, 1_000 + TICKET_TTL_MS);
        assert!(
            ticket.starts_with(TICKET_PREFIX) && ticket.len() == 4 + 64,
            "{ticket}"
        );
        assert_eq!(tickets.redeem(&ticket, 2_000).unwrap().key_id, 1);
        let again = tickets.redeem(&ticket, 2_000).unwrap_err();
        assert_eq!(again.code(), "invalid_stream_ticket");
    }

    #[test]
    fn expired_unknown_and_malformed_tickets_are_refused() {
        let tickets = StreamTickets::default();
        let (ticket, expires) = tickets.issue(&caller(1), 0).unwrap();
        assert!(
            tickets.redeem(&ticket, expires).is_err(),
            "expired at its expiry"
        );
        let (other, _) = tickets.issue(&caller(1), 0).unwrap();
        let mut flipped = other.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in ["", "smt_", "smk_00", "not a ticket", flipped.as_str()] {
            assert_eq!(
                tickets.redeem(bad, 1).unwrap_err().code(),
                "invalid_stream_ticket"
            );
        }
        // The near-miss did not use the real one up.
        assert_eq!(tickets.redeem(&other, 1).unwrap().key_id, 1);
    }

    #[test]
    fn each_ticket_is_new() {
        let tickets = StreamTickets::default();
        let (a, _) = tickets.issue(&caller(1), 0).unwrap();
        let (b, _) = tickets.issue(&caller(1), 0).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_key_holds_a_bounded_number_and_loses_its_oldest() {
        let tickets = StreamTickets::default();
        let issued: Vec<String> = (0..MAX_PENDING_PER_KEY as i64 + 1)
            .map(|i| tickets.issue(&caller(1), i).unwrap().0)
            .collect();
        let (other_key, _) = tickets.issue(&caller(2), 0).unwrap();
        assert!(
            tickets.redeem(&issued[0], 10).is_err(),
            "the oldest was dropped"
        );
        for ticket in &issued[1..] {
            assert!(tickets.redeem(ticket, 10).is_ok());
        }
        assert!(
            tickets.redeem(&other_key, 10).is_ok(),
            "another key's ticket stays"
        );
    }

    #[test]
    fn revoking_a_key_drops_its_tickets_only() {
        let tickets = StreamTickets::default();
        let (mine, _) = tickets.issue(&caller(1), 0).unwrap();
        let (theirs, _) = tickets.issue(&caller(2), 0).unwrap();
        tickets.forget_key(1);
        assert!(tickets.redeem(&mine, 1).is_err());
        assert!(tickets.redeem(&theirs, 1).is_ok());
    }
}
