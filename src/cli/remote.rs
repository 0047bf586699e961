//! The object store options `publish` and `pull` share.

use cisgate::distribute::{Access, Remote};

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
