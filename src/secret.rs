//! Secrets on the ground floor: tokens, passwords and keys that canaryd sends on but never
//! shows. Every component that holds one (the Prometheus client, webhook routers, pipeline
//! specs, API tokens) holds a [`Secret`], so a `Debug` print, a log line or a JSON answer
//! can only ever say `***`.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A secret string: shown as `***` everywhere.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}
