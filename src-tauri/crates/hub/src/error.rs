//! What can go wrong talking to the Hub, each as a sentence a person can act on.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{0} was not found on the Hub (or it is private: add a token in Settings)")]
    NotFound(String),
    #[error("{0} is gated: request access on the model's page, then add a token in Settings")]
    Gated(String),
    #[error("the Hub refused the token: check it in Settings")]
    Unauthorized,
    #[error("the Hub is rate-limiting requests; trying again in {} s", .0.as_secs())]
    RateLimited(Duration),
    #[error("the Hub cannot be reached: {0}")]
    Offline(String),
    #[error("the Hub answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("the Hub sent something Hearth could not read: {0}")]
    BadResponse(String),
    #[error("the file path {0:?} from the Hub would leave the models folder")]
    UnsafePath(String),
    #[error("not enough free disk space: the download needs {needed} bytes, {free} are free")]
    DiskFull { needed: u64, free: u64 },
    #[error("the disk filled up during the download: free some space, then resume it (what is downloaded is kept)")]
    DiskFilled,
    #[error("the downloaded file is damaged: expected sha256 {expected}, got {actual}; it was deleted")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("the downloaded file has {actual} bytes, the Hub said {expected}; it was deleted")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("the download was cancelled")]
    Cancelled,
    #[error("the download stopped after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error("disk error: {0}")]
    Io(String),
    #[error("the Hub address {0:?} is not a web address (https://…)")]
    InvalidEndpoint(String),
    #[error("the Hub address {0} must use https://: plain http is only for a Hub on this machine")]
    InsecureEndpoint(String),
    #[error("{0} is not on the Hub Hearth is set to use; it was not fetched")]
    ForeignUrl(String),
    #[error("the Hub's answer for {what} is larger than {} MiB; Hearth did not read it", .limit >> 20)]
    TooLarge { what: String, limit: u64 },
}

impl HubError {
    /// Worth trying again (with backoff): the network or the server hiccuped.
    pub fn is_transient(&self) -> bool {
        match self {
            HubError::Offline(_) | HubError::RateLimited(_) => true,
            HubError::Http { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}

impl types::Problem for HubError {
    fn code(&self) -> types::ErrorCode {
        use types::ErrorCode as C;
        match self {
            HubError::NotFound(_) | HubError::UnsafePath(_) => C::NotFound,
            HubError::Gated(_) => C::GatedModel,
            HubError::Unauthorized => C::Unauthorized,
            HubError::RateLimited(_) => C::RateLimited,
            HubError::Offline(_) => C::HubUnreachable,
            HubError::ChecksumMismatch { .. } | HubError::SizeMismatch { .. } => C::DownloadChecksumMismatch,
            HubError::DiskFull { .. } | HubError::DiskFilled => C::DiskFull,
            HubError::BadResponse(_) | HubError::Http { .. } | HubError::TooLarge { .. } | HubError::ForeignUrl(_) => C::BadResponse,
            HubError::InvalidEndpoint(_) | HubError::InsecureEndpoint(_) => C::InvalidInput,
            HubError::Cancelled | HubError::GaveUp { .. } | HubError::Io(_) => C::Internal,
        }
    }

    /// The clause `Display` writes (it is also quoted inside other sentences), as a sentence. It
    /// names repositories and the Hub's addresses, nothing of this machine's folders.
    fn sentence(&self, _to: types::Audience) -> String {
        let clause = self.to_string();
        let mut chars = clause.chars();
        chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str() + ".").unwrap_or_default()
    }
}

impl From<std::io::Error> for HubError {
    fn from(e: std::io::Error) -> Self {
        // A disk that fills up after the free-space check (another program wrote to it) is the
        // person's to fix, and says so; it was "disk error: No space left on device", code INTERNAL.
        if e.kind() == std::io::ErrorKind::StorageFull {
            return HubError::DiskFilled;
        }
        HubError::Io(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linux's /dev/full fails every write with ENOSPC, as a disk that has just filled up does.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_disk_that_fills_up_mid_download_says_so() {
        use std::io::Write;
        let mut full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let e = HubError::from(full.write_all(&[0u8; 4096]).and_then(|_| full.flush()).expect_err("ENOSPC"));
        assert!(matches!(e, HubError::DiskFilled), "{e:?}");
        let shown = types::HearthError::from(e);
        assert_eq!(shown.code, types::ErrorCode::DiskFull);
        assert!(shown.message.starts_with("The disk filled up during the download"), "{}", shown.message);
    }
}

pub type Result<T> = std::result::Result<T, HubError>;
