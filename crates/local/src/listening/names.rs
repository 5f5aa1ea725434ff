//! Turning what `/proc` and `/etc/passwd` say into names a person reads. Pure functions, so
//! they are tested on every platform.

use std::collections::HashMap;

/// The kernel keeps at most this many characters of a program name in `comm`.
const COMM_MAX: usize = 15;

/// A process's full program name. `/proc/PID/comm` is cut to 15 characters, so when it is
/// that long the name is taken from the executable's file name or from `argv[0]`, whichever
/// starts with `comm`; a shorter `comm` is complete and is what the process calls itself
/// (it may have renamed itself with `prctl(PR_SET_NAME)`).
pub fn program_name(comm: &str, exe: Option<&str>, argv0: Option<&str>) -> String {
    let comm = comm.trim_end_matches('\n');
    let base = |p: &str| -> String {
        let p = p.strip_suffix(" (deleted)").unwrap_or(p);
        p.rsplit('/').next().unwrap_or(p).to_owned()
    };
    if comm.chars().count() >= COMM_MAX {
        for candidate in [exe.map(base), argv0.map(base)].into_iter().flatten() {
            if candidate.starts_with(comm) {
                return candidate;
            }
        }
    }
    if comm.is_empty()
        && let Some(n) = exe.or(argv0).map(base).filter(|n| !n.is_empty())
    {
        return n;
    }
    comm.to_owned()
}

/// Splits `/proc/PID/cmdline` (NUL-separated, usually NUL-terminated) into arguments.
/// Invalid UTF-8 is replaced, not rejected: the text is for people.
pub fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// uid -> name from a `passwd(5)` file. Malformed lines are skipped; the first name for a uid
/// wins, as `getpwuid` does.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let (false, Ok(uid)) = (name.is_empty(), uid.parse::<u32>()) {
            map.entry(uid).or_insert_with(|| name.to_owned());
        }
    }
    map
}

/// The inode named by a `/proc/PID/fd/N` link of the form `socket:[12345]`.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_program_names() {
        // Short comm: complete, even if argv[0] says otherwise.
        assert_eq!(
            program_name(
                "sshd\n",
                Some("/usr/sbin/sshd"),
                Some("sshd: /usr/sbin/sshd")
            ),
            "sshd"
        );
        // Truncated comm: the executable's name.
        assert_eq!(
            program_name(
                "systemd-resolve",
                Some("/usr/lib/systemd/systemd-resolved"),
                None
            ),
            "systemd-resolved"
        );
        // Truncated comm through a symlink: exe is the target, argv[0] the link name.
        assert_eq!(
            program_name(
                "portent-test-li",
                Some("/usr/bin/python3.11"),
                Some("/tmp/x/portent-test-listener-long")
            ),
            "portent-test-listener-long"
        );
        assert_eq!(
            program_name(
                "my-long-server-",
                Some("/opt/my-long-server-x (deleted)"),
                None
            ),
            "my-long-server-x"
        );
        // Neither matches: keep comm.
        assert_eq!(
            program_name("abcdefghijklmno", Some("/bin/x"), Some("y")),
            "abcdefghijklmno"
        );
        assert_eq!(program_name("", None, Some("/bin/true")), "true");
    }

    #[test]
    fn cmdlines() {
        assert_eq!(
            split_cmdline(b"python3\0-c\0print(1)\0"),
            ["python3", "-c", "print(1)"]
        );
        assert_eq!(
            split_cmdline(b"nginx: worker process\0"),
            ["nginx: worker process"]
        );
        assert_eq!(split_cmdline(b"a\0\0b"), ["a", "", "b"]);
        assert!(split_cmdline(b"").is_empty());
        assert_eq!(split_cmdline(b"\xff\0"), ["\u{fffd}"]);
    }

    #[test]
    fn passwd() {
        let m = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# c\nbad\nnobody:x:65534:65534::/:/x\ndup:x:0:0::/:/x\n:x:5:5::/:/x\n",
        );
        assert_eq!(m.get(&0).map(String::as_str), Some("root"));
        assert_eq!(m.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12a]"), None);
        assert_eq!(socket_inode(b"pipe:[12]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999999]"), None);
    }
}
