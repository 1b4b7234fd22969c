//! How a snapshot is built without taking the node's resources from its live work: on a
//! thread at the lowest CPU priority, writing its file out as it goes.
//!
//! Every server reaches the snapshot trigger at about the same point of the log. At normal
//! priority, three exports of a 200 MB state took both cores for seconds, and the final
//! `fsync` of 200 MB made every Raft append's WAL sync wait behind it: runs due meanwhile
//! started up to a second late (docs/benchmarks.md, "Scale: snapshots in the background").

use std::{
    fs::File,
    io::{self, Write},
};

/// Lowers the calling thread's CPU priority to nice 19. A thread cannot take that back, so
/// only a thread of its own may call it (not a pooled one).
pub(super) fn lower_this_threads_priority() {
    // On Linux the nice value is per thread: this one only.
    let this_thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(this_thread), 19) {
        tracing::debug!(%error, "cannot lower the snapshot thread's priority; building at normal priority");
    }
}

/// Bytes written between two syncs of a snapshot file.
const SYNC_EVERY: u64 = 8 << 20;

/// A file written out every [`SYNC_EVERY`] bytes, so its final sync is short and the disk
/// sees the snapshot as a trickle of small syncs rather than one of hundreds of MB.
pub(super) struct SyncedFile {
    file: File,
    unsynced: u64,
}

impl SyncedFile {
    pub(super) fn new(file: File) -> SyncedFile {
        SyncedFile { file, unsynced: 0 }
    }

    /// Syncs what is left and gives the file back.
    pub(super) fn finish(self) -> io::Result<File> {
        self.file.sync_all()?;
        Ok(self.file)
    }
}

impl Write for SyncedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        self.unsynced += written as u64;
        if self.unsynced >= SYNC_EVERY {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// The snapshot thread lowers its own CPU priority to the lowest, and only its own.
    #[test]
    fn the_snapshot_thread_runs_at_the_lowest_priority() {
        let before = rustix::process::getpriority_process(None).expect("this thread's nice value");
        let lowered = std::thread::spawn(|| {
            lower_this_threads_priority();
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .expect("the thread's nice value")
        })
        .join()
        .expect("the thread ends");
        assert_eq!(lowered, 19);
        assert_eq!(
            rustix::process::getpriority_process(None).expect("this thread's nice value"),
            before,
            "only the snapshot thread is lowered"
        );
    }

    /// What goes through a synced file is what the file holds, across several syncs.
    #[test]
    fn a_synced_file_keeps_every_byte() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("snap");
        let mut out = SyncedFile::new(File::create(&path).expect("create"));
        let chunk: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        for _ in 0..(SYNC_EVERY / (1 << 20) * 2 + 1) {
            out.write_all(&chunk).expect("write");
        }
        // Synced twice on the way: only the last MiB waits for the final sync.
        assert_eq!(out.unsynced, 1 << 20);
        out.finish().expect("finish");
        let mut back = Vec::new();
        File::open(&path)
            .expect("open")
            .read_to_end(&mut back)
            .expect("read");
        assert_eq!(back.len() as u64, (SYNC_EVERY * 2) + (1 << 20));
        assert!(back.chunks(1 << 20).all(|c| c == chunk.as_slice()));
    }
}
