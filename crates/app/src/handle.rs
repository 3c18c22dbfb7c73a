//! [`StoreHandle`]: the unlocked store, shared between the UI's calls and background work.

use std::sync::{Arc, Mutex, MutexGuard};

use casebridge_core::Store;
use casebridge_search::SearchIndex;

use crate::error::{AppError, Result};

/// A shared slot holding the unlocked [`Store`], or nothing when the profile is locked.
///
/// Every use takes the slot for one operation only ([`StoreHandle::with`]), so a long job
/// (an import, a sync round) and the UI's queries interleave, and locking the profile
/// ([`StoreHandle::close`]) takes effect between two operations: the job's next step fails with
/// `locked` and nothing half-done is left, because every store operation is atomic.
///
/// The slot also holds the store's in-memory search index, built at first use
/// ([`StoreHandle::with_search`]) and dropped with the store: it never outlives the unlock.
#[derive(Clone, Default)]
pub struct StoreHandle(Arc<Mutex<Option<Store>>>, Arc<Mutex<Option<SearchIndex>>>);

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle").field("open", &self.is_open()).finish()
    }
}

impl StoreHandle {
    /// A handle holding `store` (the CLI's way in: it opens the store itself).
    pub fn new(store: Store) -> StoreHandle {
        StoreHandle(Arc::new(Mutex::new(Some(store))), Arc::default())
    }

    /// A handle holding nothing (a locked profile).
    pub fn empty() -> StoreHandle {
        StoreHandle::default()
    }

    fn slot(&self) -> MutexGuard<'_, Option<Store>> {
        // A panic while the store was held leaves it as it was after its last completed
        // operation (every operation is atomic), so the value is still good to use.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the store, or fails with `locked` when there is none.
    pub fn with<R>(&self, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
        let mut slot = self.slot();
        match slot.as_mut() {
            Some(store) => f(store),
            None => Err(AppError::locked()),
        }
    }

    /// Runs `f` on the store and its search index (built now if this is its first use,
    /// brought up to date with the journal otherwise), or fails with `locked`. The store's
    /// slot is taken first, then the index's: always in this order.
    pub fn with_search<R>(&self, f: impl FnOnce(&mut Store, &mut SearchIndex) -> Result<R>) -> Result<R> {
        let mut slot = self.slot();
        let Some(store) = slot.as_mut() else { return Err(AppError::locked()) };
        let mut search = self.1.lock().unwrap_or_else(|e| e.into_inner());
        let refreshed = match search.as_mut() {
            Some(index) => index.refresh(store).map(|_| ()),
            None => SearchIndex::build(store).map(|index| *search = Some(index)),
        };
        if let Err(e) = refreshed {
            // Half-refreshed: forget it, the next use builds it again.
            *search = None;
            return Err(e.into());
        }
        match search.as_mut() {
            Some(index) => f(store, index),
            None => Err(AppError::locked()),
        }
    }

    /// True while a store is held.
    pub fn is_open(&self) -> bool {
        self.slot().is_some()
    }

    /// Puts `store` into the slot (dropping any store held before).
    pub fn put(&self, store: Store) {
        let mut slot = self.slot();
        *self.1.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *slot = Some(store);
    }

    /// Drops the store: the master key is wiped and the store's lock file released, and the
    /// search index is dropped with it. Waits for an operation in progress to finish first.
    pub fn close(&self) -> bool {
        let mut slot = self.slot();
        *self.1.lock().unwrap_or_else(|e| e.into_inner()) = None;
        slot.take().is_some()
    }
}
