//! kube errors → the port's two kinds: retry later (`Unavailable`) or don't (`Refused`).

use axhub_ports::cluster::ClusterError;

/// Maps a kube error of operation `op` (said in the message, e.g. "create Job build-…").
pub(crate) fn cluster_error(op: &str, err: kube::Error) -> ClusterError {
    match err {
        kube::Error::Api(status) => {
            let message = format!(
                "{op}: {} ({} {})",
                status.message, status.code, status.reason
            );
            // 429: API priority and fairness shed us; 5xx: the server (or a webhook) failed.
            if status.code == 429 || status.code >= 500 {
                ClusterError::Unavailable(message)
            } else {
                ClusterError::Refused(message)
            }
        }
        // A middleware error: our token layer says itself what kind of failure it was.
        kube::Error::Service(inner) => match inner.downcast::<ClusterError>() {
            Ok(known) => match *known {
                ClusterError::Unavailable(m) => ClusterError::Unavailable(format!("{op}: {m}")),
                ClusterError::Refused(m) => ClusterError::Refused(format!("{op}: {m}")),
            },
            // Timeouts, connection failures, a closed buffer.
            Err(other) => ClusterError::Unavailable(format!("{op}: {other}")),
        },
        kube::Error::HyperError(e) => ClusterError::Unavailable(format!("{op}: {e}")),
        kube::Error::Auth(e) => ClusterError::Unavailable(format!("{op}: {e}")),
        // The server answered something that is not Kubernetes JSON: a proxy or load balancer
        // in front of it; worth another try.
        kube::Error::SerdeError(e) => ClusterError::Unavailable(format!("{op}: {e}")),
        kube::Error::ReadEvents(e) => ClusterError::Unavailable(format!("{op}: {e}")),
        // Building the request failed, or the configuration is wrong: retrying won't fix it.
        other => ClusterError::Refused(format!("{op}: {other}")),
    }
}

pub(crate) fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}
