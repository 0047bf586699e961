//! The object store options `publish` and `pull` share.

use cisgate::distribute::{Access, PublishOptions, Remote, WatchOptions};

/// Where generations are published.
#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    /// The S3 endpoint URL (a local store: http://127.0.0.1:9000); AWS by default.
    /// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; without them the
    /// command fails, unless --anonymous or --instance-metadata says otherwise.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// Send unsigned requests (a public-read bucket; no credentials needed).
    #[arg(long, conflicts_with = "instance_metadata")]
    anonymous: bool,
    /// Take credentials from the cloud's instance metadata service (EC2, ECS).
    #[arg(long)]
    instance_metadata: bool,
    /// The region (default: AWS_REGION, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// The channel.
    #[arg(long, default_value = "LATEST")]
    pub channel: String,
}

impl RemoteArgs {
    /// The remote for an `s3://bucket/prefix` URL.
    pub fn remote(&self, url: &str) -> Result<Remote, cisgate::distribute::DistributeError> {
        let mut remote = Remote::parse(url, self.endpoint.clone(), self.region.clone())?;
        remote.access = if self.anonymous {
            Access::Anonymous
        } else if self.instance_metadata {
            Access::InstanceMetadata
        } else {
            Access::Environment
        };
        Ok(remote)
    }
}

/// How a node that keeps pulling waits and reports (`pull --watch`, `serve --pull-from`).
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Vary each wait by up to this fraction of the interval (0 to 0.5), so that nodes
    /// started together do not poll in step.
    #[arg(long, default_value_t = 0.2)]
    jitter: f64,
    /// Also pull at once when the builder's push notice (NATS, e.g. nats://hq:4222) says
    /// the channel moved. The notice is only a hint: everything is still checked from the
    /// signed pointer, and polling goes on when NATS is down.
    #[arg(long, value_name = "URL", env = "CISGATE_NATS")]
    nats: Option<String>,
    /// Write the status report when something changed, and otherwise every this many
    /// seconds (a heartbeat).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    status_every: u64,
    /// This node's name in its status reports (default: its index's instance id).
    #[arg(long, env = "CISGATE_NODE")]
    node: Option<String>,
}

impl WatchArgs {
    /// Polling every `every` seconds on `channel`.
    pub fn options(&self, every: f64, channel: &str) -> Result<WatchOptions, String> {
        if !(every.is_finite() && every > 0.0) {
            return Err("the polling interval must be a positive number of seconds".into());
        }
        Ok(WatchOptions {
            interval: std::time::Duration::from_secs_f64(every),
            jitter: self.jitter,
            nats: self.nats.clone().filter(|u| !u.is_empty()),
            channel: channel.to_string(),
        })
    }

    /// This node's name, when one is given.
    pub fn node(&self) -> Option<String> {
        self.node.clone().filter(|n| !n.is_empty())
    }

    /// The heartbeat of status reports.
    pub fn status_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.status_every.max(1))
    }
}

/// How a channel is signed and kept alive (`publish`, `ingest`).
#[derive(clap::Args, Debug)]
pub struct SigningArgs {
    /// The minisign secret key (from `cisgate keygen`).
    #[arg(long)]
    secret_key: std::path::PathBuf,
    /// Hours nodes accept the pointer; a feed not renewed by then freezes nodes.
    /// Fractions are fine (`0.5` is 30 minutes); 0 or less is refused, under a day warns.
    #[arg(long, default_value_t = 168.0)]
    valid_hours: f64,
    /// Publish even when the data is older than what the channel points at.
    #[arg(long)]
    allow_older: bool,
}

impl SigningArgs {
    /// The publish options on `channel`; refuses a validity that would freeze the fleet
    /// and warns below a day.
    pub fn options(&self, channel: &str) -> Result<PublishOptions, String> {
        if !(self.valid_hours > 0.0 && self.valid_hours.is_finite()) {
            return Err(format!(
                "--valid-hours {}: a pointer must stay valid for some time (nodes refuse an expired one, and the whole fleet would freeze); give hours, fractions allowed (168 is a week)",
                self.valid_hours
            ));
        }
        if self.valid_hours < 24.0 {
            eprintln!(
                "cisgate: warning: --valid-hours {}: nodes refuse the pointer after that unless it is renewed by a publish; a day or more leaves room for a late one",
                self.valid_hours
            );
        }
        Ok(PublishOptions {
            channel: channel.to_string(),
            valid_for_ms: (self.valid_hours * 3_600_000.0) as i64,
            allow_older: self.allow_older,
            ..PublishOptions::new(self.secret_key.clone())
        })
    }
}
