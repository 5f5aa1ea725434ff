//! Reading the files and streams a user hands portent, bounded.
//!
//! Every file named on the command line (`scan -iL`, `--exclude-file`, `--signatures`,
//! `registry update --file`, `--baseline`, `listening --netns`) and standard input (`-iL -`)
//! is read through this crate, so each gets the same two guarantees:
//!
//! * **A size cap.** Reading stops one byte past the caller's limit, so `/dev/zero` on
//!   standard input or a huge file costs at most the limit, never all memory.
//! * **A file-type check before open.** A path that is not a regular file (a FIFO, a character
//!   or block device, a socket, a directory) is refused with a message naming it, before
//!   open(2): opening a FIFO with no writer blocks forever, and opening some devices has
//!   effects of its own. The file is then opened with `O_NONBLOCK` and checked again on the
//!   open descriptor, so a path swapped for a FIFO between the check and the open cannot
//!   block either.
//!
//! Network namespace files (`/run/netns/NAME`, `/proc/PID/ns/net`) are regular empty files
//! on nsfs, so [`open`] accepts them.
//!
//! This is its own crate, not a module of the lowest crate, because its users (targets in
//! `portent-scan`, signatures in `portent-probe`, the registry snapshot in
//! `portent-registry`, namespaces in `portent-local`, baselines in the CLI) share no other
//! dependency that reading files belongs in: `portent-iana` parses bytes and never touches
//! the file system.
//!
//! Errors are typed ([`InputError`]) and carry their cause in their own message (an I/O error
//! is not also chained as `source()`), so a printer of the chain shows it once.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Where input comes from: a named file or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("from standard input"),
        }
    }
}

/// What a path turned out to be, when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    /// Anything else that is not a regular file.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the {what} {from}: {err}")]
    Io {
        what: &'static str,
        from: Source,
        err: io::Error,
    },
    #[error(
        "the {what} {path} is {kind}, not a regular file: portent reads regular files only{}",
        if *.stdin_ok { " (for a pipe, give - and send it to standard input)" } else { "" }
    )]
    NotAFile {
        what: &'static str,
        path: PathBuf,
        kind: FileKind,
        stdin_ok: bool,
    },
    #[error(
        "the {what} {from} is larger than {}, the most portent reads from one; is it the right file?",
        size(*.limit)
    )]
    TooLarge {
        what: &'static str,
        from: Source,
        limit: u64,
    },
    #[error("the {what} {from} is not UTF-8 text (the first invalid byte is at offset {offset})")]
    NotUtf8 {
        what: &'static str,
        from: Source,
        offset: usize,
    },
}

impl InputError {
    /// The kind of the underlying I/O error, for callers that treat a missing file as "none".
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            InputError::Io { err, .. } => Some(err.kind()),
            _ => None,
        }
    }
}

/// `16 MiB`, `64 KiB`, `100 bytes`.
fn size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// One kind of input and its cap: `Input::new("target list", 64 << 20)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// What the input is, for messages ("target list", "signature file").
    pub what: &'static str,
    /// The most bytes read; one byte more is an error.
    pub limit: u64,
}

impl Input {
    pub const fn new(what: &'static str, limit: u64) -> Input {
        Input { what, limit }
    }

    /// Reads a regular file of at most [`limit`](Self::limit) bytes. `-` is a file name
    /// here; use [`read_arg`](Self::read_arg) where `-` means standard input.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, InputError> {
        self.read_file(path, false)
    }

    /// Reads `path`, or standard input when `path` is `-`, within the same cap.
    pub fn read_arg(&self, path: &Path) -> Result<Vec<u8>, InputError> {
        if path == Path::new("-") {
            self.read_from(Source::Stdin, io::stdin().lock(), 0)
        } else {
            self.read_file(path, true)
        }
    }

    /// [`read`](Self::read) as UTF-8 text.
    pub fn read_text(&self, path: &Path) -> Result<String, InputError> {
        let bytes = self.read(path)?;
        self.text(Source::File(path.to_owned()), bytes)
    }

    /// [`read_arg`](Self::read_arg) as UTF-8 text.
    pub fn read_arg_text(&self, path: &Path) -> Result<String, InputError> {
        let bytes = self.read_arg(path)?;
        let source = if path == Path::new("-") {
            Source::Stdin
        } else {
            Source::File(path.to_owned())
        };
        self.text(source, bytes)
    }

    /// Reads at most the cap from any reader (a stream the caller opened), naming it `source`
    /// in errors; `hint` is the expected size, for the first allocation.
    pub fn read_from(
        &self,
        source: Source,
        reader: impl Read,
        hint: u64,
    ) -> Result<Vec<u8>, InputError> {
        let mut bytes = Vec::with_capacity(usize::try_from(hint.min(self.limit)).unwrap_or(0));
        reader
            .take(self.limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|err| InputError::Io {
                what: self.what,
                from: source.clone(),
                err,
            })?;
        if bytes.len() as u64 > self.limit {
            return Err(InputError::TooLarge {
                what: self.what,
                from: source,
                limit: self.limit,
            });
        }
        Ok(bytes)
    }

    fn read_file(&self, path: &Path, stdin_ok: bool) -> Result<Vec<u8>, InputError> {
        let file = open_checked(path, self.what, stdin_ok)?;
        let source = Source::File(path.to_owned());
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > self.limit {
            return Err(InputError::TooLarge {
                what: self.what,
                from: source,
                limit: self.limit,
            });
        }
        self.read_from(source, file, len)
    }

    fn text(&self, source: Source, bytes: Vec<u8>) -> Result<String, InputError> {
        String::from_utf8(bytes).map_err(|e| InputError::NotUtf8 {
            what: self.what,
            from: source,
            offset: e.utf8_error().valid_up_to(),
        })
    }
}

/// Opens a regular file for reading after checking its type, without blocking: the checks
/// of [`Input::read`] without the read (for a namespace file handed to setns, say).
pub fn open(path: &Path, what: &'static str) -> Result<File, InputError> {
    open_checked(path, what, false)
}

/// Checks that `path` is a regular file (or a link to one) without opening it: for files
/// another library opens (a SQLite store). A missing file is an [`InputError::Io`] with
/// [`io::ErrorKind::NotFound`].
pub fn check(path: &Path, what: &'static str) -> Result<(), InputError> {
    let meta = fs::metadata(path).map_err(|err| InputError::Io {
        what,
        from: Source::File(path.to_owned()),
        err,
    })?;
    match kind_of(&meta) {
        None => Ok(()),
        Some(kind) => Err(InputError::NotAFile {
            what,
            path: path.to_owned(),
            kind,
            stdin_ok: false,
        }),
    }
}

fn open_checked(path: &Path, what: &'static str, stdin_ok: bool) -> Result<File, InputError> {
    let io_err = |err| InputError::Io {
        what,
        from: Source::File(path.to_owned()),
        err,
    };
    let check = |meta: &fs::Metadata| match kind_of(meta) {
        None => Ok(()),
        Some(kind) => Err(InputError::NotAFile {
            what,
            path: path.to_owned(),
            kind,
            stdin_ok,
        }),
    };
    // stat(2) follows symlinks and never blocks, whatever the path names.
    check(&fs::metadata(path).map_err(io_err)?)?;
    let file = nonblocking_open(path).map_err(io_err)?;
    // The path may have been replaced since the stat: check what was actually opened.
    check(&file.metadata().map_err(io_err)?)?;
    Ok(file)
}

#[cfg(unix)]
fn nonblocking_open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
    // (it is then refused). Reads of a regular file ignore the flag. O_NOCTTY: a terminal
    // device never becomes our controlling terminal.
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn nonblocking_open(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// `None` for a regular file, else what it is.
fn kind_of(meta: &fs::Metadata) -> Option<FileKind> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some(FileKind::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return Some(FileKind::Fifo);
        }
        if t.is_socket() {
            return Some(FileKind::Socket);
        }
        if t.is_char_device() {
            return Some(FileKind::CharDevice);
        }
        if t.is_block_device() {
            return Some(FileKind::BlockDevice);
        }
    }
    Some(FileKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const SMALL: Input = Input::new("test list", 16);

    #[test]
    fn reads_a_regular_file_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        fs::write(&p, "exactly 16 bytes").unwrap();
        assert_eq!(SMALL.read_text(&p).unwrap(), "exactly 16 bytes");
        fs::write(&p, "seventeen bytes!!").unwrap();
        let e = SMALL.read(&p).unwrap_err();
        assert!(matches!(e, InputError::TooLarge { limit: 16, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "the test list {} is larger than 16 bytes, the most portent reads from one; \
                 is it the right file?",
                p.display()
            )
        );
    }

    #[test]
    fn a_sparse_file_over_the_cap_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        File::create(&p).unwrap().set_len(1 << 40).unwrap();
        let t = Instant::now();
        let e = Input::new("x", 64 << 20).read(&p).unwrap_err();
        assert!(e.to_string().contains("larger than 64 MiB"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_files_say_so_once() {
        let e = SMALL.read(Path::new("/nonexistent/x")).unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
        let text = e.to_string();
        assert!(
            text.starts_with("cannot read the test list /nonexistent/x: "),
            "{text}"
        );
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn not_utf8_names_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b");
        fs::write(&p, b"ok\xff").unwrap();
        let e = SMALL.read_text(&p).unwrap_err();
        assert!(matches!(e, InputError::NotUtf8 { offset: 2, .. }), "{e}");
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = SMALL.read(dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                InputError::NotAFile {
                    kind: FileKind::Directory,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_before_reading() {
        for (dev, kind) in [
            ("/dev/zero", FileKind::CharDevice),
            ("/dev/null", FileKind::CharDevice),
        ] {
            let e = SMALL.read_arg(Path::new(dev)).unwrap_err();
            match &e {
                InputError::NotAFile { kind: k, path, .. } => {
                    assert_eq!(*k, kind);
                    assert_eq!(path, Path::new(dev));
                }
                other => panic!("{dev}: {other}"),
            }
            assert_eq!(
                e.to_string(),
                format!(
                    "the test list {dev} is a character device, not a regular file: portent \
                     reads regular files only (for a pipe, give - and send it to standard input)"
                )
            );
        }
    }

    /// A FIFO nobody writes to: open(2) without O_NONBLOCK would block forever. The check
    /// runs on a thread so that a hang fails the test instead of hanging it.
    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = p.clone();
        std::thread::spawn(move || {
            let _ = tx.send((
                SMALL.read(&path).map(|_| ()),
                open(&path, "namespace").map(|_| ()),
            ));
        });
        let (read, opened) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("reading a FIFO without a writer hung");
        for e in [read.unwrap_err(), opened.unwrap_err()] {
            assert!(
                matches!(
                    e,
                    InputError::NotAFile {
                        kind: FileKind::Fifo,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().contains("is a FIFO (named pipe)"), "{e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_judged_by_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::write(&real, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(SMALL.read(&link).unwrap(), b"x");
        let dev = dir.path().join("dev");
        std::os::unix::fs::symlink("/dev/zero", &dev).unwrap();
        assert!(matches!(
            SMALL.read(&dev),
            Err(InputError::NotAFile {
                kind: FileKind::CharDevice,
                ..
            })
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_namespace_file_opens() {
        // nsfs files are regular empty files: setns needs them opened.
        let f = open(Path::new("/proc/self/ns/net"), "network namespace").unwrap();
        assert!(f.metadata().unwrap().is_file());
    }

    #[test]
    fn a_reader_is_capped() {
        let e = SMALL
            .read_from(Source::Stdin, io::repeat(0), 0)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the test list from standard input is larger than 16 bytes, the most portent reads \
             from one; is it the right file?"
        );
        assert_eq!(
            SMALL.read_from(Source::Stdin, &b"short"[..], 5).unwrap(),
            b"short"
        );
    }

    #[test]
    fn check_tells_missing_from_wrong_kind() {
        let dir = tempfile::tempdir().unwrap();
        let e = check(&dir.path().join("none"), "store").unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
        let e = check(dir.path(), "store").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the store {} is a directory, not a regular file: portent reads regular files only",
                dir.path().display()
            )
        );
        let f = dir.path().join("f");
        fs::write(&f, "").unwrap();
        check(&f, "store").unwrap();
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(16 << 20), "16 MiB");
        assert_eq!(size(64 << 10), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
