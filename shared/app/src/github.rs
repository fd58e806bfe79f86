//! The GitHub port: what the use cases need from GitHub, whatever client implements it.

use async_trait::async_trait;
use axhub_domain::{Error, GitConnection};

#[async_trait]
pub trait GitHub: Send + Sync + 'static {
    /// The commit at the head of the connection's branch, read with the App's installation
    /// token. A missing branch or repository is a 412; GitHub failing is a 502.
    async fn branch_head(&self, git: &GitConnection) -> Result<String, Error>;
}
