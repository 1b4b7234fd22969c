//! Network namespaces for tests: a bridge in the test's own namespace (the "host", first
//! address of a /24) and namespaces joined to it by veth pairs, one address each. A process runs
//! in a namespace through `ip netns exec` (which execs it: the child's pid is the process's own,
//! so signals reach it). A namespace can be cut off the bridge and restored: its veth's host end
//! is taken down, so every packet to or from it is dropped, as with an unplugged cable (open
//! connections hang, new ones time out or find no route; unlike SIGSTOP, the process runs and
//! sees its peers vanish).
//!
//! Names carry the test process's id and a counter, so parallel tests and runs never collide;
//! everything is removed on drop, panics included. Where the machine does not allow it (not
//! root, no `ip`), [`TestNet::create`] says why and the caller skips.

use std::{
    net::Ipv4Addr,
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
};

/// One namespace on the bridge.
#[derive(Debug)]
struct Space {
    /// The namespace's name.
    name: String,
    /// The host end of its veth pair (on the bridge).
    host_link: String,
    ip: Ipv4Addr,
}

/// A bridge and namespaces on it; removed on drop.
#[derive(Debug)]
pub(crate) struct TestNet {
    /// The bridge, once created.
    bridge: Option<String>,
    /// The bridge's address: the test process's address on this network.
    pub(crate) host_ip: Ipv4Addr,
    /// The namespaces, as far as created.
    spaces: Vec<Space>,
}

impl TestNet {
    /// A bridge and `count` namespaces on it (at most 250), or why the machine does not allow
    /// it.
    pub(crate) fn create(count: usize) -> Result<TestNet, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        assert!(count <= 250, "one /24 holds at most 250 namespaces here");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = |kind: char, i: u32| format!("dk{pid}{kind}{i}");
        let subnet = free_subnet(pid, n)?;
        let [a, b, c, _] = subnet.octets();
        let mut net = TestNet {
            bridge: None,
            host_ip: Ipv4Addr::new(a, b, c, 1),
            spaces: Vec::new(),
        };
        let bridge = tag('b', n);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        net.bridge = Some(bridge.clone());
        ip(&[
            "addr",
            "add",
            &format!("{}/24", net.host_ip),
            "dev",
            &bridge,
        ])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..count {
            // One counter value per namespace, so link names stay unique across nets.
            let k = NEXT.fetch_add(1, Ordering::Relaxed);
            let space = Space {
                name: tag('n', k),
                host_link: tag('h', k),
                ip: Ipv4Addr::new(a, b, c, 2 + u8::try_from(i).expect("at most 250")),
            };
            let inner = tag('c', k);
            ip(&["netns", "add", &space.name])?;
            let (name, host_link) = (space.name.clone(), space.host_link.clone());
            net.spaces.push(space);
            ip(&[
                "link", "add", &host_link, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &host_link, "master", &bridge, "up"])?;
            ip(&["link", "set", &inner, "netns", &name])?;
            let addr = format!("{}/24", net.spaces[i].ip);
            ip(&["-n", &name, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &name, "link", "set", &inner, "up"])?;
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// The address of namespace `i`.
    pub(crate) fn ip(&self, i: usize) -> Ipv4Addr {
        self.spaces[i].ip
    }

    /// `command` (program, arguments, environment changes, working dir) run inside
    /// namespace `i`.
    pub(crate) fn inside(&self, i: usize, command: &Command) -> Command {
        let mut wrapped = Command::new("ip");
        wrapped
            .args(["netns", "exec", &self.spaces[i].name])
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped
    }

    /// The `dkrond` `command` run inside namespace `i`, its peer RPC bound to and advertised
    /// on the namespace's address (an API address is the caller's: `--http-addr`).
    pub(crate) fn dkrond(&self, i: usize, mut command: Command) -> Command {
        let ip = self.ip(i).to_string();
        command.args(["--bind-addr", &ip, "--advertise-addr", &ip]);
        self.inside(i, &command)
    }

    /// Runs `program` with `args` inside namespace `i` and waits for it.
    pub(crate) fn output(&self, i: usize, program: &str, args: &[&str]) -> Output {
        let mut command = Command::new(program);
        command.args(args);
        self.inside(i, &command)
            .output()
            .unwrap_or_else(|e| panic!("run {program} in namespace {i}: {e}"))
    }

    /// Cuts namespace `i` off the bridge: every packet to or from it is dropped.
    pub(crate) fn cut(&self, i: usize) {
        ip(&["link", "set", &self.spaces[i].host_link, "down"]).expect("cut a namespace off");
    }

    /// Joins namespace `i` to the bridge again.
    pub(crate) fn restore(&self, i: usize) {
        ip(&["link", "set", &self.spaces[i].host_link, "up"]).expect("restore a namespace");
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        // Deleting a host end deletes its pair; a namespace whose processes outlive the test
        // (a job's shell, for at most its sleep) goes when they exit, its name at once.
        for space in &self.spaces {
            let _ = ip(&["link", "del", &space.host_link]);
            let _ = ip(&["netns", "del", &space.name]);
        }
        if let Some(bridge) = &self.bridge {
            let _ = ip(&["link", "del", bridge]);
        }
    }
}

/// Runs `ip args`; the error names the command and what `ip` said.
fn ip(args: &[&str]) -> Result<(), String> {
    match Command::new("ip").args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`ip {}` failed (not root, or namespaces not allowed here): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(error) => Err(format!("cannot run `ip`: {error}")),
    }
}

/// A /24 in 10.100.0.0-10.163.255.0 that no interface of this namespace uses, picked from the
/// process id and counter (so parallel runs start apart) and the next ones if taken.
fn free_subnet(pid: u32, n: u32) -> Result<Ipv4Addr, String> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    let used = String::from_utf8_lossy(&out.stdout).into_owned();
    const SUBNETS: u32 = 64 * 256;
    let start = pid.wrapping_mul(61).wrapping_add(n.wrapping_mul(7919)) % SUBNETS;
    (0..SUBNETS)
        .map(|k| (start + k) % SUBNETS)
        .map(|s| Ipv4Addr::new(10, 100 + (s / 256) as u8, (s % 256) as u8, 0))
        .find(|net| {
            let [a, b, c, _] = net.octets();
            !used.contains(&format!(" {a}.{b}.{c}."))
        })
        .ok_or_else(|| "no free /24 in 10.100.0.0-10.163.255.0 for a test network".to_owned())
}

/// A net dropped while a panic unwinds leaves no namespace, link or address behind.
#[test]
fn a_net_is_removed_when_a_panic_unwinds() {
    let names = std::sync::Mutex::new(Vec::new());
    let unwound = std::panic::catch_unwind(|| {
        let net = match TestNet::create(2) {
            Ok(net) => net,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return;
            }
        };
        let mut seen = names.lock().expect("names");
        seen.extend(
            net.spaces
                .iter()
                .flat_map(|s| [s.name.clone(), s.host_link.clone()]),
        );
        seen.extend(net.bridge.clone());
        seen.push(format!(" {}/24", net.host_ip));
        drop(seen);
        panic!("a test failing with its net up");
    });
    let names = names.into_inner().expect("names");
    if names.is_empty() {
        return;
    }
    assert!(unwound.is_err(), "the closure panicked");
    let listed = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("run ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let left = [
        listed(&["netns", "list"]),
        listed(&["-o", "link", "show"]),
        listed(&["-o", "-4", "addr", "show"]),
    ]
    .concat();
    for name in &names {
        assert!(!left.contains(name.as_str()), "{name} is left:\n{left}");
    }
}
