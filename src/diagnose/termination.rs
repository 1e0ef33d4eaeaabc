//! Kubernetes' termination message: the kubelet shows what a container wrote to
//! /dev/termination-log as why it ended; pidone writes its latest explanation there.
//!
//! The default, /dev/termination-log, only when it is already there and
//! writable (Kubernetes creates it); a path given with `--termination-log` is
//! created when missing. It looks at nothing until it has something to write.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

/// The kubelet reads at most this much of the file.
const MAX: usize = 4096;

/// Where pidone writes its one-line explanation for Kubernetes: /dev/termination-log
/// by default; `--termination-log PATH` / PIDONE_TERMINATION_LOG; `none`: off.
#[derive(Debug)]
pub struct TerminationLog {
    /// `None`: off.
    path: Option<PathBuf>,
    /// Create the file when it is missing: a path the user chose.
    create: bool,
    written: bool,
}

impl TerminationLog {
    /// `None` turns it off. A path other than the default is created when
    /// missing (it was given explicitly); the default is written only when
    /// there (where no kubelet made it, nobody reads it).
    pub fn new(path: Option<PathBuf>) -> Self {
        let create = path.as_ref().is_some_and(|p| *p != Self::default_path());
        TerminationLog {
            path,
            create,
            written: false,
        }
    }

    /// `/dev/termination-log`, where Kubernetes mounts it.
    pub fn default_path() -> PathBuf {
        PathBuf::from("/dev/termination-log")
    }

    /// Replaces the file's content with `line` and a newline, at most 4096 bytes in
    /// all (cut at a character boundary). When the file is absent (the default
    /// path) or cannot be created (another), not writable or anything else
    /// fails, nothing happens. It never blocks: the open is
    /// non-blocking (a FIFO with no reader fails with ENXIO), and the one write of
    /// at most PIPE_BUF bytes goes whole into a pipe or fails with EAGAIN.
    pub fn write(&mut self, line: &str) {
        let Some(path) = &self.path else {
            return;
        };
        let mut end = line.len().min(MAX - 1);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let mut text = Vec::with_capacity(end + 1);
        text.extend_from_slice(&line.as_bytes()[..end]);
        text.push(b'\n');
        // No O_CREAT for the default: Kubernetes creates the file, or there is
        // none to write. std adds O_CLOEXEC.
        let file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .create(self.create)
            .mode(0o644)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path);
        if let Ok(mut file) = file
            && file.write(&text).is_ok_and(|n| n == text.len())
        {
            self.written = true;
        }
    }

    /// Whether it is on at all.
    pub fn wanted(&self) -> bool {
        self.path.is_some()
    }

    /// Whether a line was written yet (the exit explanation is written only when no
    /// death line or limit event was).
    pub fn written(&self) -> bool {
        self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// A fresh path in the temporary directory, for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pidone-termination-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("termination-log")
    }

    fn created(path: &Path) -> TerminationLog {
        fs::write(path, "").unwrap();
        TerminationLog::new(Some(path.to_owned()))
    }

    #[test]
    fn each_line_replaces_the_last() {
        let path = scratch("overwrite");
        let mut log = created(&path);
        assert!(!log.written());
        log.write("the kernel OOM killer killed a process in the container, at length");
        assert!(log.written());
        log.write("died");
        assert_eq!(fs::read_to_string(&path).unwrap(), "died\n");
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_long_line_is_cut_at_4096_bytes_on_a_character() {
        let path = scratch("cut");
        let mut log = created(&path);
        // 4094 bytes of 'a', then 'é' (2 bytes) would end at 4096 with no room for
        // the newline: it goes whole.
        let line = format!("{}é and more", "a".repeat(4094));
        log.write(&line);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 4095);
        assert_eq!(text, format!("{}\n", "a".repeat(4094)));
        log.write(&format!("a{}", "é".repeat(3000)));
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 4096);
        assert!(text.ends_with("é\n"));
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn an_absent_file_given_explicitly_is_created() {
        let path = scratch("absent");
        let mut log = TerminationLog::new(Some(path.clone()));
        log.write("died");
        assert_eq!(fs::read_to_string(&path).unwrap(), "died\n");
        assert!(log.written());
        // In a directory that is not there, nothing is created and nothing fails.
        let deeper = path.with_file_name("missing").join("termination-log");
        let mut log = TerminationLog::new(Some(deeper.clone()));
        log.write("died");
        assert!(!deeper.exists() && !log.written());
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_default_path_is_never_created() {
        let log = TerminationLog::new(Some(TerminationLog::default_path()));
        assert!(!log.create && log.wanted());
        assert!(TerminationLog::new(Some(scratch("other"))).create);
    }

    #[test]
    fn off_writes_nothing() {
        let mut log = TerminationLog::new(None);
        log.write("died");
        assert!(!log.written());
        assert_eq!(
            TerminationLog::default_path(),
            Path::new("/dev/termination-log")
        );
    }

    #[test]
    fn a_fifo_with_no_reader_is_skipped_at_once() {
        let path = scratch("fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let mut log = TerminationLog::new(Some(path.clone()));
        log.write("died");
        assert!(!log.written());
        let _ = fs::remove_dir_all(path.parent().unwrap());
    }
}
