//! The object store options `publish` and `pull` share.

use cisgate::distribute::Remote;

/// Where generations are published.
#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    /// The S3 endpoint URL (a local store: http://127.0.0.1:9000); AWS by default.
    /// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
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
        Remote::parse(url, self.endpoint.clone(), self.region.clone())
    }
}
