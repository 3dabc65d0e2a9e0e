//! The hub API's shared application state ([`App`]): the org state, credentials and tokens, fault
//! knobs, the request log, the rate-limit window, the sandbox clock and the registry handle. Each
//! mutex is held briefly and never together with another.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Faults;
use crate::auth::{Auth, Credential, Principal};
use crate::faults::{FaultState, RateWindow, RequestLog};
use crate::plumbing::ApiError;
use crate::state::{self, HubState};

/// Everything the handlers share. Each mutex is held briefly and never together with another.
pub struct App {
    hub: Mutex<HubState>,
    auth: Mutex<Auth>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) rate: Mutex<RateWindow>,
    state_file: Option<PathBuf>,
    /// How far the sandbox clock has been advanced (`POST /_sandbox/clock`), for token-expiry tests.
    clock_offset: Mutex<Duration>,
    /// Base URL of this sandbox (`http://127.0.0.1:PORT/`), for absolute `next`/`previous` links.
    pub base: url::Url,
    /// The running registry, when the sandbox has one (tags are then read from it).
    registry: std::sync::OnceLock<Arc<super::hubreg::RegistryLink>>,
    /// The registry half's counters (CDN, pull-limit front), for `GET /_sandbox/registry`.
    registry_observers: std::sync::OnceLock<super::RegistryObservers>,
    /// The signing kit's public halves and images, for `GET /_sandbox/signing`.
    signing: std::sync::OnceLock<serde_json::Value>,
}

/// Locks a mutex, recovering the data if a handler panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    pub fn new(
        hub: HubState,
        credentials: Vec<Credential>,
        faults: Faults,
        state_file: Option<PathBuf>,
        base: url::Url,
    ) -> Self {
        App {
            hub: Mutex::new(hub),
            auth: Mutex::new(Auth::new(credentials)),
            faults: Mutex::new(FaultState::new(faults)),
            log: Mutex::new(RequestLog::default()),
            rate: Mutex::new(RateWindow::default()),
            state_file,
            clock_offset: Mutex::new(Duration::ZERO),
            base,
            registry: std::sync::OnceLock::new(),
            registry_observers: std::sync::OnceLock::new(),
            signing: std::sync::OnceLock::new(),
        }
    }

    /// Connects the running registry (once; later calls are ignored).
    pub fn set_registry(&self, link: Arc<super::hubreg::RegistryLink>) {
        let _ = self.registry.set(link);
    }

    /// Records the registry half's counters (once, at start).
    pub fn set_registry_observers(&self, observers: super::RegistryObservers) {
        let _ = self.registry_observers.set(observers);
    }

    /// Records the signing kit's description (once, at start).
    pub fn set_signing(&self, description: serde_json::Value) {
        let _ = self.signing.set(description);
    }

    /// The signing kit's description, when the sandbox runs a registry.
    pub fn signing(&self) -> Option<&serde_json::Value> {
        self.signing.get()
    }

    /// The registry half's counters, when the sandbox runs a registry.
    pub fn registry_observers(&self) -> Option<&super::RegistryObservers> {
        self.registry_observers.get()
    }

    /// The running registry, if any.
    pub fn registry(&self) -> Option<Arc<super::hubreg::RegistryLink>> {
        self.registry.get().cloned()
    }

    pub(crate) fn state_file_display(&self) -> Option<String> {
        self.state_file.as_ref().map(|p| p.display().to_string())
    }

    /// Runs a read-only closure on the state.
    pub fn read<T>(&self, f: impl FnOnce(&HubState) -> T) -> T {
        f(&lock(&self.hub))
    }

    /// Runs a mutating closure; when it succeeds, the state file is written before the lock is
    /// released (so saves happen in order). Closures validate before they mutate.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut HubState) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut hub = lock(&self.hub);
        let out = f(&mut hub)?;
        if let Some(path) = &self.state_file {
            let json = serde_json::to_vec_pretty(&*hub)
                .map_err(|e| ApiError::internal(format!("cannot serialise state: {e}")))?;
            state::save_state_file(path, &json).map_err(|e| {
                ApiError::internal(format!("sandbox could not save its state: {e}"))
            })?;
        }
        Ok(out)
    }

    /// Saves the state file now (start and shutdown).
    pub fn persist_now(&self) -> Result<(), String> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let hub = lock(&self.hub);
        let json = serde_json::to_vec_pretty(&*hub).map_err(|e| e.to_string())?;
        state::save_state_file(path, &json)
    }

    /// The sandbox's clock: real time plus any advance from `POST /_sandbox/clock`.
    pub fn now(&self) -> Instant {
        Instant::now() + *lock(&self.clock_offset)
    }

    /// Moves the sandbox clock forward; returns the total advance.
    pub fn advance_clock(&self, by: Duration) -> Duration {
        let mut off = lock(&self.clock_offset);
        *off = off.saturating_add(by);
        *off
    }

    /// Checks an identifier/secret pair against the seed's credentials (for a token service that
    /// authenticates the same accounts).
    pub fn authenticate(&self, identifier: &str, secret: &str) -> Option<Principal> {
        self.auth().check(identifier, secret).ok()
    }

    pub(crate) fn auth(&self) -> MutexGuard<'_, Auth> {
        lock(&self.auth)
    }

    /// A copy of the state for `GET /_sandbox/state`.
    pub fn snapshot(&self) -> HubState {
        lock(&self.hub).clone()
    }
}
