//! The daemon's own config (`canaryd serve --config canaryd.toml`), documented in
//! docs/serve.md. Every field has a default, so the file is optional; command-line flags
//! override it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::Role;
use crate::collectors::prometheus::PrometheusConfig;
use crate::config::source::{self, Format};
use crate::secret::Secret;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest request body, bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take, seconds.
    pub request_timeout_s: f64,
    /// Longest the daemon waits for in-flight requests at shutdown, seconds.
    pub shutdown_timeout_s: f64,
    /// Requests handled at once; more get 503 `overloaded` at once.
    pub max_in_flight: usize,
    /// Longest a client may take to send a request's headers, seconds; then the connection
    /// is closed (slow clients cannot hold connections open).
    pub header_timeout_s: f64,
    /// Open connections at once; more are closed at once.
    pub max_connections: usize,
    /// Origins whose browser pages may send mutating requests (`https://ci.example.com`);
    /// same-origin requests always may, others get 403 `cross_origin`.
    pub allowed_origins: Vec<String>,
    /// Mark the UI's session cookie `Secure` (set it when users reach the daemon over
    /// HTTPS, e.g. behind a TLS-terminating proxy).
    pub secure_cookies: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit_bytes: 1 << 20,
            request_timeout_s: 30.0,
            shutdown_timeout_s: 10.0,
            max_in_flight: 256,
            header_timeout_s: 10.0,
            max_connections: 1024,
            allowed_origins: Vec::new(),
            secure_cookies: false,
        }
    }
}

/// Bounds on what one request may make the daemon do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Metrics one canary config may have (configs beyond it are refused with 422).
    pub max_metrics_per_config: usize,
    /// Prometheus queries one read of an analysis may run (2 per metric, 4 per `ratio`
    /// metric: baseline and canary).
    pub max_queries_per_read: usize,
    /// `/api/v1/judge` calls judged at once; more get 503 `overloaded`.
    pub max_concurrent_judge: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_metrics_per_config: 500,
            max_queries_per_read: 2000,
            max_concurrent_judge: 4,
        }
    }
}

/// Which programs pipelines may run (command routers, command smoke tests). Nothing by
/// default: a spec posted over the API must never be enough to run a program as the
/// daemon's user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandSettings {
    /// Programs (a command's first word, exactly as written in specs: `/usr/local/bin/route`,
    /// `sh`) pipelines may run.
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSettings {
    /// Seconds between attempts while the metric source is down at an analysis' end.
    pub outage_retry_s: f64,
    /// How long the last interval waits for a down metric source before `error`.
    pub outage_grace_s: f64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            outage_retry_s: 15.0,
            outage_grace_s: 600.0,
        }
    }
}

/// An API token: the secret inline, from an environment variable, or from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    pub listen: String,
    /// Where state is kept (`sqlite:DIR`); unset: `sqlite:` + `data_dir`.
    pub store: Option<crate::store::StoreConfig>,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub prometheus: PrometheusConfig,
    pub http: HttpSettings,
    pub live: LiveSettings,
    pub kayenta: KayentaSettings,
    pub commands: CommandSettings,
    pub limits: LimitSettings,
    /// Canary config files stored (created or replaced) at start.
    pub configs: Vec<PathBuf>,
    pub tokens: Vec<TokenSpec>,
}

/// The Kayenta dialect's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KayentaSettings {
    /// Scoring rules of Kayenta-dialect analyses: `canaryd` (default: missing evidence
    /// holds) or `kayenta` (Kayenta's scorer exactly, for users who must reproduce it).
    pub scoring: canary_judges::ScoringRules,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: "127.0.0.1:8080".into(),
            store: None,
            data_dir: PathBuf::from("data"),
            log_format: LogFormat::Text,
            prometheus: PrometheusConfig::default(),
            http: HttpSettings::default(),
            live: LiveSettings::default(),
            kayenta: KayentaSettings::default(),
            commands: CommandSettings::default(),
            limits: LimitSettings::default(),
            configs: Vec::new(),
            tokens: Vec::new(),
        }
    }
}

impl DaemonConfig {
    /// The store this daemon keeps its state in: `store`, else `sqlite:` + `data_dir`.
    pub fn store_config(&self) -> crate::store::StoreConfig {
        self.store
            .clone()
            .unwrap_or_else(|| crate::store::StoreConfig::Sqlite {
                dir: self.data_dir.clone(),
            })
    }

    /// Read a daemon config (TOML); errors name `file:line:column: field`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {file}: {e}"))?;
        let mut config: DaemonConfig = source::deserialize(&text, Format::Toml)
            .map_err(|e| crate::config::locate_de_error(&text, Format::Toml, &file, e))?;
        // Relative paths in the file are relative to the file.
        let base = path.parent().unwrap_or(Path::new("."));
        for c in &mut config.configs {
            if c.is_relative() {
                *c = base.join(&*c);
            }
        }
        for t in &mut config.tokens {
            if let Some(f) = &mut t.token_file
                && f.is_relative()
            {
                *f = base.join(&*f);
            }
        }
        config.check().map_err(|e| format!("{file}: {e}"))?;
        Ok(config)
    }

    /// Rules the types cannot express.
    pub fn check(&self) -> Result<(), String> {
        let h = &self.http;
        if h.body_limit_bytes == 0 {
            return Err("http.body_limit_bytes must be > 0".into());
        }
        if h.max_in_flight == 0 {
            return Err("http.max_in_flight must be > 0".into());
        }
        for (name, v) in [
            ("http.request_timeout_s", h.request_timeout_s),
            ("http.shutdown_timeout_s", h.shutdown_timeout_s),
            ("live.outage_retry_s", self.live.outage_retry_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be > 0, got {v}"));
            }
        }
        if !(self.live.outage_grace_s.is_finite() && self.live.outage_grace_s >= 0.0) {
            return Err("live.outage_grace_s must be ≥ 0".into());
        }
        for (i, t) in self.tokens.iter().enumerate() {
            let n = [
                t.token.is_some(),
                t.token_env.is_some(),
                t.token_file.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if n != 1 {
                return Err(format!(
                    "tokens[{i}] (`{}`): give exactly one of token, token_env, token_file",
                    t.name
                ));
            }
        }
        Ok(())
    }

    /// The API tokens with their secrets read.
    pub fn resolve_tokens(&self) -> Result<Vec<crate::api::Token>, String> {
        self.tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let secret = if let Some(s) = &t.token {
                    s.expose().to_string()
                } else if let Some(var) = &t.token_env {
                    std::env::var(var).map_err(|_| {
                        format!(
                            "tokens[{i}] (`{}`): environment variable {var} is not set",
                            t.name
                        )
                    })?
                } else if let Some(f) = &t.token_file {
                    std::fs::read_to_string(f)
                        .map_err(|e| format!("tokens[{i}] (`{}`): {}: {e}", t.name, f.display()))?
                        .trim()
                        .to_string()
                } else {
                    unreachable!("checked: one source per token")
                };
                if secret.len() < 16 {
                    return Err(format!(
                        "tokens[{i}] (`{}`): a token needs at least 16 characters",
                        t.name
                    ));
                }
                Ok(crate::api::Token {
                    name: t.name.clone(),
                    role: t.role,
                    secret: Secret::new(secret),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_with_positions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.toml");
        std::fs::write(
            &p,
            "listen = \"0.0.0.0:9000\"\n[prometheus]\nurl = \"http://p:9090\"\n",
        )
        .unwrap();
        let c = DaemonConfig::load(&p).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.prometheus.url, "http://p:9090");
        assert_eq!(c.prometheus.retries, 3);
        std::fs::write(&p, "[prometheus]\nurll = \"x\"\n").unwrap();
        let e = DaemonConfig::load(&p).unwrap_err();
        assert!(e.contains("d.toml:2:") && e.contains("urll"), "{e}");
        std::fs::write(
            &p,
            "[[tokens]]\nname = \"ci\"\nrole = \"write\"\ntoken = \"short\"\n",
        )
        .unwrap();
        let c = DaemonConfig::load(&p).unwrap();
        assert!(c.resolve_tokens().unwrap_err().contains("16 characters"));
        assert!(!format!("{c:?}").contains("short"));
        // The store: `data_dir` by default, `store` when given; a bad URL names its line.
        assert_eq!(
            c.store_config(),
            crate::store::StoreConfig::Sqlite { dir: "data".into() }
        );
        std::fs::write(&p, "store = \"sqlite:/srv/canaryd\"\n").unwrap();
        let c = DaemonConfig::load(&p).unwrap();
        assert_eq!(c.store_config().to_string(), "sqlite:/srv/canaryd");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nstore = \"mysql://x\"\n").unwrap();
        let e = DaemonConfig::load(&p).unwrap_err();
        assert!(
            e.contains("d.toml:2:") && e.contains("unknown store scheme"),
            "{e}"
        );
    }
}
