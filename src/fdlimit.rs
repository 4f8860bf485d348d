//! The open-files limit: a server holds one file descriptor per connection, and many systems
//! start processes with a soft limit (often 1,024) far below the hard one. The soft limit is
//! raised to the hard one at startup, so `server.max_connections` is what bounds connections.

// `rlim_t` is `u64` on 64-bit Linux but not on every platform: the casts are kept.
#![allow(clippy::unnecessary_cast)]

use std::io;

/// The open-files limit before and after [`raise_to_hard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub after: u64,
    pub hard: u64,
}

/// The current (soft, hard) open-files limits.
#[cfg(unix)]
pub fn current() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur as u64, limit.rlim_max as u64))
}

/// Raises the soft open-files limit to the hard one (a process may always do that).
#[cfg(unix)]
pub fn raise_to_hard() -> io::Result<FdLimit> {
    let (before, hard) = current()?;
    if before < hard {
        let wanted = libc::rlimit {
            rlim_cur: hard as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let (after, hard) = current()?;
    Ok(FdLimit {
        before,
        after,
        hard,
    })
}

#[cfg(not(unix))]
pub fn raise_to_hard() -> io::Result<FdLimit> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no open-files limit to raise on this platform",
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let (_, hard) = current().unwrap();
        // One below the hard limit: lower, yet harmless to the tests running beside this one.
        let lowered = libc::rlimit {
            rlim_cur: (hard - 1) as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        let limit = raise_to_hard().unwrap();
        assert_eq!(limit.before, hard - 1);
        assert_eq!((limit.after, limit.hard), (hard, hard));
        assert_eq!(current().unwrap(), (hard, hard));
        // Already at the hard limit: nothing to do.
        assert_eq!(raise_to_hard().unwrap().before, hard);
    }
}
