//! The bounded reader, tried on what a hostile file can be: a FIFO, a device, a sparse giant,
//! a file that grows while read, a symbolic link, a path out of an archive.

use super::*;
use std::time::Duration;

const SMALL: Bound = Bound {
    what: "test file",
    limit: 16,
};

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// Fail the test instead of hanging when a read blocks.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the read returned instead of blocking")
}

#[test]
fn a_regular_file_within_the_limit_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"0123456789abcdef").unwrap();
    assert_eq!(
        read_bounded(&path, SMALL, Symlinks::Refuse).unwrap(),
        b"0123456789abcdef"
    );
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    mkfifo(&path);
    let err = within_seconds(move || read_bounded(&path, SMALL, Symlinks::Follow))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a FIFO, not a regular file"), "{err}");
    assert!(err.contains("test file"), "{err}");
}

#[test]
fn devices_and_directories_are_refused() {
    let err = within_seconds(|| read_bounded(Path::new("/dev/zero"), SMALL, Symlinks::Follow))
        .unwrap_err()
        .to_string();
    assert!(err.contains("a character device"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = read_bounded(dir.path(), SMALL, Symlinks::Follow)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a directory"), "{err}");
}

#[test]
fn an_oversized_sparse_file_is_refused_from_its_size_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let huge = 64 * GIB;
    File::create(&path).unwrap().set_len(huge).unwrap();
    let bound = Bound {
        what: "thing",
        limit: MIB,
    };
    let err = read_bounded(&path, bound, Symlinks::Follow)
        .unwrap_err()
        .to_string();
    // The size is only known from fstat: reading 64 GiB would not have got here.
    assert!(
        err.contains(&format!(
            "it is {huge} bytes, over the 1 MiB limit for a thing"
        )),
        "{err}"
    );
}

#[test]
fn growth_past_the_limit_is_caught_while_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grows");
    std::fs::write(&path, b"small").unwrap();
    let opened = open_bounded(&path, SMALL, Symlinks::Follow).unwrap();
    std::fs::write(&path, [b'x'; 100]).unwrap();
    let err = opened.read().unwrap_err().to_string();
    assert!(err.contains("holds more than the 16 bytes limit"), "{err}");
}

#[test]
fn symlinks_are_followed_or_refused_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, b"secret").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_eq!(
        read_bounded(&link, SMALL, Symlinks::Follow).unwrap(),
        b"secret"
    );
    let err = read_bounded(&link, SMALL, Symlinks::Refuse)
        .unwrap_err()
        .to_string();
    assert!(err.contains("symbolic link"), "{err}");
    // Followed, the target must still be a regular file.
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let to_fifo = dir.path().join("to-fifo");
    std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
    let err = within_seconds(move || read_bounded(&to_fifo, SMALL, Symlinks::Follow))
        .unwrap_err()
        .to_string();
    assert!(err.contains("a FIFO"), "{err}");
}

#[test]
fn paths_inside_a_directory_have_no_link_and_no_way_out() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("a/b")).unwrap();
    std::fs::write(root.path().join("a/b/1.json"), b"{}").unwrap();
    std::fs::write(outside.path().join("1.json"), b"{}").unwrap();
    assert!(open_inside(root.path(), "a/b/1.json", SMALL).is_ok());
    std::os::unix::fs::symlink(outside.path(), root.path().join("a/c")).unwrap();
    let err = open_inside(root.path(), "a/c/1.json", SMALL)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a/c: it is a symbolic link"), "{err}");
    for bad in ["../x", "/etc/passwd", "./a/b/1.json", "", "a/../a/b/1.json"] {
        let err = open_inside(root.path(), bad, SMALL).unwrap_err();
        assert!(matches!(err.problem, Problem::Outside), "{bad}: {err}");
    }
}
