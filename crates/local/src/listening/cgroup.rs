//! What a process's cgroup path says about where it runs: the systemd unit (service, scope)
//! and the container, when a container runtime or systemd named them in the path.
//!
//! Pure functions over the text of `/proc/PID/cgroup`, table-tested below. The path is a
//! convention, not a contract: runtimes that name cgroups differently give no container.

/// The unit and container a cgroup file names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The innermost systemd unit: `ssh.service`, `session-3.scope`, a user's `app.service`.
    pub unit: Option<String>,
    /// `docker:0123456789ab`, `podman:...`, `containerd:...`, `crio:...`, `kubepods:...`,
    /// `lxc:NAME`, `nspawn:NAME`.
    pub container: Option<String>,
}

/// Reads `/proc/PID/cgroup` text. The unified (v2) line `0::PATH` is preferred, then the v1
/// `name=systemd` hierarchy, then any line with a path other than `/`.
pub fn classify(text: &str) -> Placement {
    let mut v2 = None;
    let mut systemd = None;
    let mut other = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if id == "0" && ctrl.is_empty() {
            v2 = Some(path);
        } else if ctrl == "name=systemd" {
            systemd = Some(path);
        } else if other.is_none() && path != "/" {
            other = Some(path);
        }
    }
    // A v2 line of "/" next to populated v1 lines (hybrid hosts) says nothing.
    let path = [v2, systemd, other]
        .into_iter()
        .flatten()
        .find(|p| *p != "/")
        .unwrap_or("/");
    classify_path(path)
}

/// Classifies one cgroup path.
pub fn classify_path(path: &str) -> Placement {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut out = Placement::default();
    for (i, part) in parts.iter().enumerate() {
        if out.container.is_none() {
            out.container = container_of(part, parts.get(i + 1).copied(), parts.first().copied());
        }
    }
    out.unit = parts
        .iter()
        .rev()
        .find(|p| {
            (p.ends_with(".service") || p.ends_with(".scope"))
                && container_scope(p).is_none()
                && !p.starts_with("user@")
        })
        .map(|p| (*p).to_owned())
        .or_else(|| {
            parts
                .iter()
                .rev()
                .find(|p| p.starts_with("user@") && p.ends_with(".service"))
                .map(|p| (*p).to_owned())
        });
    out
}

/// `docker-<id>.scope` and friends: the runtime and the short id.
fn container_scope(part: &str) -> Option<String> {
    let stem = part.strip_suffix(".scope")?;
    for (prefix, runtime) in [
        ("docker-", "docker"),
        ("libpod-conmon-", "podman"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-conmon-", "crio"),
        ("crio-", "crio"),
    ] {
        if let Some(id) = stem.strip_prefix(prefix)
            && is_hex_id(id)
        {
            return Some(format!("{runtime}:{}", short(id)));
        }
    }
    None
}

fn container_of(part: &str, next: Option<&str>, first: Option<&str>) -> Option<String> {
    if let Some(c) = container_scope(part) {
        return Some(c);
    }
    // cgroupfs drivers: /docker/<id>, /kubepods/<qos>/pod<uid>/<id>, /lxc/<name>.
    if part == "docker" {
        return next
            .filter(|n| is_hex_id(n))
            .map(|n| format!("docker:{}", short(n)));
    }
    if first == Some("kubepods") && is_hex_id(part) {
        return Some(format!("kubepods:{}", short(part)));
    }
    if let Some(name) = part.strip_prefix("lxc.payload.") {
        return Some(format!("lxc:{name}"));
    }
    if part == "lxc" {
        return next.map(|n| format!("lxc:{n}"));
    }
    if let Some(name) = part
        .strip_prefix("systemd-nspawn@")
        .and_then(|p| p.strip_suffix(".service"))
    {
        return Some(format!("nspawn:{name}"));
    }
    None
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(unit: Option<&str>, container: Option<&str>) -> Placement {
        Placement {
            unit: unit.map(str::to_owned),
            container: container.map(str::to_owned),
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn paths() {
        let rows: Vec<(String, Placement)> = vec![
            (
                "/system.slice/ssh.service".into(),
                p(Some("ssh.service"), None),
            ),
            ("/".into(), p(None, None)),
            (
                "/user.slice/user-1000.slice/session-3.scope".into(),
                p(Some("session-3.scope"), None),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.service".into(),
                p(Some("app-foo.service"), None),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/init.scope".into(),
                p(Some("init.scope"), None),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service".into(),
                p(Some("user@1000.service"), None),
            ),
            (
                format!("/system.slice/docker-{ID}.scope"),
                p(None, Some("docker:0123456789ab")),
            ),
            (
                format!("/docker/{ID}"),
                p(None, Some("docker:0123456789ab")),
            ),
            (
                format!("/machine.slice/libpod-{ID}.scope/container"),
                p(None, Some("podman:0123456789ab")),
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{ID}.scope"
                ),
                p(None, Some("containerd:0123456789ab")),
            ),
            (
                format!("/kubepods/burstable/pod1234/{ID}"),
                p(None, Some("kubepods:0123456789ab")),
            ),
            (
                "/lxc.payload.web/system.slice/nginx.service".into(),
                p(Some("nginx.service"), Some("lxc:web")),
            ),
            (
                "/machine.slice/systemd-nspawn@box.service/payload".into(),
                p(Some("systemd-nspawn@box.service"), Some("nspawn:box")),
            ),
            (
                "/process_api/2b85c0c6b924c614422cc88f01f52345".into(),
                p(None, None),
            ),
        ];
        for (path, want) in rows {
            assert_eq!(classify_path(&path), want, "{path}");
        }
    }

    #[test]
    fn files() {
        assert_eq!(
            classify("0::/system.slice/cron.service\n"),
            p(Some("cron.service"), None)
        );
        // Hybrid: v2 says "/", the v1 systemd hierarchy has the unit.
        assert_eq!(
            classify("12:name=systemd:/system.slice/x.service\n4:memory:/y\n0::/\n"),
            p(Some("x.service"), None)
        );
        assert_eq!(
            classify(&format!("11:cpu,cpuacct:/docker/{ID}\n1:name=systemd:/\n")),
            p(None, Some("docker:0123456789ab"))
        );
        assert_eq!(classify("garbage"), p(None, None));
        assert_eq!(classify(""), p(None, None));
    }
}
