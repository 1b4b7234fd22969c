//! A command's process group: kill it, measure its memory, reap what it left behind.
//!
//! Everything here reads `/proc` (Linux). A process that leaves the group (`setsid`, `setpgid`)
//! escapes these functions: it is neither killed nor measured.

use std::{io, time::Duration};

use nix::{
    errno::Errno,
    sys::{
        signal::{Signal, killpg},
        wait::{WaitPidFlag, WaitStatus, waitpid},
    },
    unistd::Pid,
};

/// One process of a group, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) pid: i32,
    pub(crate) parent_pid: i32,
    pub(crate) zombie: bool,
    pub(crate) rss_pages: u64,
}

/// Sends SIGKILL to every process of the group. Returns `false` when the group is empty.
pub(crate) fn kill_group(pgid: i32) -> bool {
    // Invariant: never signal group 0 (our own group) or 1; only a real child's group.
    if pgid <= 1 {
        return false;
    }
    !matches!(
        killpg(Pid::from_raw(pgid), Signal::SIGKILL),
        Err(Errno::ESRCH)
    )
}

/// The start time of process `pgid` if it is the leader of process group `pgid`: clock ticks
/// after boot (`/proc/<pid>/stat` field 22). `None` when there is no such process, it left its
/// group, or `/proc` cannot be read.
///
/// Why the start time: pids are reused. A (pgid, start time) pair names one process of one boot;
/// with [`boot_id`] it names one process for good.
pub fn group_leader_start(pgid: i32) -> Option<u64> {
    if pgid <= 1 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pgid}/stat")).ok()?;
    let (group, start) = parse_group_and_start(&stat)?;
    (group == pgid).then_some(start)
}

/// Sends SIGKILL to process group `pgid` only if its leader is still the process that started at
/// `leader_start` ([`group_leader_start`]); returns whether the group was signalled.
///
/// For a restarted process killing the groups its previous life left behind: a pgid whose leader
/// is gone, or was reused by an unrelated process, is left alone. A group whose leader exited but
/// whose other members still run is left alone too: without its leader nothing proves the group
/// is the recorded one.
pub fn kill_group_if(pgid: i32, leader_start: u64) -> bool {
    // Why the check cannot race into a wrong kill in practice: while group `pgid` has a member the
    // kernel does not hand its number out again, so the group signalled is the one just checked
    // unless all of it died, the pid was reused and the new process made itself a group leader,
    // all between two syscalls.
    group_leader_start(pgid) == Some(leader_start) && kill_group(pgid)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), `None` if it cannot be read. Processes
/// recorded under another boot id are gone (the machine restarted), whatever their pids now name.
pub fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// The processes whose process group is `pgid`, zombies included.
pub(crate) fn members(pgid: i32) -> io::Result<Vec<Member>> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        // Why: a process can exit between read_dir and read; that is not an error.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(member) = parse_stat(pid, &stat)
            && member.0 == pgid
        {
            members.push(member.1);
        }
    }
    Ok(members)
}

/// Resident memory of the whole group, in bytes.
pub(crate) fn group_rss_bytes(pgid: i32) -> io::Result<u64> {
    let pages: u64 = members(pgid)?.iter().map(|member| member.rss_pages).sum();
    Ok(pages.saturating_mul(page_size()))
}

/// Makes this process adopt orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`).
///
/// Why it matters: when a command's group is killed, its grandchildren are re-parented. Without a
/// subreaper they go to PID 1, and an init that does not reap (some container runtimes) keeps them
/// as zombies forever. With this set, they come to this process and the shell executor reaps
/// those of the group it ran. Call it once at startup; it is not needed when running as PID 1.
///
/// # Errors
/// The `prctl` failure.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Kills and reaps what is left of a group after its leader has been reaped, until nothing of it
/// remains that this process can act on, or `deadline` passes.
///
/// Invariant: only processes of *this* group are waited for (`waitpid` on their exact pid), so
/// the exit status of a child that tokio owns (another group's leader) is never stolen.
pub(crate) async fn reap_group(pgid: i32, leader_pid: i32, within: Duration) {
    // Fast path: an empty group costs one syscall (the common case: a command with no leftovers).
    if !kill_group(pgid) {
        return;
    }
    let self_pid = std::process::id() as i32;
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(1);
    loop {
        let Ok(members) = members(pgid) else { return };
        let mut n_waiting = 0;
        for member in members.iter().filter(|member| member.pid != leader_pid) {
            match fate(member, &members, self_pid, leader_pid) {
                Fate::Ours => {
                    let status = waitpid(Pid::from_raw(member.pid), Some(WaitPidFlag::WNOHANG));
                    if matches!(status, Ok(WaitStatus::StillAlive)) {
                        n_waiting += 1;
                    }
                }
                Fate::Pending => n_waiting += 1,
                Fate::Others => {}
            }
        }
        if n_waiting == 0 || tokio::time::Instant::now() >= deadline {
            return;
        }
        // Why: new processes may have been forked between the kill and the scan.
        kill_group(pgid);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// What [`reap_group`] does with one member of a killed group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Our child: wait for it.
    Ours,
    /// Not ours to wait for yet, but not gone either: poll again.
    Pending,
    /// A zombie another process (outside the group) will reap.
    Others,
}

fn fate(member: &Member, members: &[Member], self_pid: i32, leader_pid: i32) -> Fate {
    if member.parent_pid == self_pid {
        return Fate::Ours;
    }
    if !member.zombie {
        // Killed but not dead yet (SIGKILL is asynchronous).
        return Fate::Pending;
    }
    // Why: a zombie whose parent is in the group (the killed shell, say) is re-parented when
    // that parent exits, to this process if it is a subreaper. Until then it is nobody's to reap,
    // and leaving now would leave it a zombie for good. The /proc scan is not atomic, so a parent
    // read as a zombie may have re-parented it already: that is pending too.
    let parent_in_group = member.parent_pid == leader_pid
        || members.iter().any(|other| other.pid == member.parent_pid);
    if parent_in_group {
        Fate::Pending
    } else {
        Fate::Others
    }
}

/// Parses `/proc/<pid>/stat` into (process group, member). The command name may contain spaces
/// and parentheses, so fields are counted from the last `)`.
fn parse_stat(pid: i32, stat: &str) -> Option<(i32, Member)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field numbers of proc(5), minus 3: state is field 3, ppid 4, pgrp 5, rss 24.
    let state = fields.first()?;
    let parent_pid = fields.get(1)?.parse().ok()?;
    let pgid = fields.get(2)?.parse().ok()?;
    let rss_pages = fields.get(21)?.parse().ok()?;
    Some((
        pgid,
        Member {
            pid,
            parent_pid,
            zombie: *state == "Z",
            rss_pages,
        },
    ))
}

/// Parses `/proc/<pid>/stat` into (process group, start time in clock ticks after boot).
fn parse_group_and_start(stat: &str) -> Option<(i32, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // Field numbers of proc(5), minus 3: pgrp is field 5, starttime 22.
    let pgid = fields.nth(2)?.parse().ok()?;
    let start = fields.nth(16)?.parse().ok()?;
    Some((pgid, start))
}

fn page_size() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(size)) if size > 0 => size as u64,
        _ => 4096,
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Fate, Member, fate, group_leader_start, kill_group, kill_group_if, parse_group_and_start,
        parse_stat,
    };

    /// Group ids 0 (our own group) and 1 are never signalled, whatever the caller passes.
    #[test]
    fn never_signals_our_own_group() {
        assert!(!kill_group(0));
        assert!(!kill_group(1));
        assert!(!kill_group(-5));
    }

    /// A command name with spaces and parentheses does not shift the fields.
    #[test]
    fn parses_stat_with_awkward_names() {
        let stat = "1234 (a (b) c) S 10 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 99 1000 77 18446744073709551615";
        let (pgid, member) = parse_stat(1234, stat).expect("parses");
        assert_eq!(pgid, 1234);
        assert_eq!(member.parent_pid, 10);
        assert_eq!(member.rss_pages, 77);
        assert!(!member.zombie);
        assert_eq!(parse_stat(1, "garbage"), None);
        assert_eq!(parse_group_and_start(stat), Some((1234, 99)));
        assert_eq!(parse_group_and_start("1 (x) S 0 1"), None);
        assert_eq!(parse_group_and_start("garbage"), None);
    }

    /// Our own group's leader is never signalled, and bad ids name nothing.
    #[test]
    fn guarded_kill_refuses_our_group_and_bad_ids() {
        assert_eq!(group_leader_start(0), None);
        assert_eq!(group_leader_start(-3), None);
        assert!(!kill_group_if(0, 0));
        assert!(!kill_group_if(1, 0));
    }

    fn member(pid: i32, parent_pid: i32, zombie: bool) -> Member {
        Member {
            pid,
            parent_pid,
            zombie,
            rss_pages: 0,
        }
    }

    /// The race CI hit: the shell (leader 100) was killed, its child 101 is already a zombie
    /// but not yet re-parented to us. It must be waited for, not left behind.
    #[test]
    fn a_zombie_whose_parent_is_in_the_group_is_pending() {
        let us = 7;
        let shell_alive = [member(100, us, false), member(101, 100, true)];
        assert_eq!(fate(&shell_alive[1], &shell_alive, us, 100), Fate::Pending);
        // The leader already reaped (the normal path): its stale pid still counts as the group.
        let leader_gone = [member(101, 100, true)];
        assert_eq!(fate(&leader_gone[0], &leader_gone, us, 100), Fate::Pending);
        // Parent 102 is a member other than the leader.
        let nested = [member(102, 100, false), member(103, 102, true)];
        assert_eq!(fate(&nested[1], &nested, us, 100), Fate::Pending);
    }

    #[test]
    fn our_children_are_ours_and_outsiders_zombies_are_not() {
        let us = 7;
        let members = [
            member(101, us, true),
            member(102, us, false),
            member(103, 55, true),
        ];
        assert_eq!(fate(&members[0], &members, us, 100), Fate::Ours);
        assert_eq!(fate(&members[1], &members, us, 100), Fate::Ours);
        assert_eq!(fate(&members[2], &members, us, 100), Fate::Others);
        // Alive, whoever the parent: SIGKILL has not landed yet.
        let alive = [member(104, 55, false)];
        assert_eq!(fate(&alive[0], &alive, us, 100), Fate::Pending);
    }
}
